"""Soak test: a tiny ELECTRA pretrainer for thousands of steps; memory and speed must stay flat.

Runs `ElectraPretrainer.fit` (the production TF train step, XLA forward/backward, ElectraAdamW
with the AWS schedule) on a tiny model (vocab 200, 1 layer, seq 32, batch 8) over a repeating
in-memory dataset, and samples the process's resident memory (`/proc/self/statm`, no psutil)
and the wall time of every window of steps from a Keras callback.

Reported (JSON on stdout, and `--out`): per-window RSS and steps/s, RSS growth after warm-up
(last window vs first post-warm-up window, %), and the throughput ratios (median steps per
second of the last third vs the first third after warm-up), both per wall second and per CPU
second of this process. `tests/reliability/test_soak.py` runs this script in CI and asserts
RSS growth < 5 % and a CPU-time throughput ratio > 0.7: on a shared CI box wall-clock speed
follows the neighbours' load (measured: x0.6 with a flat CPU rate), while a leak or a per-step
retrace makes every step cost more CPU.

Example:
```
python benchmarks/soak.py --steps 2000 --window 100 --warmup 300 --out soak.json
```
"""

import argparse
import json
import os
import statistics
import sys
import time


def rss_bytes():
    """Resident set size of this process from /proc/self/statm (Linux)."""
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def run_soak(steps=2000, window=100, warmup=300, batch_size=8, sequence_length=32,
             vocabulary_size=200, xla=True, seed=0):
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_electra import ElectraBackbone, ElectraPretrainer
    from keras_electra.optimizers import create_optimizer

    keras.utils.set_random_seed(seed)
    backbone = ElectraBackbone(
        vocabulary_size=vocabulary_size, num_layers=1, num_heads=2, hidden_dim=32,
        embedding_dim=32, intermediate_dim=64, dropout=0.1, max_sequence_length=sequence_length)
    model = ElectraPretrainer(backbone, generator_hidden_size=0.5, xla=xla, seed=seed)
    model.compile(optimizer=create_optimizer(
        1e-3, total_steps=steps, warmup_steps=steps // 10, optimizer="adamw"))

    rng = np.random.default_rng(seed)
    n = 256
    ids = rng.integers(104, vocabulary_size, size=(n, sequence_length)).astype("int32")
    lengths = rng.integers(sequence_length // 2, sequence_length + 1, size=n)
    pad = (np.arange(sequence_length)[None] < lengths[:, None]).astype("int32")
    ids[:, 0] = 101
    ids[np.arange(n), lengths - 1] = 102
    ids *= pad
    data = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": pad}
    ds = (tf.data.Dataset.from_tensor_slices(data).shuffle(n, seed=seed).repeat()
          .batch(batch_size, drop_remainder=True).prefetch(2))

    class Sampler(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.rows = []
            self.started = None

        def on_train_begin(self, logs=None):
            self.started = time.perf_counter()
            self.cpu_started = time.process_time()

        def on_train_batch_end(self, batch, logs=None):
            step = batch + 1
            if step % window == 0:
                now, cpu = time.perf_counter(), time.process_time()
                loss = float(logs["loss"]) if logs and "loss" in logs else float("nan")
                self.rows.append({"step": step, "rss_mb": rss_bytes() / 2**20,
                                  "steps_per_s": window / (now - self.started),
                                  "steps_per_cpu_s": window / max(cpu - self.cpu_started, 1e-9),
                                  "loss": loss})
                self.started, self.cpu_started = now, cpu

    sampler = Sampler()
    t0 = time.perf_counter()
    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[sampler])
    seconds = time.perf_counter() - t0
    rows = sampler.rows
    after = [r for r in rows if r["step"] > warmup]
    if len(after) < 3:
        raise ValueError(f"steps={steps}, warmup={warmup}, window={window}: need at least "
                         "3 windows after warm-up.")
    third = max(1, len(after) // 3)

    def median(key, rows):
        return statistics.median(r[key] for r in rows)

    first_speed, last_speed = median("steps_per_s", after[:third]), median(
        "steps_per_s", after[-third:])
    first_cpu, last_cpu = median("steps_per_cpu_s", after[:third]), median(
        "steps_per_cpu_s", after[-third:])
    return {
        "steps": steps, "window": window, "warmup": warmup, "batch_size": batch_size,
        "sequence_length": sequence_length, "vocabulary_size": vocabulary_size, "xla": xla,
        "seconds": seconds,
        "rss_mb_after_warmup": after[0]["rss_mb"], "rss_mb_end": after[-1]["rss_mb"],
        "rss_growth_pct": 100.0 * (after[-1]["rss_mb"] - after[0]["rss_mb"]) / after[0]["rss_mb"],
        "rss_max_growth_pct": 100.0 * (max(r["rss_mb"] for r in after) - after[0]["rss_mb"])
        / after[0]["rss_mb"],
        "steps_per_s_first_third": first_speed, "steps_per_s_last_third": last_speed,
        "throughput_ratio": last_speed / first_speed,
        "steps_per_cpu_s_first_third": first_cpu, "steps_per_cpu_s_last_third": last_cpu,
        "cpu_throughput_ratio": last_cpu / first_cpu,
        "cpu_seconds": time.process_time(),
        "first_loss": rows[0]["loss"],
        "final_loss": rows[-1]["loss"], "windows": rows,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--sequence_length", type=int, default=32)
    parser.add_argument("--no_xla", action="store_true")
    parser.add_argument("--out", help="also write the JSON report here")
    args = parser.parse_args(argv)
    report = run_soak(args.steps, args.window, args.warmup, args.batch_size,
                      args.sequence_length, xla=not args.no_xla)
    text = json.dumps(report, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
