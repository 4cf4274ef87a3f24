"""The sweep that picks `make demo`'s pretraining setting (issue 17).

Runs the demo's own data stages once per vocabulary size (Python's documentation ->
`build-vocab` -> `prepare`, as `python -m keras_electra.demo` does), then one
`keras-electra pretrain` per setting, each in its own process, and reads the validation
records of its `metrics.jsonl`: the plain disc AUC, the **cue-free AUC** and the
**context-free baseline** (`--cue_free_batches`, `keras_electra.evaluation.rtd_cues`) and the
generator's MLM accuracy. One JSON line per setting goes to stdout and to
`results/demo_sweep.jsonl`; RESULTS.md section 6 lists the runs.

A setting "learns context" when its cue-free AUC beats the context-free baseline (by more
than `MARGIN`, about two standard errors at these sizes) at the final validation.

Examples (2 cores: ~1 min per 300 steps of electra_tiny):
    python benchmarks/demo_sweep.py --settings base            # the demo's former setting
    python benchmarks/demo_sweep.py                            # every setting in SETTINGS
    python benchmarks/demo_sweep.py --settings lr1e-3 --steps 900  # the demo's setting now
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
MARGIN = 0.01

# name -> pretrain flags over the demo's (vocab size is handled apart: it needs its own shards)
SETTINGS = {
    "base": {},
    "lr1e-3": {"learning_rate": 1e-3},
    "lr5e-3": {"learning_rate": 5e-3},
    "warmup0": {"warmup_frac": 0.0},
    "gen0.5": {"generator_hidden_size": 0.5},
    "gen1.0": {"generator_hidden_size": 1.0},
    "gen_half_depth": {"generator_layers": 0.5},
    "gdes": {"gdes": "true"},
    "vocab1024": {"vocab_size": 1024},
    "vocab4096": {"vocab_size": 4096},
    "small": {"model_size": "small"},
    "gen0.5_gdes": {"generator_hidden_size": 0.5, "gdes": "true"},
    "gen0.5_lr1e-3": {"generator_hidden_size": 0.5, "learning_rate": 1e-3},
}


def _run(argv, log):
    with open(log, "a", encoding="utf-8") as f:
        code = subprocess.call([sys.executable, "-m", "keras_electra", *argv], stdout=f,
                               stderr=subprocess.STDOUT)
    if code:
        raise SystemExit(f"`keras-electra {' '.join(argv)}` exited {code}; see {log}")


def shards_for(work, vocab_size, seq_len, corpus_glob=None):
    """(vocab.txt, shards dir) of the demo's corpus at `vocab_size`, built once.
    `corpus_glob`: text files to use instead of the demo's built-in corpus."""
    from keras_electra.demo.data.corpus import write_pydoc_corpus

    corpus = work / "corpus"
    if corpus_glob is None and not corpus.exists():
        write_pydoc_corpus(str(corpus), num_files=2)
    inputs = corpus_glob or str(corpus / "*.txt")
    root = work / f"vocab{vocab_size}"
    vocab, shards = root / "vocab.txt", root / "shards"
    if not (shards / "stats.json").exists():
        root.mkdir(parents=True, exist_ok=True)
        log = root / "log.txt"
        _run(["build-vocab", "--input", inputs, "--vocab_size", str(vocab_size),
              "--output", str(vocab)], log)
        _run(["prepare", "--input", inputs, "--vocab_file", str(vocab),
              "--output_dir", str(shards), "--max_seq_length", str(seq_len), "--num_shards",
              "2", "--val_fraction", "0.1", "--workers", "1", "--overwrite"], log)
    return vocab, shards


# The starting point of the sweep: the demo's setting before it (lr 2e-3, 300 steps). The
# sweep picked learning_rate 1e-3 at 900 steps, now DemoSettings' default.
BASE = {"model_size": "tiny", "learning_rate": 2e-3, "warmup_frac": 0.1, "vocab_size": 2048}
BASE_STEPS = 300


def run_setting(name, overrides, args, work):
    from keras_electra.demo.settings import DemoSettings

    s = DemoSettings()  # batch, sequence length, validation sizes (not swept)
    flags = {**BASE, **overrides}
    steps = args.steps or BASE_STEPS
    vocab, shards = shards_for(work, flags.pop("vocab_size"), s.max_seq_len, args.corpus)
    run_dir = work / "runs" / f"{name}-{steps}"
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    warmup_frac = flags.pop("warmup_frac")
    warmup = max(1, int(steps * warmup_frac)) if warmup_frac else 0
    argv = ["pretrain", "--train_dir", str(shards / "train"), "--val_dir", str(shards / "val"),
            "--vocab_file", str(vocab), "--per_gpu_batch_size", str(s.pretrain_batch),
            "--max_seq_length", str(s.max_seq_len), "--warmup_steps", str(warmup),
            "--total_steps", str(steps), "--checkpoint_frequency", "0",
            "--validation_frequency", str(max(1, steps // 5)),
            "--validation_steps", str(s.validation_batches),
            "--cue_free_batches", str(s.cue_free_batches), "--log_frequency", "50",
            "--log_dir", str(run_dir / "logs"), "--checkpoint_dir", str(run_dir / "ckpt"),
            "--export_dir", str(run_dir / "presets"), "--run_name", "sweep",
            "--seed", str(args.seed), "--progress", "false"]
    for key, value in flags.items():
        argv += [f"--{key}", str(value)]
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    _run(argv, run_dir.parent / f"{name}-{steps}.log")
    seconds = time.perf_counter() - start
    records = [json.loads(line) for line in
               (run_dir / "logs" / "sweep" / "metrics.jsonl").read_text().splitlines()]
    curve = [{k: r.get(k) for k in ("step", "val_disc_auc", "val_cue_free_auc",
                                    "val_context_free_auc", "val_gen_accuracy")}
             for r in records if r["split"] == "validation"]
    final = curve[-1]
    return {"setting": name, "overrides": overrides, "steps": steps, "seconds": round(seconds, 1),
            "final": final, "curve": curve,
            "learns_context": final["val_cue_free_auc"] > final["val_context_free_auc"] + MARGIN,
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "loadavg": " ".join(f"{x:.1f}" for x in os.getloadavg())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settings", default=",".join(SETTINGS),
                        help=f"comma-separated names from {', '.join(SETTINGS)}")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"default {BASE_STEPS} (the demo's before the sweep)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work_dir", default="/tmp/keras_electra_demo_sweep")
    parser.add_argument("--corpus", default=None,
                        help="glob of text files (default: the demo's built-in corpus); a new "
                        "corpus needs a new --work_dir (its shards are built once)")
    parser.add_argument("--out", default=str(HERE / "results" / "demo_sweep.jsonl"),
                        help="JSON lines file to append to")
    args = parser.parse_args(argv)
    work = pathlib.Path(args.work_dir)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for name in args.settings.split(","):
        if name not in SETTINGS:
            parser.error(f"unknown setting {name!r}; choose from {', '.join(SETTINGS)}")
        result = run_setting(name, SETTINGS[name], args, work)
        line = json.dumps(result)
        print(line, flush=True)
        with open(out, "a", encoding="utf-8") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
