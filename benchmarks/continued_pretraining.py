"""Continued pretraining (`pretrain --init_from`, issue 27) vs from scratch, on the demo's corpus.

1. The demo's data stages (Python's documentation -> `build-vocab` -> `prepare`), as
   `benchmarks/demo_sweep.py` runs them.
2. A brief pretraining of `electra_tiny` from scratch (`--warm_steps` updates, seed
   `--warm_seed`, learning rate `--warm_learning_rate`): its exported discriminator and
   generator presets are the "released weights": backbones with their RTD / MLM heads beside
   them (`electra_heads.npz`, as `keras-electra convert` writes for HF / TF1 sources), a
   complete pair like an HF pair or a TF1 checkpoint. A copy without the heads is the
   backbones-only source (as keras-hub presets).
3. With the same flags, seed `--seed` and the same number of updates (`--steps`,
   `--learning_rate`): a run from scratch, a run `--init_from` the complete pair ("heads"),
   and one from the backbones alone ("fresh heads", as from keras-hub presets). The brief run
   has its own seed (default `--seed` + 1): a run's batches and masking noise are a function
   of (seed, update), so with one seed the continued runs would replay the brief run's
   batches with the very same masks, which no released model's user does.
4. One uninterrupted run from scratch of `--warm_steps` + `--steps` updates (the brief run's
   learning rate, seed `--seed`), validated every `--steps`: the same total updates as brief +
   continued, to tell what continuing costs or gains against never stopping. With a
   `--learning_rate` other than the brief run's, also the run from scratch at the brief run's
   learning rate (the better baseline here: a low rate keeps the generator weak, which
   flatters the discriminator's numbers on its own fakes).
   Each run validates at its end on the same validation batches: total / generator /
   discriminator loss, disc AUC, the cue-free AUC and its context-free baseline
   (`--cue_free_batches`, `keras_electra.evaluation.rtd_cues`); then every run's discriminator
   is scored on every run's fakes (`cross_evaluation`). `--reuse` reads a finished run's
   numbers instead of running it again (a run's directory is named by its settings).

One JSON line goes to stdout and `results/continued_pretraining.jsonl`, and the markdown tables
(RESULTS.md section 7) to stdout.

Example (2 cores: ~3 min per 150 updates of electra_tiny, startup included):
    python benchmarks/continued_pretraining.py                  # 150 + 150 vs 150 and 300 updates
    python benchmarks/continued_pretraining.py --learning_rate 1e-4 --reuse   # gentler restart
    python benchmarks/continued_pretraining.py --steps 20 --warm_steps 20   # a smoke run
"""

import argparse
import json
import os
import pathlib
import platform
import shutil
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

KEYS = ("val_loss", "val_gen_loss", "val_disc_loss", "val_disc_auc", "val_cue_free_auc",
        "val_context_free_auc", "val_gen_accuracy")
END_LR_FRACTION = 0.03  # --end_learning_rate over the peak: 3e-5 at 1e-3, the flag's default


def plan(args):
    """The runs, in order: {kind: {"name", "steps", "learning_rate", "seed", "validate_every"}}.
    A run's directory is its name, which holds every setting of the run (and of the brief run
    it continues), so `--reuse` never reads a run made with other settings."""
    def spec(kind, steps, lr, seed, validate_every=None, after=""):
        name = f"{kind}-{steps}-lr{lr:g}-seed{seed}" + (f"-after-{after}" if after else "")
        return {"name": name, "steps": steps, "learning_rate": lr, "seed": seed,
                "validate_every": validate_every or steps}

    warm_seed = args.seed + 1 if args.warm_seed is None else args.warm_seed
    warm = spec("warm", args.warm_steps, args.warm_learning_rate, warm_seed)
    runs = {"warm": warm,
            "scratch": spec("scratch", args.steps, args.learning_rate, args.seed)}
    for kind in ("continued", "continued_fresh_heads"):
        runs[kind] = spec(kind, args.steps, args.learning_rate, args.seed, after=warm["name"])
    runs["scratch_long"] = spec("scratch_long", args.warm_steps + args.steps,
                                args.warm_learning_rate, args.seed, validate_every=args.steps)
    if args.learning_rate != args.warm_learning_rate:  # the baseline a gentler restart must beat
        runs["scratch_warm_lr"] = spec("scratch", args.steps, args.warm_learning_rate, args.seed)
    return runs


