"""Continued pretraining (`pretrain --init_from`, issue 27) vs from scratch, on the demo's corpus.

1. The demo's data stages (Python's documentation -> `build-vocab` -> `prepare`), as
   `benchmarks/demo_sweep.py` runs them.
2. A brief pretraining of `electra_tiny` from scratch (`--warm_steps` updates): its exported
   discriminator and generator presets are the "released weights". The run's presets hold
   the backbones only; a copy of them gets the RTD and MLM heads from the run's final
   checkpoint (`electra_heads.npz`, as `keras-electra convert` writes for HF / TF1 sources),
   so the pair is complete, like an HF pair or a TF1 checkpoint.
3. With the same flags and the same number of updates (`--steps`): a run from scratch, a run
   `--init_from` the complete pair ("heads"), and one from the backbones alone ("fresh
   heads", as from keras-hub presets). Each validates at its end on the same validation
   batches: total / generator / discriminator loss, disc AUC, the cue-free AUC and its
   context-free baseline (`--cue_free_batches`, `keras_electra.evaluation.rtd_cues`).
   `--reuse` reads a finished run's numbers instead of running it again.

One JSON line goes to stdout and `results/continued_pretraining.jsonl`, and a markdown table
(RESULTS.md section 7) to stdout.

Example (2 cores: ~1 min per 300 updates of electra_tiny):
    python benchmarks/continued_pretraining.py                  # 150 + 150 vs 150 updates
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


def _pretrain(name, work, vocab, shards, steps, args, extra=()):
    from demo_sweep import _run

    from keras_electra.demo.settings import DemoSettings

    s = DemoSettings()
    run_dir = work / "runs" / name
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    argv = ["pretrain", "--train_dir", str(shards / "train"), "--val_dir", str(shards / "val"),
            "--vocab_file", str(vocab), "--per_gpu_batch_size", str(s.pretrain_batch),
            "--max_seq_length", str(s.max_seq_len), "--learning_rate", str(args.learning_rate),
            "--warmup_steps", str(max(1, steps // 10)), "--total_steps", str(steps),
            "--checkpoint_frequency", "0", "--validation_frequency", str(steps),
            "--validation_steps", str(s.validation_batches),
            "--cue_free_batches", str(args.cue_free_batches), "--log_frequency", "10",
            "--log_dir", str(run_dir / "logs"), "--checkpoint_dir", str(run_dir / "ckpt"),
            "--export_dir", str(run_dir / "presets"), "--run_name", name,
            "--seed", str(args.seed), "--progress", "false", *extra]
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
    records = [json.loads(line) for line in
               (run_dir / "logs" / name / "metrics.jsonl").read_text().splitlines()]
    final = [r for r in records if r["split"] == "validation"][-1]
    presets = run_dir / "presets"
    return ({k: final.get(k) for k in ("step", *KEYS)}, round(seconds, 1),
            (str(presets / f"{name}-step{steps}-discriminator"),
             str(presets / f"{name}-step{steps}-generator")))


def with_heads(work, presets, vocab):
    """Copies of the warm run's presets with the RTD / MLM heads of its final checkpoint."""
    from keras_electra.convert import hf, preset_io
    from keras_electra.models.electra_tokenizer import ElectraTokenizer
    from keras_electra.training import checkpointing
    from keras_electra.training.config import PretrainConfig
    from keras_electra.training.pretrain import build_pretrainer, make_optimizer

    ckpt_root = work / "runs" / "warm" / "ckpt"
    manager = checkpointing.CheckpointManager(str(ckpt_root), 1, 0)
    visible = manager.visible_checkpoints()
    path = visible[max(visible)]
    config = PretrainConfig.from_dict(checkpointing.CheckpointManager.read_state(path)["config"])
    model = build_pretrainer(config, ElectraTokenizer(vocabulary=str(vocab)))
    model.compile(optimizer=make_optimizer(config))
    checkpointing.build_optimizer_for(model)
    checkpointing.load_checkpoint(model, path)
    out = []
    for preset, kind, head in zip(presets, ("discriminator", "generator"),
                                  (model.discriminator_head, model.generator_head)):
        copy = work / "runs" / "warm_with_heads" / kind
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(preset, copy)
        preset_io.save_preset_heads(str(copy), {kind: hf.get_head_weights(head, kind)})
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


