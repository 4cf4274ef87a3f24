"""Host overhead per training step of the pretraining callbacks (issue 14), on CPU.

For each variant - a source tree (`after`: this checkout; `before`: another
checkout, e.g. the HEAD commit in a worktree) x a backend (TensorFlow, JAX) -
one child process per repetition builds `electra_tiny` with the driver's
optimizer and alternates `fit` calls of the same compiled step:

  none       `model.fit` with no callbacks of ours
  callbacks  the same fit with the callbacks `pretrain()` builds at the CLI
             defaults (non-finite guard, batch counter, logger with TensorBoard,
             JSONL, metrics lines and progress bar every 10 updates, checkpoint
             every 5000, step watchdog 1800 s)

Measured per step, from the start of batch `--skip` to the end of the last step
(the callbacks' once-per-run end-of-fit work left out):

  fit wall / fit CPU   wall-clock and process-CPU time of the whole loop (a weight
                       is read back at the end, so JAX's asynchronous dispatch has
                       drained): the end-to-end cost, but on a shared machine other
                       processes' load moves it by more than the overhead itself;
  dispatch CPU / wall  time the training thread spends in Keras' per-batch callback
                       dispatch (`CallbackList.on_train_batch_begin/_end`): our hooks,
                       Keras' conversion of the logs to floats, and on JAX the state
                       syncs they trigger (thread CPU time barely depends on the load;
                       the wall time also holds waits for the device);
  model/step, syncs    `Callback.model` accesses and real JAX state syncs (every array
                       copied back into the model) per step: exact counts.

Overhead = median of (callbacks - none) over all rounds of all processes of a
variant, the two fits of a round back to back. Variants alternate within each
repetition (order reversed every other repetition). The CPU model and the load
average are printed with every figure and stored in the JSON written to
benchmarks/results/.

Example:
    git worktree add /tmp/before HEAD
    python benchmarks/host_overhead.py --before /tmp/before   # ~6 min on 2 cores
    python benchmarks/host_overhead.py --smoke
"""

import argparse
import os
import statistics
import sys
import time

import bench_common as common

BACKENDS = ("tf", "jax")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default=None,
                        help="root of the 'before' source tree (e.g. a worktree of HEAD); "
                             "without it only this tree is measured")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="tf,jax")
    parser.add_argument("--steps-per-execution", type=int, default=1,
                        help="compile(steps_per_execution=...) of the 'after' tree (the "
                             "'before' tree has no such option and always runs 1)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seq-length", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50,
                        help="batches per fit (a multiple of 10 keeps one log per 10 timed "
                             "steps)")
    parser.add_argument("--skip", type=int, default=10,
                        help="untimed batches at the start of every fit")
    parser.add_argument("--rounds", type=int, default=3,
                        help="(none, callbacks) fit pairs per process")
    parser.add_argument("--reps", type=int, default=2, help="processes per variant")
    parser.add_argument("--smoke", action="store_true",
                        help="1 rep, 1 round, 20-batch fits: checks that the script works")
    parser.add_argument("--output", default=None,
                        help="JSON path (default benchmarks/results/host_overhead_<tag>.json)")
    parser.add_argument("--tag", default=None, help="name suffix of the default JSON file")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per child process")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.reps, args.rounds, args.steps, args.skip = 1, 1, 20, 10
        args.tag = args.tag or "smoke"
    args.backends = args.backends.split(",")
    unknown = [b for b in args.backends if b not in BACKENDS]
    if unknown:
        parser.error(f"unknown backend(s) {unknown}; choose from {list(BACKENDS)}")
    if args.steps - args.skip < 10:
        parser.error("--steps must exceed --skip by at least 10")
    return args


# ------------------------------------------------------------------ child
def pretrain_callbacks(cb, log_dir, tokens_per_batch, total_steps):
    """The callbacks `pretrain()` builds at the CLI defaults, for either tree's API."""
    import inspect

    if hasattr(cb, "_Sink"):  # a 'before' tree from before the metrics sink (issue 26)
        sink = cb._Sink(log_dir, "bench")
    else:
        from keras_electra.training.metrics_sink import MetricsSink

        sink = MetricsSink(log_dir, "bench")
    guard_args = {}
    parameters = inspect.signature(cb.StopOnNonFiniteLoss).parameters
    if "frequency" in parameters:  # after issue 14: gcd(log 10, checkpoint 5000)
        guard_args["frequency"] = 10
    if "weights_frequency" in parameters:
        guard_args["weights_frequency"] = 5000
    if hasattr(cb, "BatchCounter"):  # a 'before' tree from before issue 16
        counter = cb.BatchCounter(0)
    else:
        from keras_electra.training.resume import BatchCounter

        counter = BatchCounter(0)
    callbacks = [
        cb.StopOnNonFiniteLoss({"path": None, "step": None}, **guard_args),
        counter,
        cb.TrainingLogger(sink, 10, tokens_per_batch, total_steps, progress=True),
        cb.CheckpointCallback(5000, lambda step: None),
        cb.StepWatchdog(1800.0),
    ]
    return callbacks, sink


