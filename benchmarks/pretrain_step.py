"""ELECTRA pretraining-step throughput on CPU: keras-electra vs Hugging Face (PyTorch).

One step = generator forward + G's dynamic masking + Gumbel-max sampling of
the replacements + discriminator forward + both backward passes + AdamW
(weight decay 0.01, eps 1e-6, global clip norm 1.0). Measured configurations:

  tf_xla_f32      keras-electra, TF backend, XLA-compiled forward+backward, float32
  tf_noxla_f32    keras-electra, TF backend, tf.function without XLA, float32
  tf_xla_bf16     ... XLA, mixed_bfloat16
  tf_noxla_bf16   ... no XLA, mixed_bfloat16
  jax_f32         keras-electra, JAX backend (Keras' jit-compiled step), float32
  jax_bf16        ... JAX, mixed_bfloat16
  hf_eager        HF ElectraForMaskedLM + ElectraForPreTraining, PyTorch eager, float32
  hf_compile      the same step with both models wrapped in torch.compile
  hf_eager_bf16   HF eager under torch.autocast(cpu, bfloat16)

The HF step is written the way G trains (not HF's all-positions MLM): G's
masking (N = int((p + 0.005) S) slots, 85% [MASK] / 15% kept), generator
logits only at the masked slots through the tied word-embedding head, the
generator sharing the discriminator's embedding block
(`gen.electra.embeddings = disc.electra.embeddings`), Gumbel-max sampling
over the whole vocabulary, loss = MLM + 50 x RTD, torch AdamW with G's
decay exclusions and global-norm clipping.

Every (configuration, repetition) runs in its own process; configurations
alternate within each repetition; the first `--warmup` steps (compilation)
are excluded; each process reports tokens/s over its timed steps and its peak
RSS; the parent prints min/median/max over repetitions and ratios of medians
vs `hf_eager`, and writes JSON to benchmarks/results/.

Example:
    python benchmarks/pretrain_step.py --quick
    python benchmarks/pretrain_step.py --reps 5 --steps 8
    python benchmarks/pretrain_step.py --configs tf_noxla_bf16,hf_eager --reps 3
"""

import argparse
import functools
import os
import sys
import time

import bench_common as common

ALL_CONFIGS = (
    "tf_xla_f32", "tf_noxla_f32", "tf_xla_bf16", "tf_noxla_bf16", "jax_f32", "jax_bf16",
    "hf_eager", "hf_compile", "hf_eager_bf16",
)
DEFAULT_CONFIGS = (
    "tf_xla_f32", "tf_noxla_f32", "tf_xla_bf16", "tf_noxla_bf16", "jax_f32", "jax_bf16",
    "hf_eager", "hf_compile",
)
QUICK_CONFIGS = ("tf_noxla_bf16", "hf_eager")  # 4 processes: < 5 min on 2 quiet cores
BASELINE = "hf_eager"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Configurations: " + ", ".join(ALL_CONFIGS),
    )
    parser.add_argument("--configs", default=None,
                        help="comma-separated configurations (default: all but hf_eager_bf16; "
                             "--quick: " + ",".join(QUICK_CONFIGS) + ")")
    parser.add_argument("--model", default="electra_small",
                        help="architecture preset (electra_small = paper ELECTRA-Small)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-length", type=int, default=128)
    parser.add_argument("--vocab-size", type=int, default=None,
                        help="override the 30522 BERT vocabulary (smoke runs)")
    parser.add_argument("--reps", type=int, default=5, help="processes per configuration")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps (compilation)")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per process")
    parser.add_argument("--quick", action="store_true",
                        help="3 configurations, 2 reps, 1 warm-up + 3 timed steps (< 5 min)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny model and shapes, 1 rep, to check the script works")
    parser.add_argument("--output", default=None,
                        help="JSON path (default benchmarks/results/pretrain_step_<tag>.json)")
    parser.add_argument("--tag", default=None, help="name suffix of the default JSON file")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per child process")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.reps, args.warmup, args.steps = 2, 1, 3
        args.configs = args.configs or ",".join(QUICK_CONFIGS)
        args.tag = args.tag or "quick"
    if args.smoke:
        args.model, args.batch_size, args.seq_length = "electra_tiny", 2, 32
        args.vocab_size = args.vocab_size or 1000
        args.reps, args.warmup, args.steps = 1, 1, 2
        args.configs = args.configs or "tf_noxla_f32,hf_eager"
        args.tag = args.tag or "smoke"
    args.configs = (args.configs or ",".join(DEFAULT_CONFIGS)).split(",")
    unknown = [c for c in args.configs if c not in ALL_CONFIGS]
    if unknown:
        parser.error(f"unknown configuration(s) {unknown}; choose from {list(ALL_CONFIGS)}")
    return args


