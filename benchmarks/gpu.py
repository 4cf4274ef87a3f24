"""ELECTRA pretraining step on one GPU (JAX, no TensorFlow): speed options, HF step, profile.

One script, < 8 min on one H100/H200 (`bash benchmarks/run_gpu.sh`), that measures:

Cases (bf16 = Keras `mixed_bfloat16`):

  base_s512    ELECTRA-Base, seq 512, batch 32
  small_s512   ELECTRA-Small sizes, seq 512, batch 64 (the AWS recipe's shape)
  small_s128   ELECTRA-Small (paper), seq 128, batch 128 (G's batch)

Variants of keras-electra's step (`--variants`, default `default,rbg,attn0`):

  default     the shipped recipe: hidden and attention dropout 0.1, JAX's threefry PRNG
  rbg         the same recipe; random bits from XLA's RngBitGenerator instead of
              threefry (`keras_electra.models.electra_layers.use_jax_prng("rbg")`):
              same dropout / masking / Gumbel distributions, other streams
  attn0       attention dropout 0 (hidden dropout 0.1 kept): attention goes through
              `keras.ops.dot_product_attention` (cuDNN flash attention when Keras/JAX
              accept it). Changes G's recipe (see RESULTS.md for the CPU learning curve)
  attn0_rbg   both (not in the default set)
  attn0_xla   attn0 with Keras' flash attention disabled: JAX's XLA attention, no cuDNN
              (not in the default set; the fallback if cuDNN's kernel fails on a machine)

`--with-hf` adds HF transformers + PyTorch under torch.autocast(bfloat16) on the same GPU
(the CPU benchmark's `hf_eager_bf16` step, see pretrain_step.py; HF's own recipe, attention
dropout 0.1 through PyTorch SDPA). The first case's `default` and `attn0` runs also capture a
`jax.profiler` trace of `--profile-steps` steps and summarize the top 15 ops and kernels by
device time (parsed with `jax.profiler.ProfileData`, no TensorBoard/xprof needed; on CPU the
XLA thunks of the host plane stand in).

Every run is its own process. Up to `--parallel` processes start at once and compile (JAX
compilation, ~1 min each, is CPU work); each then waits after its first step until the parent
gives it the GPU; timed steps run one process at a time and never while any process is
compiling (XLA's autotuner runs kernels on the GPU while compiling). `--parallel 1` runs
everything strictly one after the other.

Reported per run: sequences/s and tokens/s over the timed steps (mean), the median step,
MFU = model FLOPs/s / peak (G's FLOP count, backward = forward, and `mfu_6nd` with 3 x forward;
peak from the table below), which attention path ran (counted while tracing: Keras' einsum
path, or `jax.nn.dot_product_attention` with the implementation that succeeded), the number
of RngBitGenerator draws traced, compile time and losses. Also a projection of the AWS recipe
(125k steps x 1,024 sequences of 512) to 1, 8 and 64 GPUs of the measured kind, assuming linear
scaling. Writes JSON (`results/gpu_<device>.json`) and the same tables as markdown beside it.

Example:
    bash benchmarks/run_gpu.sh                        # everything, --with-hf, < 8 min
    python benchmarks/gpu.py --cases small_s128 --variants default,rbg --steps 10
    python benchmarks/gpu.py --smoke --cases base_s512 --with-hf   # CPU check, tiny model
"""

import argparse
import glob
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import bench_common as common