def run_worker(args):
    tree, backend = args.worker.split(":")
    os.environ["KERAS_BACKEND"] = "jax" if backend == "jax" else "tensorflow"
    import tempfile

    import keras
    import numpy as np

    import keras_electra
    from keras_electra.models.electra_pretrainer import ElectraPretrainer
    from keras_electra.optimizers import create_optimizer
    from keras_electra.training import callbacks as cb

    keras.utils.set_random_seed(0)
    model = ElectraPretrainer.from_preset("electra_tiny", seed=0)
    total_steps = 10_000
    optimizer = create_optimizer(1e-4, total_steps=total_steps, warmup_steps=100,
                                 end_learning_rate=1e-5, decay_power=1.0, weight_decay=0.01,
                                 beta_1=0.9, beta_2=0.999, epsilon=1e-6, max_grad_norm=1.0)
    spe = args.steps_per_execution if tree == "after" else 1
    model.compile(optimizer=optimizer, **({"steps_per_execution": spe} if spe > 1 else {}))
    rng = np.random.default_rng(0)
    n = args.steps * args.batch_size
    ids = rng.integers(999, 30522, size=(n, args.seq_length), dtype=np.int32)
    ids[:, 0], ids[:, -1] = 101, 102
    data = {"token_ids": ids, "segment_ids": np.zeros_like(ids),
            "padding_mask": np.ones_like(ids)}
    tokens_per_batch = args.batch_size * args.seq_length

    class Clock(keras.callbacks.Callback):
        """Wall and process-CPU time at the start of batch `skip` and at the end of the last
        step. First in the list: its epoch-end reading (after a weight read, so JAX's
        asynchronous dispatch has drained) comes before the other callbacks' end-of-fit
        work, which is once per run, not per step."""

        async_safe = True  # only begin/epoch-end hooks: Keras' batch-end dispatch unchanged

        def __init__(self):
            super().__init__()
            self.start = None
            self.end = None

        def on_train_batch_begin(self, batch, logs=None):
            if batch == args.skip:
                self.start = (time.perf_counter(), time.process_time())
                probe.update(timing=True, hook_wall=0.0, hook_cpu=0.0, model=0, syncs=0)

        def on_epoch_end(self, epoch, logs=None):
            keras.ops.convert_to_numpy(self._model.trainable_variables[0])
            self.end = (time.perf_counter(), time.process_time())
            probe["timing"] = False

    # Direct, load-independent probes of the training thread, inside the timed window:
    # the time it spends in Keras' per-batch callback dispatch (our hooks, Keras' log
    # conversion, and on JAX the state syncs they trigger), `Callback.model` accesses and
    # real JAX state syncs (all arrays copied back into the model).
    probe = {"timing": False, "hook_wall": 0.0, "hook_cpu": 0.0, "model": 0, "syncs": 0}

    def timed_hook(method):
        def hook(self, *a, **k):
            if not probe["timing"]:
                return method(self, *a, **k)
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return method(self, *a, **k)
            finally:
                probe["hook_wall"] += time.perf_counter() - wall
                probe["hook_cpu"] += time.thread_time() - cpu
        return hook

    callback_list = keras.callbacks.CallbackList
    for name in ("on_train_batch_begin", "on_train_batch_end"):
        setattr(callback_list, name, timed_hook(getattr(callback_list, name)))
    model_property = keras.callbacks.Callback.model

    def counted_model(self):
        if probe["timing"]:
            probe["model"] += 1
        return model_property.fget(self)

    keras.callbacks.Callback.model = property(counted_model)
    if backend == "jax":
        state_sync = model.jax_state_sync

        def counted_sync():
            if probe["timing"] and model._jax_state and not model._jax_state_synced:
                probe["syncs"] += 1
            return state_sync()

        model.jax_state_sync = counted_sync

    def one_fit(with_callbacks, log_dir):
        clock = Clock()
        callbacks, sink = ([], None)
        if with_callbacks:
            callbacks, sink = pretrain_callbacks(cb, log_dir, tokens_per_batch, total_steps)
        model.fit(data, batch_size=args.batch_size, epochs=1, shuffle=False, verbose=0,
                  callbacks=[clock] + callbacks)
        if sink is not None:
            sink.close()
        timed = args.steps - args.skip
        wall, cpu = ((b - a) / timed for a, b in zip(clock.start, clock.end))
        return {"wall": wall, "cpu": cpu, "hook_wall": probe["hook_wall"] / timed,
                "hook_cpu": probe["hook_cpu"] / timed, "model": probe["model"] / timed,
                "syncs": probe["syncs"] / timed}

    results = {"none": [], "callbacks": []}
    with tempfile.TemporaryDirectory() as log_dir:
        started = time.perf_counter()
        one_fit(False, log_dir)  # compile
        one_fit(True, log_dir)  # first TensorBoard writer, tqdm import
        warmup_s = time.perf_counter() - started
        for round_index in range(args.rounds):
            order = ("none", "callbacks") if round_index % 2 == 0 else ("callbacks", "none")
            for kind in order:
                results[kind].append(one_fit(kind == "callbacks", log_dir))

    def series(kind, key):
        return [r[key] for r in results[kind]]

    def paired(key):  # both fits of a round saw about the same machine load
        return [c - n for n, c in zip(series("none", key), series("callbacks", key))]

    return {
        "tree": tree, "backend": backend, "keras_electra": os.path.dirname(
            keras_electra.__file__), "steps_per_execution": spe,
        "step_s_none": series("none", "wall"), "step_s_callbacks": series("callbacks", "wall"),
        "cpu_s_none": series("none", "cpu"), "cpu_s_callbacks": series("callbacks", "cpu"),
        "median_step_s_none": statistics.median(series("none", "wall")),
        "median_step_s_callbacks": statistics.median(series("callbacks", "wall")),
        "overheads_s": paired("wall"), "cpu_overheads_s": paired("cpu"),
        "hook_cpu_overheads_s": paired("hook_cpu"), "hook_wall_overheads_s": paired("hook_wall"),
        "model_accesses_per_step": statistics.median(series("callbacks", "model")),
        "state_syncs_per_step": statistics.median(series("callbacks", "syncs")),
        "warmup_s": warmup_s, "keras": keras.__version__,
    }