def _pretrain(run, work, vocab, shards, args, extra=()):
    """Runs (or, with --reuse, reads) one `keras-electra pretrain`: (its validations, seconds,
    its exported (discriminator, generator) presets)."""
    from demo_sweep import _run

    from keras_electra.demo.settings import DemoSettings

    s = DemoSettings()
    name, steps, lr = run["name"], run["steps"], run["learning_rate"]
    run_dir = work / "runs" / name
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    argv = ["pretrain", "--train_dir", str(shards / "train"), "--val_dir", str(shards / "val"),
            "--vocab_file", str(vocab), "--per_gpu_batch_size", str(s.pretrain_batch),
            "--max_seq_length", str(s.max_seq_len), "--learning_rate", str(lr),
            "--end_learning_rate", f"{lr * END_LR_FRACTION:g}",
            "--warmup_steps", str(max(1, steps // 10)), "--total_steps", str(steps),
            "--checkpoint_frequency", "0", "--validation_frequency", str(run["validate_every"]),
            "--validation_steps", str(s.validation_batches),
            "--cue_free_batches", str(args.cue_free_batches), "--log_frequency", "10",
            "--log_dir", str(run_dir / "logs"), "--checkpoint_dir", str(run_dir / "ckpt"),
            "--export_dir", str(run_dir / "presets"), "--run_name", name,
            "--seed", str(run["seed"]), "--progress", "false", *extra]
    metrics = run_dir / "logs" / name / "metrics.jsonl"
    if args.reuse and metrics.exists() and (run_dir / "seconds.txt").exists():
        seconds = float((run_dir / "seconds.txt").read_text())
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        start = time.perf_counter()
        _run(argv, run_dir.parent / f"{name}.log")
        seconds = time.perf_counter() - start
        (run_dir / "seconds.txt").write_text(f"{seconds:.1f}")
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    validations = [{k: r.get(k) for k in ("step", *KEYS)}
                   for r in records if r["split"] == "validation"]
    presets = run_dir / "presets"
    return (validations, round(seconds, 1),
            (str(presets / f"{name}-step{steps}-discriminator"),
             str(presets / f"{name}-step{steps}-generator")))


def without_heads(work, warm_name, presets):
    """Copies of the brief run's presets without the RTD / MLM heads its export saved beside
    them (`electra_heads.npz`): backbones only, as keras-hub presets are. Refuses presets that
    hold no heads (the "pair" run would then start with fresh heads too)."""
    from keras_electra.models.electra_preset_heads import HEADS_FILE

    out = []
    for preset, kind in zip(presets, ("discriminator", "generator")):
        if not (pathlib.Path(preset) / HEADS_FILE).is_file():
            raise SystemExit(f"{preset}: no {HEADS_FILE}; the brief run's export must save its "
                             f"{kind} head for the pair run (keras-electra pretrain exports).")
        copy = work / "runs" / f"{warm_name}_backbones" / kind
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(preset, copy, ignore=shutil.ignore_patterns(HEADS_FILE))
        out.append(str(copy))
    return out


def _restore(work, name, vocab):
    """The final checkpoint of run `name`, built and loaded as the command built it."""
    from keras_electra.models.electra_tokenizer import ElectraTokenizer
    from keras_electra.training import checkpointing
    from keras_electra.training.config import PretrainConfig
    from keras_electra.training.pretrain import build_pretrainer, make_optimizer

    manager = checkpointing.CheckpointManager(str(work / "runs" / name / "ckpt"), 1, 0)
    visible = manager.visible_checkpoints()
    path = visible[max(visible)]
    state = checkpointing.CheckpointManager.read_state(path)
    config = PretrainConfig.from_dict(state["config"])
    model = build_pretrainer(config, ElectraTokenizer(vocabulary=str(vocab)),
                             state.get("architecture"))
    model.compile(optimizer=make_optimizer(config))
    checkpointing.build_optimizer_for(model)
    checkpointing.load_checkpoint(model, path)
    return model


def cross_evaluation(work, vocab, shards, runs, batches=8):
    """Each run's discriminator on each run's fakes (the same corrupted validation batches),
    `runs` {label: run name}: {generator's label: {discriminator's label: {"disc_loss", "auc",
    "cue_free_auc"}}}. A stronger
    generator makes the replaced-token task harder, so discriminators compare fairly only on
    the same fakes."""
    import numpy as np
    from keras import ops

    from keras_electra.data.pretraining_dataset import pretraining_dataset
    from keras_electra.evaluation.rtd_cues import cue_free_mask, exact_auc

    s = __import__("keras_electra.demo.settings", fromlist=["DemoSettings"]).DemoSettings()
    data = list(pretraining_dataset(str(shards / "val"), s.pretrain_batch, s.max_seq_len,
                                    shuffle=False, repeat=False, num_batches=batches,
                                    verify=False).as_numpy_iterator())
    models = {label: _restore(work, name, vocab) for label, name in runs.items()}
    table = {}
    for gen_name, gen_model in models.items():
        fakes = []
        for batch in data:
            out = gen_model(batch, training=False)
            host = {k: ops.convert_to_numpy(out[k]) for k in (
                "corrupted_ids", "labels", "positions", "masked_lm_weights", "padding_mask")}
            host["cue_free"] = cue_free_mask(
                batch["token_ids"], host["padding_mask"], host["positions"],
                host["masked_lm_weights"], (gen_model.cls_token_id, gen_model.sep_token_id))
            fakes.append((batch, host))
        table[gen_name] = {}
        for disc_name, disc_model in models.items():
            labels, scores, keep, real = [], [], [], []
            for batch, host in fakes:
                x = {"token_ids": host["corrupted_ids"], "segment_ids": batch["segment_ids"],
                     "padding_mask": batch["padding_mask"]}
                seq = disc_model.discriminator(x, training=False)["sequence_output"]
                logits = ops.convert_to_numpy(disc_model.discriminator_head(seq))
                labels.append(host["labels"].ravel())
                scores.append(logits.ravel())
                keep.append(host["cue_free"].ravel())
                real.append(batch["padding_mask"].ravel().astype(bool))
            y, z = np.concatenate(labels).astype("float64"), np.concatenate(scores)
            k, r = np.concatenate(keep), np.concatenate(real)
            loss = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))  # sigmoid CE
            table[gen_name][disc_name] = {
                "disc_loss": float(loss[r].mean()), "auc": float(exact_auc(y[r], z[r])),
                "cue_free_auc": float(exact_auc(y[k], z[k]))}
    return table