# ---------------------------------------------------------------- the data
def synthetic_batches(num_batches, batch_size, seq_length, vocab_size, seed=0):
    """Full-length [CLS] a [SEP] b [SEP] rows of random ids (no padding)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = num_batches * batch_size
    low = min(999, vocab_size // 2)  # skip [unused*] / special ids of the BERT vocab
    ids = rng.integers(low, vocab_size, size=(n, seq_length), dtype=np.int32)
    middle = seq_length // 2
    ids[:, 0], ids[:, middle], ids[:, -1] = 101, 102, 102
    segments = np.zeros_like(ids)
    segments[:, middle + 1:] = 1
    return {"token_ids": ids, "segment_ids": segments, "padding_mask": np.ones_like(ids)}


def model_configs(args):
    from keras_electra.models.electra_presets import ARCHITECTURE_PRESETS

    spec = ARCHITECTURE_PRESETS[args.model]
    disc, gen = dict(spec["backbone"]), dict(spec["generator"])
    if args.vocab_size:
        disc["vocabulary_size"] = gen["vocabulary_size"] = args.vocab_size
    return disc, gen, spec["pretraining"]["mask_prob"]


# ---------------------------------------------------------- keras-electra
def _importable(name):
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def run_keras(args, config):
    backend = "jax" if config.startswith("jax") else "tensorflow"
    os.environ["KERAS_BACKEND"] = backend
    import keras

    from keras_electra import ElectraPretrainer

    disc, gen, mask_prob = model_configs(args)
    dtype = "mixed_bfloat16" if config.endswith("bf16") else "float32"
    kwargs = {}
    if backend == "tensorflow":
        kwargs["xla"] = "_xla_" in config
    start = time.perf_counter()
    backbone_kwargs = {k: v for k, v in disc.items()}
    from keras_electra.models.electra_backbone import ElectraBackbone

    backbone = ElectraBackbone(**backbone_kwargs, dtype=dtype)
    pretrainer = ElectraPretrainer(backbone, generator_config=gen, mask_prob=mask_prob,
                                   seed=0, **kwargs)
    pretrainer.compile()
    build_s = time.perf_counter() - start
    total = args.warmup + args.steps
    data = synthetic_batches(total, args.batch_size, args.seq_length, disc["vocabulary_size"])

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ends = []
            self.losses = []

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(float(logs["loss"]))  # forces the step to finish
            self.ends.append(time.perf_counter())

    timer = StepTimer()
    # keras-hub's Task.fit turns arrays into a tf.data or grain dataset; with
    # neither installed (a JAX-only GPU machine) use Keras' own array adapter.
    fit = pretrainer.fit
    if not _importable("tensorflow") and not _importable("grain"):
        fit = functools.partial(keras.Model.fit, pretrainer)
    fit_start = time.perf_counter()
    fit(data, batch_size=args.batch_size, epochs=1, shuffle=False, callbacks=[timer],
        verbose=0)
    step_times = [b - a for a, b in zip([fit_start] + timer.ends[:-1], timer.ends)]
    return finish(args, config, step_times, build_s, timer.losses, {
        "keras": keras.__version__, "backend": backend, "dtype_policy": dtype,
        "xla": kwargs.get("xla", backend == "jax"), "fit": getattr(fit, "__qualname__", "partial"),
    })


# ------------------------------------------------------------- HF / torch
def _torch_masking(torch, token_ids, padding_mask, mask_prob, n, mask_id, ignore_ids, gen):
    """G `pretrain_helpers.mask` in torch (same distribution; duplicates averaged)."""
    batch_size, seq_length = token_ids.shape
    candidates = padding_mask.bool()
    for token_id in ignore_ids:
        candidates &= token_ids != token_id
    num_tokens = padding_mask.float().sum(-1)
    count = torch.clamp(torch.round(num_tokens * mask_prob).long(), max=n).clamp(min=1)
    weights = (torch.arange(n, device=count.device)[None, :] < count[:, None]).long()
    # categorical over uniform candidates, with replacement (G tf.random.categorical)
    positions = torch.multinomial(candidates.float(), n, replacement=True, generator=gen)
    weights = weights.to(positions.device)
    positions = positions * weights
    masked_lm_ids = torch.gather(token_ids, 1, positions) * weights
    replace = (torch.rand(batch_size, n, generator=gen, device=gen.device) < 0.85).long()
    fill = torch.full_like(positions, mask_id)
    masked_ids, _ = _torch_scatter_update(torch, token_ids, fill, positions * replace)
    return masked_ids, positions, masked_lm_ids, weights.float()


def _torch_scatter_update(torch, sequence, updates, positions):
    """G `scatter_update`: index 0 never written, duplicate positions averaged."""
    counts = torch.zeros_like(sequence).scatter_add_(1, positions, torch.ones_like(positions))
    summed = torch.zeros_like(sequence).scatter_add_(1, positions, updates)
    counts[:, 0] = 0
    written = counts.clamp(max=1)
    averaged = torch.div(summed, counts.clamp(min=1), rounding_mode="floor")
    return (1 - written) * sequence + written * averaged, written


def build_hf(args, torch, device="cpu"):
    from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

    disc, gen, mask_prob = model_configs(args)

    def hf_config(c):
        return ElectraConfig(
            vocab_size=c["vocabulary_size"], embedding_size=c["embedding_dim"],
            hidden_size=c["hidden_dim"], num_hidden_layers=c["num_layers"],
            num_attention_heads=c["num_heads"], intermediate_size=c["intermediate_dim"],
            max_position_embeddings=c["max_sequence_length"], type_vocab_size=2,
            hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
            layer_norm_eps=1e-12, initializer_range=0.02,
        )

    discriminator = ElectraForPreTraining(hf_config(disc)).to(device)
    generator = ElectraForMaskedLM(hf_config(gen)).to(device)
    # G shares the whole embedding block; the generator LM head is tied to it.
    generator.electra.embeddings = discriminator.electra.embeddings
    generator.generator_lm_head.weight = discriminator.electra.embeddings.word_embeddings.weight
    params, seen = [], set()
    for module in (discriminator, generator):
        for name, p in module.named_parameters():
            if id(p) not in seen:
                seen.add(id(p))
                params.append((name, p))
    no_decay = ("bias", "LayerNorm")
    groups = [
        {"params": [p for n, p in params if not any(k in n for k in no_decay)],
         "weight_decay": 0.01},
        {"params": [p for n, p in params if any(k in n for k in no_decay)],
         "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=5e-4, eps=1e-6)
    return discriminator, generator, optimizer, [p for _, p in params], mask_prob


def run_hf(args, config):
    import torch

    torch.manual_seed(0)
    device = getattr(args, "device", "cpu")
    start = time.perf_counter()
    discriminator, generator, optimizer, params, mask_prob = build_hf(args, torch, device)
    discriminator.train()
    generator.train()
    gen_encoder, gen_head, gen_lm = (
        generator.electra, generator.generator_predictions, generator.generator_lm_head
    )
    disc_model = discriminator
    if config == "hf_compile":
        gen_encoder = torch.compile(gen_encoder)
        disc_model = torch.compile(discriminator)
    autocast = config.endswith("bf16")
    build_s = time.perf_counter() - start

    vocab = generator.config.vocab_size
    n = int((mask_prob + 0.005) * args.seq_length)
    rng = torch.Generator(device=device).manual_seed(0)
    total = args.warmup + args.steps
    data = synthetic_batches(total, args.batch_size, args.seq_length, vocab)
    data = {k: torch.from_numpy(v).long().to(device) for k, v in data.items()}
    device_type = torch.device(device).type

    def step(batch):
        token_ids, segment_ids, padding_mask = (
            batch["token_ids"], batch["segment_ids"], batch["padding_mask"]
        )
        masked_ids, positions, masked_lm_ids, weights = _torch_masking(
            torch, token_ids, padding_mask, mask_prob, n, 103, (102, 101, 103, 0), rng,
        )
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=autocast):
            hidden = gen_encoder(input_ids=masked_ids, attention_mask=padding_mask,
                                 token_type_ids=segment_ids).last_hidden_state
            index = positions[:, :, None].expand(-1, -1, hidden.shape[-1])
            logits = gen_lm(gen_head(torch.gather(hidden, 1, index))).float()  # (B, N, V)
        log_probs = torch.log_softmax(logits, -1)
        nll = -log_probs.gather(-1, masked_lm_ids[:, :, None]).squeeze(-1)
        gen_loss = (weights * nll).sum() / (weights.sum() + 1e-6)
        with torch.no_grad():
            uniform = torch.rand(logits.shape, generator=rng, device=logits.device)
            gumbel = -torch.log(-torch.log(uniform + 1e-9) + 1e-9)
            sampled = torch.argmax(logits + gumbel, -1)
            original, _ = _torch_scatter_update(torch, masked_ids, masked_lm_ids, positions)
            corrupted, updated = _torch_scatter_update(torch, original, sampled, positions)
            labels = (updated * (corrupted != original).long()).float()
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=autocast):
            disc_logits = disc_model(input_ids=corrupted, attention_mask=padding_mask,
                                     token_type_ids=segment_ids).logits.float()
        mask = padding_mask.float()
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            disc_logits, labels, reduction="none")
        disc_loss = (bce * mask).sum() / (mask.sum() + 1e-6)
        loss = gen_loss + 50.0 * disc_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        return loss.item()

    step_times, losses = [], []
    for i in range(total):
        batch = {k: v[i * args.batch_size:(i + 1) * args.batch_size] for k, v in data.items()}
        t0 = time.perf_counter()
        losses.append(step(batch))
        step_times.append(time.perf_counter() - t0)
    import transformers

    return finish(args, config, step_times, build_s, losses, {
        "torch": torch.__version__, "transformers": transformers.__version__,
        "torch_threads": torch.get_num_threads(), "autocast_bf16": autocast,
        "attn_implementation": getattr(discriminator.config, "_attn_implementation", None),
    })


def finish(args, config, step_times, build_s, losses, extra):
    timed = step_times[args.warmup:]
    tokens = args.batch_size * args.seq_length
    seconds = sum(timed)
    return {
        "config": config,
        "tokens_per_s": tokens * len(timed) / seconds if seconds > 0 else None,
        "median_step_s": sorted(timed)[len(timed) // 2] if timed else None,
        "warmup_s": sum(step_times[:args.warmup]),
        "build_s": build_s,
        "step_times_s": [round(t, 4) for t in step_times],
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        **extra,
    }


# ------------------------------------------------------------------ parent
def worker_args(args, config):
    out = ["--worker", config, "--model", args.model, "--batch-size", args.batch_size,
           "--seq-length", args.seq_length, "--warmup", args.warmup, "--steps", args.steps]
    if args.vocab_size:
        out += ["--vocab-size", args.vocab_size]
    return out


def run_all(args, checkpoint=None):
    return common.run_alternating(
        __file__, args.configs, args.reps, lambda config: worker_args(args, config),
        lambda r: f"{r['tokens_per_s']:,.0f} tokens/s, peak RSS {r['peak_rss_mb']:,.0f} MB",
        timeout=args.timeout, before_rep=checkpoint,
    )


def summarize_runs(runs):
    summary = {}
    for config, results in runs.items():
        ok = [r for r in results if "error" not in r]
        summary[config] = {
            "tokens_per_s": common.summarize([r["tokens_per_s"] for r in ok]),
            "peak_rss_mb": common.summarize([r["peak_rss_mb"] for r in ok]),
            "warmup_s": common.summarize([r["warmup_s"] for r in ok]),
            "errors": [r["error"] + " " + r.get("tail", "")[-300:]
                       for r in results if "error" in r],
        }
    base = (summary.get(BASELINE) or {}).get("tokens_per_s")
    for config, s in summary.items():
        tps = s["tokens_per_s"]
        s["ratio_vs_hf_eager"] = (tps["median"] / base["median"]) if (tps and base) else None
    return summary


def print_table(summary, args):
    print(f"\nELECTRA pretraining step ({args.model}), batch {args.batch_size}, "
          f"seq {args.seq_length}; tokens/s over {args.steps} timed steps, "
          f"{args.reps} processes per config")
    print(f"{'config':15s} {'min':>9s} {'median':>9s} {'max':>9s} {'RSS MB':>8s} "
          f"{'vs hf_eager':>11s}")
    for config, s in summary.items():
        t = s["tokens_per_s"] or {}
        rss = (s["peak_rss_mb"] or {}).get("median")
        ratio = s["ratio_vs_hf_eager"]
        print(f"{config:15s} {common.fmt(t.get('min')):>9s} {common.fmt(t.get('median')):>9s} "
              f"{common.fmt(t.get('max')):>9s} {common.fmt(rss):>8s} "
              f"{(f'{ratio:.2f}x' if ratio else '-'):>11s}")
        for err in s["errors"]:
            print(f"    error: {err.strip()[:300]}")


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        runner = run_hf if args.worker.startswith("hf") else run_keras
        common.emit_result(runner(args, args.worker))
        return 0
    start = time.perf_counter()
    machine = common.machine_info()
    tag = args.tag or f"{args.model}_b{args.batch_size}_s{args.seq_length}"

    def payload_of(runs, reps_done):
        return {
            "benchmark": "pretrain_step",
            "settings": {k: v for k, v in vars(args).items() if k != "worker"},
            "reps_completed": reps_done,
            "machine": machine,
            "load_average_at_end": common.load_average(),
            "versions": common.package_versions(
                ["keras", "keras-hub", "tensorflow", "jax", "torch", "transformers"]),
            "total_wall_s": round(time.perf_counter() - start, 1),
            "summary": summarize_runs(runs),
            "runs": runs,
        }

    def checkpoint(runs, reps_done):
        common.write_json(payload_of(runs, reps_done), args.output, f"pretrain_step_{tag}.json")

    runs = run_all(args, checkpoint)
    summary = summarize_runs(runs)
    print_table(summary, args)
    payload = payload_of(runs, args.reps)
    path = common.write_json(payload, args.output, f"pretrain_step_{tag}.json")
    print(f"\nwrote {path} (total {payload['total_wall_s']} s, load average "
          f"{machine['load_average_at_start']} -> {payload['load_average_at_end']})")
    failed = [c for c, s in summary.items() if not s["tokens_per_s"]]
    return 1 if failed and len(failed) == len(summary) else 0


if __name__ == "__main__":
    sys.exit(main())