# ----------------------------------------------------------------- parent
def variants(args):
    trees = (["before"] if args.before else []) + ["after"]
    return [f"{tree}:{backend}" for backend in args.backends for tree in trees]


def worker_args(args, variant):
    return ["--worker", variant, "--batch-size", args.batch_size, "--seq-length",
            args.seq_length, "--steps", args.steps, "--skip", args.skip, "--rounds",
            args.rounds, "--steps-per-execution", args.steps_per_execution]


def run_all(args, cpu):
    roots = {"after": str(common.PROJECT_ROOT)}
    if args.before:
        roots["before"] = os.path.abspath(args.before)
    configs = variants(args)
    runs = {c: [] for c in configs}
    width = max(len(c) for c in configs)
    for rep in range(args.reps):
        for variant in (configs if rep % 2 == 0 else list(reversed(configs))):
            env = {"PYTHONPATH": roots[variant.split(":")[0]]}
            result = common.run_child(__file__, worker_args(args, variant), env=env,
                                      timeout=args.timeout)
            result["rep"] = rep
            result["load_average"] = common.load_average()
            runs[variant].append(result)
            if "error" in result:
                status = "ERROR " + result["error"] + "\n" + result.get("tail", "")
            else:
                status = (f"step {result['median_step_s_none'] * 1e3:6.2f} ms without, "
                          f"{result['median_step_s_callbacks'] * 1e3:6.2f} ms with callbacks: "
                          f"overhead {statistics.median(result['overheads_s']) * 1e3:+6.2f} "
                          f"ms/step wall, "
                          f"{statistics.median(result['cpu_overheads_s']) * 1e3:+6.2f} "
                          f"ms/step CPU; training thread in callback dispatch "
                          f"{statistics.median(result['hook_cpu_overheads_s']) * 1e3:+6.2f} "
                          f"ms/step CPU, {result['model_accesses_per_step']:.2f} model "
                          f"accesses/step, {result['state_syncs_per_step']:.2f} JAX state "
                          f"syncs/step (medians of {len(result['overheads_s'])} rounds)")
            print(f"[rep {rep + 1}/{args.reps}] {variant:{width}s} {status} "
                  f"(load {result['load_average']}; {cpu})", flush=True)
    return runs