def cross_evaluation(work, vocab, shards, names, batches=8):
    """Each run's discriminator on each run's fakes (the same corrupted validation batches):
    {generator run: {discriminator run: {"disc_loss", "auc", "cue_free_auc"}}}. A stronger
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
    models = {name: _restore(work, name, vocab) for name in names}
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


def table(result):
    """The markdown table of RESULTS.md section 7."""
    before = f"{result['warm_steps']} updates before"
    rows = [("from scratch", result["scratch"]),
            (f"`--init_from` the pair with its heads ({before})", result["continued"]),
            (f"`--init_from` the backbones only, fresh heads ({before})",
             result["continued_fresh_heads"])]
    lines = ["| start | " + " | ".join(k.replace("val_", "") for k in KEYS) + " |",
             "|---|" + "---:|" * len(KEYS)]
    for label, final in rows:
        lines.append(f"| {label} | " + " | ".join(f"{final[k]:.3f}" for k in KEYS) + " |")
    return "\n".join(lines)


def main(argv=None):
    from demo_sweep import shards_for

    from keras_electra.demo.settings import DemoSettings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=150,
                        help="updates of the compared runs (default 150)")
    parser.add_argument("--warm_steps", type=int, default=150,
                        help="updates of the brief pretraining that gives the weights")
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--cue_free_batches", type=int, default=4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reuse", action="store_true",
                        help="read the numbers of runs already finished in --work_dir")
    parser.add_argument("--work_dir", default="/tmp/keras_electra_continued")
    parser.add_argument("--out", default=str(HERE / "results" / "continued_pretraining.jsonl"))
    args = parser.parse_args(argv)
    work = pathlib.Path(args.work_dir)
    s = DemoSettings()
    vocab, shards = shards_for(work, s.vocab_size, s.max_seq_len)
    _, warm_seconds, (disc, gen) = _pretrain("warm", work, vocab, shards, args.warm_steps, args,
                                             ("--model_size", "tiny"))
    scratch, scratch_seconds, _ = _pretrain("scratch", work, vocab, shards, args.steps, args,
                                            ("--model_size", "tiny"))
    fresh, fresh_seconds, _ = _pretrain(
        "continued", work, vocab, shards, args.steps, args,
        ("--init_from", disc, "--init_generator_from", gen))
    disc_heads, gen_heads = with_heads(work, (disc, gen), vocab)
    continued, continued_seconds, _ = _pretrain(
        "continued_heads", work, vocab, shards, args.steps, args,
        ("--init_from", disc_heads, "--init_generator_from", gen_heads))
    result = {"steps": args.steps, "warm_steps": args.warm_steps,
              "learning_rate": args.learning_rate, "scratch": scratch,
              "continued": continued, "continued_fresh_heads": fresh,
              "seconds": {"warm": warm_seconds, "scratch": scratch_seconds,
                          "continued": continued_seconds, "continued_fresh_heads": fresh_seconds},
              "lower_losses": all(continued[k] < scratch[k]
                                  for k in ("val_loss", "val_gen_loss", "val_disc_loss")),
              "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
              "loadavg": " ".join(f"{x:.1f}" for x in os.getloadavg())}
    result["cross"] = cross_evaluation(work, vocab, shards, ("scratch", "continued_heads"))
    line = json.dumps(result)
    print(line, flush=True)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", encoding="utf-8") as f:
        f.write(line + "\n")
    print(table(result))
    print()
    print(cross_table(result["cross"], {"scratch": "from scratch",
                                        "continued_heads": "`--init_from` the pair"}))


if __name__ == "__main__":
    main()
