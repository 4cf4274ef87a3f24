"""ELECTRA pretraining step on one GPU (JAX backend, no TensorFlow): seq/s, tokens/s, MFU.

Cases (each its own process, bf16 = Keras `mixed_bfloat16`):

  small_s128   ELECTRA-Small (paper), seq 128, batch 128 (G's batch)
  small_s512   ELECTRA-Small sizes, seq 512, batch 64
  base_s512    ELECTRA-Base, seq 512, batch 32

Implementations: `ours` (keras-electra `ElectraPretrainer.fit`, KERAS_BACKEND=jax,
Keras' jit-compiled train step) and, with `--with-hf`, the same step in HF
transformers + PyTorch under torch.autocast(bfloat16) (the CPU benchmark's
`hf_eager_bf16` step, see pretrain_step.py).

MFU = model FLOPs per second / peak. Model FLOPs per step are G's
`flops_computation.py` counting (benchmarks/electra_flops.py; backward = forward,
so it is 2 x forward; `mfu_6nd` uses 3 x forward). Peak: dense bf16 tensor
throughput of the device from the table below (matched on the device name).

Runs on a machine with JAX and PyTorch but without TensorFlow: keras-electra's
model code does not import TensorFlow on the JAX backend (checked by
tests/test_benchmarks_smoke.py with `tensorflow` blocked). Whole run < 8 min
(compilation included) on an H100: 3 cases x (~1 min compile + 3 warm-up + 20 timed steps).

Example:
    bash benchmarks/run_gpu.sh                      # all cases, writes results/gpu_<device>.json
    python benchmarks/gpu.py --cases small_s128 --steps 10 --with-hf
    python benchmarks/gpu.py --smoke --block-tensorflow   # CPU check, tiny model
"""

import argparse
import os
import sys
import time

import bench_common as common

