"""Learning curve with attention dropout 0.1 (G's recipe) vs 0.0 (the fused-attention option).

The keras side of `learning_curve.py` (same data, model, optimizer, evaluation), run once per
attention-dropout rate and seed: `electra_tiny` on the same ~60-token passages of
`--corpus` (default `tests/data/files/corpus`) in the same order, AdamW (lr 2e-3, decay 0.01 except bias/LayerNorm,
eps 1e-6, clip 1.0), G's objective (MLM + 50 x RTD), hidden dropout 0.1 in every run. For one
seed, the runs of the different rates start from identical weights (Keras' global seed is set
before the model is built; `init_checksum` in the JSON shows it) and see the same masking and
Gumbel noise, so the attention dropout is the only difference. Every `--eval-every` steps: held-out
discriminator AUC over the real tokens of 320 passages, generator accuracy, RTD loss.

TF backend, one thread per run, two runs at a time (2-core machine). Writes
`results/attention_dropout_curve_<tag>.json`.

Example:
    python benchmarks/attention_dropout_curve.py --steps 300 --eval-every 100 --seeds 1,2
"""

import argparse
import json
import os
import subprocess
import sys
import time

import learning_curve as lc
import numpy as np


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--rates", default="0.1,0.0", help="attention dropout rates")
    parser.add_argument("--seeds", default="1", help="comma-separated seeds (one run per rate)")
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time")
    parser.add_argument("--cache", default=os.path.join(
        os.environ.get("TMPDIR", "/tmp"), "keras_electra_learning_curve_data.npz"))
    parser.add_argument("--tag", default="main")
    parser.add_argument("--corpus", default=str(lc.CORPUS), help="directory of *.txt files")
    parser.add_argument("--vocab", default=str(lc.VOCAB))
    parser.add_argument("--output", default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_worker(args):
    """One run: attention dropout `args.worker`, seed `args.seed`; prints JSON records."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    from keras_electra import ElectraPretrainer

    rate = float(args.worker)
    train, held_out = lc._load(args.cache)
    keras.utils.set_random_seed(args.seed)  # same initial weights for every rate
    model = ElectraPretrainer.from_preset("electra_tiny", seed=args.seed, attention_dropout=rate)
    model.compile(optimizer=lc.adamw(args.lr))
    checksum = float(sum(np.abs(np.asarray(w, dtype=np.float64)).sum() for w in model.weights))
    n = len(train["token_ids"]) // lc.BATCH_SIZE * lc.BATCH_SIZE
    ds = tf.data.Dataset.from_tensor_slices({k: v[:n] for k, v in train.items()})
    ds = ds.repeat().batch(lc.BATCH_SIZE)
    held_out_ds = tf.data.Dataset.from_tensor_slices(held_out).batch(lc.BATCH_SIZE)
    start, train_s, done = time.perf_counter(), 0.0, 0
    while True:
        r = model.evaluate(held_out_ds, verbose=0, return_dict=True)
        record = {"rate": rate, "seed": args.seed, "step": done, "train_s": round(train_s, 1),
                  "wall_s": round(time.perf_counter() - start, 1), "init_checksum": checksum,
                  **{k: float(r[k]) for k in ("disc_auc", "gen_accuracy", "disc_loss",
                                              "gen_loss")}}
        print("JSON " + json.dumps(record), flush=True)
        if done >= args.steps:
            return
        todo = min(args.eval_every, args.steps - done)
        t0 = time.perf_counter()
        model.fit(ds.skip(done), steps_per_epoch=todo, epochs=1, verbose=0)
        train_s += time.perf_counter() - t0
        done += todo


def main(argv=None):
    args = parse_args(argv)
    if args.worker is not None:
        run_worker(args)
        return 0
    lc.make_data(args.cache, args.corpus, args.vocab)
    rates = args.rates.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = [(rate, seed) for seed in seeds for rate in rates]
    started = time.perf_counter()
    load_before = os.getloadavg()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
    env["PYTHONPATH"] = os.pathsep.join([str(lc.ROOT), str(lc.HERE), env.get("PYTHONPATH", "")])
    records, queue, active = [], list(runs), []
    while queue or active:
        while queue and len(active) < args.parallel:
            rate, seed = queue.pop(0)
            cmd = [sys.executable, __file__, "--worker", rate, "--seed", str(seed),
                   "--steps", str(args.steps), "--eval-every", str(args.eval_every),
                   "--lr", str(args.lr), "--cache", args.cache]
            active.append(((rate, seed), subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                                                          env=env, cwd=str(lc.ROOT))))
        (rate, seed), proc = active.pop(0)
        out, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"run rate={rate} seed={seed} failed (exit {proc.returncode})")
        got = [json.loads(line[5:]) for line in out.splitlines() if line.startswith("JSON ")]
        records += got
        print(f"rate {rate} seed {seed}: " + ", ".join(
            f"step {r['step']} AUC {r['disc_auc']:.3f}" for r in got), flush=True)
    by_step = {}
    for r in records:
        by_step.setdefault(r["step"], {}).setdefault(r["rate"], []).append(r)
    print("\nstep  rate  disc AUC (mean over seeds)  gen accuracy  disc loss  train s")
    for step in sorted(by_step):
        for rate in sorted(by_step[step], reverse=True):
            rs = by_step[step][rate]
            print(f"{step:>5} {rate:4.1f}  {np.mean([r['disc_auc'] for r in rs]):.3f}"
                  f"                      {np.mean([r['gen_accuracy'] for r in rs]):.3f}"
                  f"         {np.mean([r['disc_loss'] for r in rs]):.4f}"
                  f"     {np.mean([r['train_s'] for r in rs]):.0f}")
    payload = {"args": {k: v for k, v in vars(args).items() if k not in ("worker", "seed")},
               "load_average_before": load_before, "load_average_after": os.getloadavg(),
               "total_wall_s": round(time.perf_counter() - started, 1), "records": records}
    path = args.output or str(lc.HERE / "results" / f"attention_dropout_curve_{args.tag}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=1)
        f.write("\n")
    print(f"wrote {path} (total {payload['total_wall_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