# Dense bf16 (fp16 for V100) tensor-core peak, FLOP/s, by substring of the device name.
PEAK_FLOPS = (
    ("H200", 989e12), ("H100", 989e12),  # SXM; H100 PCIe is 756e12 (say so when relevant)
    ("A100", 312e12), ("V100", 125e12), ("L4", 121e12), ("A10G", 70e12),
)
CASES = {
    "base_s512": ("electra_base", 512, 32),
    "small_s512": ("electra_small", 512, 64),
    "small_s128": ("electra_small", 128, 128),
}
VARIANTS = {
    "default": {"attention_dropout": None, "prng": None},
    "rbg": {"attention_dropout": None, "prng": "rbg"},
    "attn0": {"attention_dropout": 0.0, "prng": None},
    "attn0_rbg": {"attention_dropout": 0.0, "prng": "rbg"},
    "attn0_xla": {"attention_dropout": 0.0, "prng": None, "flash": False},
}
DEFAULT_VARIANTS = ("default", "rbg", "attn0")
PROFILE_VARIANTS = ("default", "attn0")
AWS_RECIPE_SEQUENCES = 125_000 * 1024  # 1.28e8 sequences of 512 (A's ELECTRA-small++ recipe)
AWS_V100_SEQ_PER_S = AWS_RECIPE_SEQUENCES / (64 * (11 * 3600 + 40 * 60))  # 47.6 per V100
PROJECTION_GPUS = (1, 8, 64)
TOP_OPS = 15


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated of "
                        + ", ".join(CASES))
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help="comma-separated of " + ", ".join(VARIANTS))
    parser.add_argument("--batch-sizes", default=None,
                        help="override per case, e.g. small_s128=256,base_s512=16")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed steps, the first (compilation) included")
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--with-hf", action="store_true", help="also time the HF/PyTorch step")
    parser.add_argument("--dtype", default="bf16", choices=("bf16", "f32"))
    parser.add_argument("--parallel", type=int, default=None,
                        help="processes compiling at once (default 4; --smoke 2)")
    parser.add_argument("--profile-cases", default=None,
                        help="cases whose default/attn0 runs are profiled (default: the first "
                             "case); 'none' to skip")
    parser.add_argument("--profile-steps", type=int, default=3)
    parser.add_argument("--profile-dir", default=None,
                        help="where traces are written (default: a temporary dir, deleted)")
    parser.add_argument("--smoke", action="store_true",
                        help="electra_tiny, seq 32, batch 2, 1+2 steps (runs on CPU)")
    parser.add_argument("--block-tensorflow", action="store_true",
                        help="make `import tensorflow` fail in the workers (proves no TF is needed)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per process")
    parser.add_argument("--budget", type=int, default=450,
                        help="seconds for the whole run; runs that would start later are skipped")
    parser.add_argument("--output", default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--impl", default="ours", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--sync", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--profile", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.cases = args.cases.split(",")
    bad = [c for c in args.cases if c not in CASES]
    if bad:
        parser.error(f"unknown case(s) {bad}; choose from {list(CASES)}")
    args.variants = args.variants.split(",")
    bad = [v for v in args.variants if v not in VARIANTS]
    if bad or args.variant not in VARIANTS:
        parser.error(f"unknown variant(s) {bad or [args.variant]}; choose from {list(VARIANTS)}")
    args.batch_override = {}
    for item in (args.batch_sizes or "").split(","):
        if item:
            name, value = item.split("=")
            args.batch_override[name] = int(value)
    if args.profile_cases is None:
        args.profile_cases = args.cases[:1]
    elif args.profile_cases == "none":
        args.profile_cases = []
    else:
        args.profile_cases = args.profile_cases.split(",")
    if args.smoke:
        args.warmup, args.steps = 1, 2
    args.warmup = max(1, args.warmup)
    if args.parallel is None:
        args.parallel = 2 if args.smoke else 4
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


# ------------------------------------------------------------------ worker side
class GpuTurn:
    """Child side of the parent's GPU schedule (files in `--sync`; no-op without it).

    `ready()` after the first step: compiled, now waiting; blocks until the parent
    writes `<name>.go`. `done()` when the GPU work is over (the parent may start the next).
    """

    def __init__(self, sync):
        self.sync = sync
        self.waited_s = 0.0

    def ready(self):
        if not self.sync:
            return
        pathlib.Path(self.sync + ".ready").touch()
        start = time.perf_counter()
        while not os.path.exists(self.sync + ".go"):
            time.sleep(0.05)
        self.waited_s = time.perf_counter() - start

    def done(self):
        if self.sync:
            pathlib.Path(self.sync + ".done").touch()


def attention_path_spy():
    """Count, while tracing, which attention path and which PRNG the step uses.

    `einsum`: Keras' einsum path (`MultiHeadAttention._masked_softmax`);
    `dot_product_attention`: calls of `jax.nn.dot_product_attention` per
    implementation that returned (`ok`) or raised (`failed`; Keras then falls back
    from cuDNN to XLA); `rng_bit_generator`: RngBitGenerator draws (the `rbg` PRNG).
    """
    import jax
    from jax._src.lax import lax as jax_lax
    from keras.src.layers.attention import multi_head_attention as keras_mha

    counts = {"einsum": 0, "dot_product_attention": {}, "rng_bit_generator": 0}
    masked_softmax = keras_mha.MultiHeadAttention._masked_softmax
    fused = jax.nn.dot_product_attention
    rng_bit_generator = jax_lax.rng_bit_generator

    def spy_softmax(layer, *a, **k):
        counts["einsum"] += 1
        return masked_softmax(layer, *a, **k)

    def spy_fused(*a, **k):
        entry = counts["dot_product_attention"].setdefault(
            str(k.get("implementation")), {"ok": 0, "failed": 0})
        try:
            out = fused(*a, **k)
        except Exception:
            entry["failed"] += 1
            raise
        entry["ok"] += 1
        return out

    def spy_rbg(*a, **k):
        counts["rng_bit_generator"] += 1
        return rng_bit_generator(*a, **k)

    keras_mha.MultiHeadAttention._masked_softmax = spy_softmax
    jax.nn.dot_product_attention = spy_fused
    jax_lax.rng_bit_generator = spy_rbg
    return counts


def run_ours(args, turn):
    os.environ["KERAS_BACKEND"] = "jax"
    import functools

    import jax
    import keras
    import pretrain_step

    from keras_electra import ElectraPretrainer
    from keras_electra.models.electra_backbone import ElectraBackbone
    from keras_electra.models.electra_layers import use_jax_prng

    variant = VARIANTS[args.variant]
    if variant["prng"]:
        use_jax_prng(variant["prng"])
    if variant.get("flash") is False:
        keras.config.disable_flash_attention()  # read by MultiHeadAttention.__init__
    paths = attention_path_spy()
    model, seq, batch, vocab = case_settings(args, args.worker)
    step_args = argparse.Namespace(model=model, batch_size=batch, seq_length=seq,
                                   vocab_size=vocab, warmup=args.warmup, steps=args.steps)
    disc, gen, mask_prob = pretrain_step.model_configs(step_args)
    if variant["attention_dropout"] is not None:
        disc["attention_dropout"] = gen["attention_dropout"] = variant["attention_dropout"]
    dtype = "mixed_bfloat16" if args.dtype == "bf16" else "float32"
    start = time.perf_counter()
    backbone = ElectraBackbone(**disc, dtype=dtype)
    pretrainer = ElectraPretrainer(backbone, generator_config=gen, mask_prob=mask_prob, seed=0)
    pretrainer.compile()
    build_s = time.perf_counter() - start
    profile_steps = args.profile_steps if args.profile else 0
    total = args.warmup + args.steps + profile_steps
    data = pretrain_step.synthetic_batches(total, batch, seq, disc["vocabulary_size"])
    profile = {}

    class Steps(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times, self.losses = [], []
            self.last = time.perf_counter()

        def on_train_batch_begin(self, batch, logs=None):
            if profile_steps and batch == args.warmup + args.steps:
                try:
                    jax.profiler.start_trace(args.profile)
                    profile["tracing"] = True
                except Exception as error:  # no CUPTI, ...: keep the timings
                    profile["error"] = f"start_trace: {error!r}"

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(float(logs["loss"]))  # waits for the step to finish
            now = time.perf_counter()
            self.times.append(now - self.last)
            if batch == 0:
                turn.ready()  # compiled; wait for the GPU
                now = time.perf_counter()
            if profile.get("tracing") and batch == total - 1:
                jax.profiler.stop_trace()
                profile["tracing"] = False
            if batch == total - 1:
                turn.done()
            self.last = now

    steps = Steps()
    # keras-hub's Task.fit turns arrays into a tf.data or grain dataset; with
    # neither installed (a JAX-only GPU machine) use Keras' own array adapter.
    fit = pretrainer.fit
    if not pretrain_step._importable("tensorflow") and not pretrain_step._importable("grain"):
        fit = functools.partial(keras.Model.fit, pretrainer)
    fit(data, batch_size=batch, epochs=1, shuffle=False, callbacks=[steps], verbose=0)
    result = step_result(args, steps.times, steps.losses, build_s, disc, gen, model, seq, batch)
    device = jax.devices()[0]
    result.update({
        "device_name": getattr(device, "device_kind", str(device)), "backend": "jax",
        "keras": keras.__version__, "dtype_policy": dtype,
        "dropout": disc.get("dropout", 0.1),
        "attention_dropout": disc.get("attention_dropout", disc.get("dropout", 0.1)),
        "prng_impl": str(jax.config.jax_default_prng_impl),
        "flash_attention_setting": keras.config.is_flash_attention_enabled(),
        "attention_paths": paths, "turn_wait_s": round(turn.waited_s, 2),
    })
    if args.profile:
        result["profile"] = (profile if "error" in profile else
                             summarize_trace(args.profile, profile_steps))
    return result


def run_hf(args, turn):
    import pretrain_step
    import torch
    import transformers  # noqa: F401  (imported before the turn: not timed, not on the GPU)

    model, seq, batch, vocab = case_settings(args, args.worker)
    step_args = argparse.Namespace(model=model, batch_size=batch, seq_length=seq,
                                   vocab_size=vocab, warmup=args.warmup, steps=args.steps)
    step_args.device = "cuda" if torch.cuda.is_available() else "cpu"
    turn.ready()
    try:
        config = "hf_eager_bf16" if args.dtype == "bf16" else "hf_eager"
        hf = pretrain_step.run_hf(step_args, config)
    finally:
        turn.done()
    disc, gen, _ = pretrain_step.model_configs(step_args)
    result = step_result(args, hf["step_times_s"], [hf["first_loss"], hf["last_loss"]],
                         hf["build_s"], disc, gen, model, seq, batch)
    result.update({
        "device_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "backend": "torch", "torch": hf["torch"], "transformers": hf["transformers"],
        "attn_implementation": hf["attn_implementation"], "dropout": 0.1,
        "attention_dropout": 0.1, "turn_wait_s": round(turn.waited_s, 2),
    })
    return result


def step_result(args, step_times, losses, build_s, disc, gen, model, seq, batch):
    from electra_flops import TRAIN_MULTIPLIER_6ND, step_flops

    timed = step_times[args.warmup:args.warmup + args.steps]
    mean_step = sum(timed) / len(timed)
    median_step = sorted(timed)[len(timed) // 2]
    flops = step_flops(disc, gen, batch, seq)
    flops_6nd = step_flops(disc, gen, batch, seq, multiplier=TRAIN_MULTIPLIER_6ND)
    return {
        "case": args.worker, "impl": args.impl, "variant": args.variant, "model": model,
        "seq_length": seq, "batch_size": batch, "build_s": round(build_s, 2),
        "compile_s": round(step_times[0], 2), "warmup_s": round(sum(step_times[:args.warmup]), 2),
        "step_times_s": [round(t, 5) for t in step_times],
        "mean_step_s": mean_step, "median_step_s": median_step,
        "sequences_per_s": batch / mean_step, "sequences_per_s_median_step": batch / median_step,
        "tokens_per_s": batch * seq / mean_step,
        "model_flops_per_step_g": flops, "model_flops_per_step_6nd": flops_6nd,
        "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
        "tensorflow_imported": "tensorflow" in sys.modules
        and sys.modules["tensorflow"] is not None,
    }


def add_mfu(result):
    peak = peak_flops(result.get("device_name"))
    result["peak_flops"] = peak
    result["mfu"] = result["model_flops_per_step_g"] / result["mean_step_s"] / peak if peak else None
    result["mfu_6nd"] = (result["model_flops_per_step_6nd"] / result["mean_step_s"] / peak
                         if peak else None)
    return result


# ------------------------------------------------------------------ profile summary
_GROUPS = (  # heuristic, on op / kernel names and HLO text (first match wins)
    ("attention: cuDNN fused (fmha/flash)", r"fmha|flash|sdpa|cudnn"),
    ("random bits (threefry / rng)", r"threefry|rng|philox|random"),
    ("matmul (gemm / dot / cuBLAS)", r"gemm|dot|cublas|matmul|xmma|cutlass"),
    ("reduce / softmax / layer norm", r"reduce|softmax|norm"),
    ("copy / transpose / memcpy", r"copy|transpose|memcpy|memset"),
    ("other fusion (element-wise)", r"fusion|loop|input_"),
)


def _group(text):
    text = text.lower()
    for name, pattern in _GROUPS:
        if re.search(pattern, text):
            return name
    return "other"


def _aggregate(events, key, detail):
    table = {}
    for event in events:
        name = key(event)
        entry = table.setdefault(name, {"name": name, "total_ns": 0.0, "count": 0,
                                        "detail": detail(event)})
        entry["total_ns"] += event.duration_ns
        entry["count"] += 1
    return sorted(table.values(), key=lambda e: -e["total_ns"])


def _top(entries, steps, total_ns, top=TOP_OPS):
    return [{"name": e["name"][:120], "ms_per_step": e["total_ns"] / 1e6 / steps,
             "percent": 100.0 * e["total_ns"] / total_ns if total_ns else None,
             "calls_per_step": e["count"] / steps, "group": _group(e["name"] + " " + e["detail"]),
             "detail": e["detail"][:160]} for e in entries[:top]]


def summarize_trace(trace_dir, steps, top=TOP_OPS):
    """Top ops / kernels by device time from the newest `*.xplane.pb` under `trace_dir`."""
    from jax.profiler import ProfileData

    paths = sorted(glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True),
                   key=os.path.getmtime)
    if not paths:
        return {"error": f"no *.xplane.pb under {trace_dir}"}
    summary = summarize_profile(ProfileData.from_file(paths[-1]), steps, top)
    summary.update({"trace_file": paths[-1], "trace_bytes": os.path.getsize(paths[-1])})
    return summary


def summarize_profile(data, steps, top=TOP_OPS):
    """Per-step device time of the top ops and kernels of a `jax.profiler.ProfileData`.

    GPU: the first `/device:` plane; ops from its "XLA Ops" line when present (else the
    kernels' `hlo_op` stat), kernels from its "Stream" lines. CPU (smoke runs): no device
    plane, so the host plane's XLA thunks (events with an `hlo_op` stat) stand in; there
    nested thunks (a `while` and its body) are counted in both.
    """
    def stats(event):
        try:
            return {k: v for k, v in event.stats}
        except Exception:
            return {}

    def detail(event):
        s = stats(event)
        return str(s.get("hlo_category") or s.get("long_name") or s.get("tf_op")
                   or s.get("hlo_op") or "")

    planes = list(data.planes)
    devices = [p for p in planes if p.name.startswith("/device:")]
    summary = {"profiled_steps": steps}
    if devices:
        plane = devices[0]
        lines = list(plane.lines)
        by_name = {line.name: line for line in lines}
        streams = [e for line in lines if line.name.startswith("Stream") for e in line.events]
        if "XLA Ops" in by_name:
            op_events, op_key = list(by_name["XLA Ops"].events), (lambda e: e.name)
        else:
            op_events = [e for e in streams if "hlo_op" in stats(e)]
            op_key = (lambda e: str(stats(e)["hlo_op"]))
        kernel_total = sum(e.duration_ns for e in streams)
        op_total = sum(e.duration_ns for e in op_events)
        summary.update({
            "source": plane.name, "lines": [line.name for line in lines][:20],
            "device_ms_per_step": kernel_total / 1e6 / steps,
            "top_ops": _top(_aggregate(op_events, op_key, detail), steps, op_total, top),
            "top_kernels": _top(_aggregate(streams, lambda e: e.name, detail), steps,
                                kernel_total, top),
        })
    else:
        op_events = [e for p in planes if p.name.startswith("/host:CPU") for line in p.lines
                     for e in line.events if "hlo_op" in stats(e)]
        total = sum(e.duration_ns for e in op_events)
        summary.update({
            "source": "host plane (no device plane: CPU run; XLA thunks by hlo_op)",
            "device_ms_per_step": total / 1e6 / steps,
            "top_ops": _top(_aggregate(op_events, lambda e: str(stats(e)["hlo_op"]), detail),
                            steps, total, top),
            "top_kernels": [],
        })
    groups = _aggregate(op_events, lambda e: _group(e.name + " " + detail(e)), lambda e: "")
    summary["ms_per_step_by_group"] = {g["name"]: g["total_ns"] / 1e6 / steps for g in groups}
    return summary


# ------------------------------------------------------------------ parent side
def job_name(job):
    return f"{job['case']}.{job['impl']}.{job['variant']}"


def build_jobs(args):
    jobs = []
    for case in args.cases:
        for variant in args.variants:
            jobs.append({"case": case, "impl": "ours", "variant": variant,
                         "profile": case in args.profile_cases
                         and variant in PROFILE_VARIANTS})
        if args.with_hf:
            jobs.append({"case": case, "impl": "hf", "variant": "default", "profile": False})
    return jobs


def child_args(args, job, sync, profile_dir):
    out = ["--worker", job["case"], "--impl", job["impl"], "--variant", job["variant"],
           "--warmup", args.warmup, "--steps", args.steps, "--dtype", args.dtype,
           "--sync", sync, "--profile-steps", args.profile_steps]
    if job["profile"]:
        out += ["--profile", os.path.join(profile_dir, job_name(job))]
    if args.smoke:
        out.append("--smoke")
    if args.block_tensorflow:
        out.append("--block-tensorflow")
    if args.batch_sizes:
        out += ["--batch-sizes", args.batch_sizes]
    return [str(a) for a in out]


def run_schedule(args, jobs, workdir, profile_dir):
    """Waves of `--parallel` processes: all compile at once, then the GPU turns one by one.

    A turn (timed + profiled steps) starts only when no process is compiling, and no
    process is started while a turn is pending, so timed steps never share the GPU.
    """
    started = time.perf_counter()
    deadline = started + args.budget
    env = {"KERAS_BACKEND": "jax"}
    if args.parallel > 1:
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"  # several processes share the GPU
    else:
        env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = "0.85"
    pending, results, wave = list(jobs), {}, 0
    min_left = 20 if args.smoke else 60
    while pending:
        left = deadline - time.perf_counter()
        if left < min_left:
            for job in pending:
                results[job_name(job)] = {**job, "error": f"skipped: --budget {args.budget} s spent"}
                print(f"{job_name(job):32s} skipped (--budget {args.budget} s spent)", flush=True)
            break
        wave += 1
        batch, pending = pending[:args.parallel], pending[args.parallel:]
        running = []
        for job in batch:
            sync = os.path.join(workdir, job_name(job))
            log = open(sync + ".log", "w+")
            cmd = [sys.executable, os.path.abspath(__file__)] + child_args(args, job, sync,
                                                                          profile_dir)
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                    env=common.child_env(env), cwd=str(common.PROJECT_ROOT))
            running.append({"job": job, "sync": sync, "proc": proc, "log": log,
                            "start": time.perf_counter(),
                            "limit": min(time.perf_counter() + args.timeout, deadline)})
        print(f"wave {wave}: {', '.join(job_name(r['job']) for r in running)} "
              f"({deadline - time.perf_counter():.0f} s of budget left)", flush=True)

        def reap(item, reason=None):
            if reason and item["proc"].poll() is None:
                item["proc"].kill()
            item["proc"].wait()
            item["log"].seek(0)
            text = item["log"].read()
            item["log"].close()
            result = None
            for line in text.splitlines():
                if line.startswith(common.RESULT_PREFIX):
                    result = json.loads(line[len(common.RESULT_PREFIX):])
            if result is None:
                result = {"error": reason or f"exited rc={item['proc'].returncode} without "
                          "a result", "tail": text[-2000:]}
            result.update({k: v for k, v in item["job"].items() if k != "profile"})
            result["process_wall_s"] = round(time.perf_counter() - item["start"], 1)
            result["wave"] = wave
            results[job_name(item["job"])] = result
            report(result)

        # compile phase: wait until every process is ready (or gone)
        waiting = list(running)
        while waiting:
            for item in list(waiting):
                if os.path.exists(item["sync"] + ".ready"):
                    waiting.remove(item)
                elif item["proc"].poll() is not None:
                    waiting.remove(item)
                    running.remove(item)
                    reap(item)
                elif time.perf_counter() > item["limit"]:
                    waiting.remove(item)
                    running.remove(item)
                    reap(item, f"timed out compiling after {args.timeout} s or --budget")
            time.sleep(0.1)
        # GPU turns, one process at a time
        for item in running:
            pathlib.Path(item["sync"] + ".go").touch()
            while not os.path.exists(item["sync"] + ".done") and item["proc"].poll() is None:
                if time.perf_counter() > item["limit"]:
                    break
                time.sleep(0.05)
            if os.path.exists(item["sync"] + ".done") or item["proc"].poll() is not None:
                item["turn_over"] = True
            else:
                reap(item, "timed out in its GPU turn")
                item["reaped"] = True
        for item in running:
            if item.get("reaped"):
                continue
            while item["proc"].poll() is None and time.perf_counter() < item["limit"]:
                time.sleep(0.1)
            reap(item, None if item["proc"].poll() is not None else "timed out after its turn")
    return [results[job_name(job)] for job in jobs if job_name(job) in results]


def report(result):
    name = f"{result['case']:11s} {result['impl']:4s} {result['variant']:9s}"
    if "error" in result:
        print(f"{name} ERROR {result['error']}\n{result.get('tail', '')[-1500:]}", flush=True)
        return
    add_mfu(result)
    mfu = f"{100 * result['mfu']:.1f}%" if result["mfu"] else "-"
    print(f"{name} {result['device_name']}: {result['sequences_per_s']:,.1f} seq/s "
          f"(median step {result['sequences_per_s_median_step']:,.1f}), "
          f"{result['tokens_per_s']:,.0f} tokens/s, MFU {mfu}, "
          f"attention {attention_label(result)}, compile {result['compile_s']:.0f} s", flush=True)


def attention_label(result):
    if result["impl"] == "hf":
        return f"torch {result.get('attn_implementation')}"
    paths = result.get("attention_paths") or {}
    parts = []
    if paths.get("einsum"):
        parts.append("einsum")
    for impl, n in sorted((paths.get("dot_product_attention") or {}).items()):
        if n["ok"]:
            parts.append(f"fused:{impl}")
        if n["failed"]:
            parts.append(f"({impl} refused)")
    if paths.get("rng_bit_generator"):
        parts.append("rbg")
    return "+".join(parts) or "-"


def projections(results, smoke):
    rows = []
    for r in results:
        if "error" in r or CASES[r["case"]][1] != 512:
            continue
        rows.append({"case": r["case"], "impl": r["impl"], "variant": r["variant"],
                     "device_name": r["device_name"], "sequences_per_s": r["sequences_per_s"],
                     "hours": {str(n): AWS_RECIPE_SEQUENCES / (n * r["sequences_per_s"]) / 3600
                               for n in PROJECTION_GPUS},
                     "smoke": smoke})
    return rows


def markdown(payload):
    results, smoke = payload["results"], payload["settings"]["smoke"]
    out = []
    if smoke:
        out.append("**Smoke run (electra_tiny, seq 32, batch 2, CPU): numbers mean nothing.**\n")
    out += ["| case | impl | variant | batch | seq/s (mean) | seq/s (median step) | tokens/s | "
            "vs default | MFU (G; 6ND) | attention path | compile s |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    base = {r["case"]: r["sequences_per_s"] for r in results
            if "error" not in r and r["impl"] == "ours" and r["variant"] == "default"}
    for r in results:
        if "error" in r:
            out.append(f"| {r['case']} | {r['impl']} | {r['variant']} | - | "
                       f"{r['error'][:60]} | - | - | - | - | - | - |")
            continue
        ratio = (f"{r['sequences_per_s'] / base[r['case']]:.2f}x" if r["case"] in base else "-")
        mfu = (f"{100 * r['mfu']:.1f} %; {100 * r['mfu_6nd']:.1f} %" if r.get("mfu") else "-")
        out.append(f"| {r['case']} | {r['impl']} | {r['variant']} | {r['batch_size']} | "
                   f"{r['sequences_per_s']:,.1f} | {r['sequences_per_s_median_step']:,.1f} | "
                   f"{r['tokens_per_s']:,.0f} | {ratio} | {mfu} | {attention_label(r)} | "
                   f"{r['compile_s']:.0f} |")
    rows = payload["projection"]
    if rows:
        out += ["", f"AWS recipe ({AWS_RECIPE_SEQUENCES:.3g} sequences of 512) on N GPUs of the "
                "measured kind, hours, **assuming linear scaling** (efficiency 1.0, not "
                f"measured). Reference: A's 64 V100s, {AWS_V100_SEQ_PER_S:.1f} seq/s per GPU, "
                "11.7 h.", "",
                "| case | impl | variant | device | seq/s per GPU | "
                + " | ".join(f"{n} GPU{'s' if n > 1 else ''}" for n in PROJECTION_GPUS) + " |",
                "|---|---|---|---|---|" + "---|" * len(PROJECTION_GPUS)]
        for p in rows:
            out.append(f"| {p['case']} | {p['impl']} | {p['variant']} | {p['device_name']} | "
                       f"{p['sequences_per_s']:,.1f} | "
                       + " | ".join(f"{p['hours'][str(n)]:,.2f}" for n in PROJECTION_GPUS) + " |")
    for r in results:
        prof = r.get("profile")
        if not prof:
            continue
        out += ["", f"Profile: {r['case']} {r['variant']} ({prof.get('source', '-')}; "
                f"{prof.get('profiled_steps', '-')} steps)"]
        if "error" in prof:
            out.append(f"error: {prof['error']}")
            continue
        out.append(f"device time per step {prof['device_ms_per_step']:.2f} ms "
                   f"(step {1e3 * r['mean_step_s']:.2f} ms); by group (heuristic): "
                   + ", ".join(f"{k} {v:.2f} ms" for k, v in prof["ms_per_step_by_group"].items()))
        for title, key in (("op", "top_ops"), ("kernel", "top_kernels")):
            if not prof.get(key):
                continue
            out += ["", f"| top {title} | ms/step | % | calls/step | group |",
                    "|---|---|---|---|---|"]
            for e in prof[key]:
                name = e["name"].replace("|", "/")
                pct = f"{e['percent']:.1f}" if e["percent"] is not None else "-"
                out.append(f"| `{name}` | {e['ms_per_step']:.3f} | {pct} | "
                           f"{e['calls_per_step']:.1f} | {e['group']} |")
    return "\n".join(out) + "\n"


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        if args.block_tensorflow:
            sys.modules["tensorflow"] = None  # any `import tensorflow` now raises ImportError
        turn = GpuTurn(args.sync)
        result = (run_hf if args.impl == "hf" else run_ours)(args, turn)
        common.emit_result(add_mfu(result))
        return 0
    started = time.perf_counter()
    jobs = build_jobs(args)
    with tempfile.TemporaryDirectory(prefix="electra_gpu_") as workdir:
        profile_dir = args.profile_dir or os.path.join(workdir, "profiles")
        results = run_schedule(args, jobs, workdir, profile_dir)
    ok = [r for r in results if "error" not in r]
    default_ours = {r["case"]: r for r in ok if r["impl"] == "ours" and r["variant"] == "default"}
    payload = {
        "benchmark": "gpu_pretrain_step",
        "settings": {k: v for k, v in vars(args).items()
                     if k not in ("worker", "impl", "variant", "sync", "profile")},
        "machine": common.machine_info(),
        "versions": common.package_versions(["keras", "keras-hub", "jax", "jaxlib", "torch",
                                             "transformers", "tensorflow"]),
        "aws_reference_v100_seq_per_s": AWS_V100_SEQ_PER_S,
        "aws_recipe_sequences": AWS_RECIPE_SEQUENCES,
        "projection_assumption": "linear scaling (efficiency 1.0) from one measured GPU",
        "projection_hours_by_gpus": {
            case: {str(n): AWS_RECIPE_SEQUENCES / (n * r["sequences_per_s"]) / 3600
                   for n in PROJECTION_GPUS}
            for case, r in default_ours.items() if CASES[case][1] == 512},
        "projection": projections(results, args.smoke),
        "total_wall_s": round(time.perf_counter() - started, 1),
        "results": results,
    }
    name = "gpu_smoke.json" if args.smoke else "gpu_%s.json" % (
        (ok[0]["device_name"] if ok else "unknown").replace(" ", "_").replace("/", "_"))
    path = common.write_json(payload, args.output, name)
    table = markdown(payload)
    path.with_suffix(".md").write_text(table, encoding="utf-8")
    print("\n" + table)
    print(f"wrote {path} and {path.with_suffix('.md')} (total {payload['total_wall_s']} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