# Dense bf16 (fp16 for V100) tensor-core peak, FLOP/s, by substring of the device name.
PEAK_FLOPS = (
    ("H200", 989e12), ("H100", 989e12),  # SXM; H100 PCIe is 756e12 (say so when relevant)
    ("A100", 312e12), ("V100", 125e12), ("L4", 121e12), ("A10G", 70e12),
)
CASES = {
    "small_s128": ("electra_small", 128, 128),
    "small_s512": ("electra_small", 512, 64),
    "base_s512": ("electra_base", 512, 32),
}
AWS_RECIPE_SEQUENCES = 125_000 * 1024  # 1.28e8 sequences of 512 (A's ELECTRA-small++ recipe)
AWS_V100_SEQ_PER_S = AWS_RECIPE_SEQUENCES / (64 * (11 * 3600 + 40 * 60))  # 47.6 per V100


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated of "
                        + ", ".join(CASES))
    parser.add_argument("--batch-sizes", default=None,
                        help="override per case, e.g. small_s128=256,base_s512=16")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--with-hf", action="store_true", help="also time the HF/PyTorch step")
    parser.add_argument("--dtype", default="bf16", choices=("bf16", "f32"))
    parser.add_argument("--smoke", action="store_true",
                        help="electra_tiny, seq 32, batch 2, 1+2 steps (runs on CPU)")
    parser.add_argument("--block-tensorflow", action="store_true",
                        help="make `import tensorflow` fail in the workers (proves no TF is needed)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per case process")
    parser.add_argument("--budget", type=int, default=450,
                        help="seconds for the whole run; later cases get what is left")
    parser.add_argument("--output", default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--impl", default="ours", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.cases = args.cases.split(",")
    bad = [c for c in args.cases if c not in CASES]
    if bad:
        parser.error(f"unknown case(s) {bad}; choose from {list(CASES)}")
    args.batch_override = {}
    for item in (args.batch_sizes or "").split(","):
        if item:
            name, value = item.split("=")
            args.batch_override[name] = int(value)
    if args.smoke:
        args.warmup, args.steps = 1, 2
    return args


def peak_flops(device_name):
    for key, value in PEAK_FLOPS:
        if key.lower() in (device_name or "").lower():
            return value
    return None


def case_settings(args, case):
    model, seq, batch = CASES[case]
    batch = args.batch_override.get(case, batch)
    if args.smoke:
        return "electra_tiny", 32, 2, 1000
    return model, seq, batch, None


def run_worker(args):
    if args.block_tensorflow:
        sys.modules["tensorflow"] = None  # any `import tensorflow` now raises ImportError
    os.environ["KERAS_BACKEND"] = "jax"
    import pretrain_step
    from electra_flops import TRAIN_MULTIPLIER_6ND, step_flops

    model, seq, batch, vocab = case_settings(args, args.worker)
    step_args = argparse.Namespace(
        model=model, batch_size=batch, seq_length=seq, vocab_size=vocab,
        warmup=args.warmup, steps=args.steps,
    )
    if args.impl == "hf":
        import torch

        step_args.device = "cuda" if torch.cuda.is_available() else "cpu"
        config = "hf_eager_bf16" if args.dtype == "bf16" else "hf_eager"
        result = pretrain_step.run_hf(step_args, config)
        device_name = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
                       else "cpu")
    else:
        import jax

        result = pretrain_step.run_keras(step_args, f"jax_{args.dtype}")
        device = jax.devices()[0]
        device_name = getattr(device, "device_kind", str(device))
    disc, gen, _ = pretrain_step.model_configs(step_args)
    flops = step_flops(disc, gen, batch, seq)
    flops_6nd = step_flops(disc, gen, batch, seq, multiplier=TRAIN_MULTIPLIER_6ND)
    step_s = result["median_step_s"]
    timed = result["step_times_s"][args.warmup:]
    mean_step = sum(timed) / len(timed)
    peak = peak_flops(device_name)
    result.update({
        "case": args.worker, "impl": args.impl, "model": model, "seq_length": seq,
        "batch_size": batch, "device_name": device_name,
        "sequences_per_s": batch / mean_step, "tokens_per_s": batch * seq / mean_step,
        "median_step_s": step_s, "model_flops_per_step_g": flops,
        "model_flops_per_step_6nd": flops_6nd, "peak_flops": peak,
        "mfu": (flops / mean_step / peak) if peak else None,
        "mfu_6nd": (flops_6nd / mean_step / peak) if peak else None,
        "tensorflow_imported": "tensorflow" in sys.modules
        and sys.modules["tensorflow"] is not None,
    })
    return result


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        common.emit_result(run_worker(args))
        return 0
    started = time.perf_counter()
    impls = ["ours"] + (["hf"] if args.with_hf else [])
    results = []
    env = {"KERAS_BACKEND": "jax", "XLA_PYTHON_CLIENT_MEM_FRACTION": "0.85"}
    for case in args.cases:
        for impl in impls:
            child = ["--worker", case, "--impl", impl, "--warmup", args.warmup,
                     "--steps", args.steps, "--dtype", args.dtype]
            if args.smoke:
                child.append("--smoke")
            if args.block_tensorflow:
                child.append("--block-tensorflow")
            if args.batch_sizes:
                child += ["--batch-sizes", args.batch_sizes]
            left = args.budget - (time.perf_counter() - started)
            if left < 30:
                results.append({"case": case, "impl": impl, "error": "skipped: --budget spent"})
                print(f"{case:11s} {impl:5s} skipped (--budget {args.budget} s spent)")
                continue
            result = common.run_child(__file__, child, env=env,
                                      timeout=int(min(args.timeout, left)))
            result.setdefault("case", case)
            result.setdefault("impl", impl)
            results.append(result)
            if "error" in result:
                print(f"{case:11s} {impl:5s} ERROR {result['error']}\n{result.get('tail', '')}",
                      flush=True)
            else:
                mfu = f"{100 * result['mfu']:.1f}%" if result["mfu"] else "-"
                print(f"{case:11s} {impl:5s} {result['device_name']}: "
                      f"{result['sequences_per_s']:,.1f} seq/s, "
                      f"{result['tokens_per_s']:,.0f} tokens/s, MFU {mfu} "
                      f"(compile+warm-up {result['warmup_s']:.0f} s)", flush=True)
    ok = [r for r in results if "error" not in r]
    projection = {}
    for r in ok:
        if r["impl"] == "ours" and r["seq_length"] == 512:
            # Hours for A's recipe on N GPUs assuming linear scaling: 1.28e8 / (N * seq/s).
            projection[r["case"]] = {
                str(n): AWS_RECIPE_SEQUENCES / (n * r["sequences_per_s"]) / 3600
                for n in (1, 8, 64)
            }
    payload = {
        "benchmark": "gpu_pretrain_step",
        "settings": {k: v for k, v in vars(args).items() if k != "worker"},
        "machine": common.machine_info(),
        "versions": common.package_versions(["keras", "keras-hub", "jax", "jaxlib", "torch",
                                             "transformers", "tensorflow"]),
        "aws_reference_v100_seq_per_s": AWS_V100_SEQ_PER_S,
        "aws_recipe_sequences": AWS_RECIPE_SEQUENCES,
        "projection_hours_by_gpus": projection,
        "total_wall_s": round(time.perf_counter() - started, 1),
        "results": results,
    }
    name = "gpu_smoke.json" if args.smoke else "gpu_%s.json" % (
        (ok[0]["device_name"] if ok else "unknown").replace(" ", "_").replace("/", "_"))
    path = common.write_json(payload, args.output, name)
    print(f"wrote {path} (total {payload['total_wall_s']} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