def summarize_runs(runs):
    summary = {}
    for variant, results in runs.items():
        ok = [r for r in results if "error" not in r]
        summary[variant] = {
            # every round of every process (paired differences)
            "overhead_s": common.summarize([d for r in ok for d in r["overheads_s"]]),
            "cpu_overhead_s": common.summarize([d for r in ok for d in r["cpu_overheads_s"]]),
            "hook_cpu_overhead_s": common.summarize(
                [d for r in ok for d in r["hook_cpu_overheads_s"]]),
            "hook_wall_overhead_s": common.summarize(
                [d for r in ok for d in r["hook_wall_overheads_s"]]),
            "model_accesses_per_step": common.summarize(
                [r["model_accesses_per_step"] for r in ok]),
            "state_syncs_per_step": common.summarize([r["state_syncs_per_step"] for r in ok]),
            "step_s_none": common.summarize([r["median_step_s_none"] for r in ok]),
            "step_s_callbacks": common.summarize([r["median_step_s_callbacks"] for r in ok]),
            "errors": [r["error"] for r in results if "error" in r],
        }
    for variant, s in summary.items():
        tree, backend = variant.split(":")
        before = summary.get(f"before:{backend}")
        if tree == "after" and before and before["overhead_s"] and s["overhead_s"]:
            for key in ("overhead_s", "cpu_overhead_s", "hook_cpu_overhead_s",
                        "hook_wall_overhead_s"):
                if before[key]["median"] > 0:  # no ratio to a zero or negative overhead
                    s[f"{key}_ratio_after_vs_before"] = (s[key]["median"]
                                                         / before[key]["median"])
    return summary


def print_table(summary, args, cpu, load):
    print(f"\nHost overhead per step of the pretrain callbacks, electra_tiny, batch "
          f"{args.batch_size} x seq {args.seq_length}, {args.steps - args.skip} timed steps "
          f"per fit, {args.rounds} fit pairs x {args.reps} process(es) per variant; CPU "
          f"{cpu}; load average {load}. Overheads: medians over all rounds of (with - "
          f"without callbacks), ms per step.")
    print(f"{'variant':11s} {'step none':>9s} {'step cbs':>9s} {'fit wall':>9s} "
          f"{'(min..max)':>15s} {'fit CPU':>8s} {'dispatch CPU':>12s} {'dispatch wall':>13s} "
          f"{'model/step':>10s} {'syncs/step':>10s}")
    for variant, s in summary.items():
        if not s["overhead_s"]:
            print(f"{variant:11s} errors: {s['errors']}")
            continue

        def ms(key):
            return s[key]["median"] * 1e3

        o = s["overhead_s"]
        print(f"{variant:11s} {ms('step_s_none'):9.2f} {ms('step_s_callbacks'):9.2f} "
              f"{ms('overhead_s'):9.2f} ({o['min'] * 1e3:6.2f}..{o['max'] * 1e3:6.2f}) "
              f"{ms('cpu_overhead_s'):8.2f} {ms('hook_cpu_overhead_s'):12.2f} "
              f"{ms('hook_wall_overhead_s'):13.2f} "
              f"{s['model_accesses_per_step']['median']:10.2f} "
              f"{s['state_syncs_per_step']['median']:10.2f}")
    labels = {"overhead_s": "fit wall", "cpu_overhead_s": "fit CPU",
              "hook_cpu_overhead_s": "dispatch CPU", "hook_wall_overhead_s": "dispatch wall"}
    for variant, s in summary.items():
        ratios = {k: s.get(f"{k}_ratio_after_vs_before") for k in labels}
        if any(r is not None for r in ratios.values()):
            print(f"{variant}: overhead after/before: " + ", ".join(
                f"{labels[k]} {r:.2f}x" for k, r in ratios.items() if r is not None))


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        common.emit_result(run_worker(args))
        return 0
    start = time.perf_counter()
    machine = common.machine_info()
    cpu = f"{machine['cpu']} x{machine['cpu_count']}"
    tag = args.tag or ("main" if args.steps_per_execution == 1
                       else f"spe{args.steps_per_execution}")
    runs = run_all(args, cpu)
    summary = summarize_runs(runs)
    load_end = common.load_average()
    print_table(summary, args, cpu, f"{machine['load_average_at_start']} -> {load_end}")
    payload = {
        "benchmark": "host_overhead",
        "settings": {k: v for k, v in vars(args).items() if k != "worker"},
        "machine": machine,
        "load_average_at_end": load_end,
        "versions": common.package_versions(["keras", "keras-hub", "tensorflow", "jax"]),
        "total_wall_s": round(time.perf_counter() - start, 1),
        "summary": summary,
        "runs": runs,
    }
    path = common.write_json(payload, args.output, f"host_overhead_{tag}.json")
    print(f"\nwrote {path} (total {payload['total_wall_s']} s)")
    return 0 if any(s["overhead_s"] for s in summary.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