def cross_table(cross, labels):
    lines = ["| fakes from \\ discriminator of | " + " | ".join(labels.values()) + " |",
             "|---|" + "---|" * len(labels)]
    for gen_name, row in cross.items():
        cells = [f"{row[d]['disc_loss']:.3f} / {row[d]['auc']:.3f} / {row[d]['cue_free_auc']:.3f}"
                 for d in labels]
        lines.append(f"| {labels[gen_name]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


LABELS = {
    "warm": "the brief run (the released weights)",
    "scratch": "from scratch",
    "continued": "`--init_from` the pair with its heads",
    "continued_fresh_heads": "`--init_from` the backbones only, fresh heads",
    "scratch_long": "from scratch, uninterrupted",
    "scratch_warm_lr": "from scratch at the brief run's learning rate",
}


def table(result):
    """The markdown table of RESULTS.md section 7: each run's final validation (and the
    uninterrupted run's earlier ones)."""
    lines = ["| run | updates | peak lr | " + " | ".join(k.replace("val_", "") for k in KEYS)
             + " |", "|---|---:|---:|" + "---:|" * len(KEYS)]
    warm = result["warm_steps"]
    for kind, label in LABELS.items():
        if kind not in result["validations"]:
            continue
        validations = result["validations"][kind]
        if kind.startswith("continued"):
            label = f"{label} (after the brief run)"
        lr = result["warm_learning_rate"] if kind in ("warm", "scratch_long", "scratch_warm_lr") \
            else result["learning_rate"]
        for final in validations if kind == "scratch_long" else validations[-1:]:
            updates = f"{warm} + {final['step']}" if kind.startswith("continued") \
                else str(final["step"])
            lines.append(f"| {label} | {updates} | {lr:g} | "
                         + " | ".join(f"{final[k]:.3f}" for k in KEYS) + " |")
    return "\n".join(lines)


def _cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def main(argv=None):
    from demo_sweep import shards_for

    from keras_electra.demo.settings import DemoSettings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=150,
                        help="updates of the compared runs (default 150)")
    parser.add_argument("--warm_steps", type=int, default=150,
                        help="updates of the brief pretraining that gives the weights")
    parser.add_argument("--learning_rate", type=float, default=1e-3,
                        help="peak learning rate of the compared runs (default 1e-3)")
    parser.add_argument("--warm_learning_rate", type=float, default=1e-3,
                        help="peak learning rate of the brief run and the uninterrupted one")
    parser.add_argument("--cue_free_batches", type=int, default=4)
    parser.add_argument("--seed", type=int, default=42, help="seed of the compared runs")
    parser.add_argument("--warm_seed", type=int, default=None,
                        help="seed of the brief run (default --seed + 1: the compared runs "
                             "do not replay its batches and masks)")
    parser.add_argument("--reuse", action="store_true",
                        help="read the numbers of runs already finished in --work_dir")
    parser.add_argument("--work_dir", default="/tmp/keras_electra_continued")
    parser.add_argument("--out", default=str(HERE / "results" / "continued_pretraining.jsonl"))
    args = parser.parse_args(argv)
    work = pathlib.Path(args.work_dir)
    s = DemoSettings()
    vocab, shards = shards_for(work, s.vocab_size, s.max_seq_len)
    runs = plan(args)
    done = {}

    def pretrain(kind, *extra):
        done[kind] = _pretrain(runs[kind], work, vocab, shards, args, extra)
        return done[kind][2]

    disc, gen = pretrain("warm", "--model_size", "tiny")
    pretrain("scratch", "--model_size", "tiny")
    pretrain("continued", "--init_from", disc, "--init_generator_from", gen)
    disc_only, gen_only = without_heads(work, runs["warm"]["name"], (disc, gen))
    pretrain("continued_fresh_heads", "--init_from", disc_only, "--init_generator_from", gen_only)
    pretrain("scratch_long", "--model_size", "tiny")
    if "scratch_warm_lr" in runs:
        pretrain("scratch_warm_lr", "--model_size", "tiny")
    final = {kind: validations[-1] for kind, (validations, _, _) in done.items()}
    result = {"steps": args.steps, "warm_steps": args.warm_steps,
              "learning_rate": args.learning_rate,
              "warm_learning_rate": args.warm_learning_rate,
              "seed": runs["scratch"]["seed"], "warm_seed": runs["warm"]["seed"],
              **final,
              "validations": {kind: validations for kind, (validations, _, _) in done.items()},
              "seconds": {kind: seconds for kind, (_, seconds, _) in done.items()},
              "lower_losses": all(final["continued"][k] < final["scratch"][k]
                                  for k in ("val_loss", "val_gen_loss", "val_disc_loss")),
              "cpu": _cpu_name(), "cores": os.cpu_count(),
              "loadavg": " ".join(f"{x:.1f}" for x in os.getloadavg())}
    crossed = [kind for kind in ("scratch", "scratch_warm_lr", "continued", "scratch_long")
               if kind in runs]
    result["cross"] = cross_evaluation(work, vocab, shards,
                                       {kind: runs[kind]["name"] for kind in crossed})
    line = json.dumps(result)
    print(line, flush=True)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", encoding="utf-8") as f:
        f.write(line + "\n")
    print(table(result))
    print()
    print(cross_table(result["cross"], {kind: LABELS[kind] for kind in crossed}))


if __name__ == "__main__":
    main()
