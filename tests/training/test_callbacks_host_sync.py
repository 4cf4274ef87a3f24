"""Issue 14: the pretraining callbacks do not read the model between their frequencies.

* A spy counts reads of the optimizer's step counters and `Callback.model` accesses (on
  JAX each one copies every state array back into the model): they grow with the number
  of logs/checkpoints, not with the number of steps.
* The host-side counters equal the optimizer's step at every periodic call and at the
  end, with `steps_per_execution` 1/2/4 and gradient accumulation.
* A non-finite loss still stops training before any checkpoint of the diverged model.
* The callbacks are `async_safe`, and on JAX Keras dispatches their batch ends
  asynchronously (subprocess).
* `pretrain(steps_per_execution=2)` (with a resume) ends with the same weights as
  `steps_per_execution=1`; frequencies that are not multiples are refused up front.
"""

import io
import json
import math
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import training_procs as procs
from checkpoint_weights import h5_datasets
from checkpoint_weights import max_abs_diff as _max_diff
from jax_env import jax_env
from pretrain_shards import write_shards

from keras_electra.training import callbacks as cb
from keras_electra.training.config import ConfigError, PretrainConfig
from keras_electra.training.metrics_sink import MetricsSink
from keras_electra.training.resume import BatchCounter

ASYNC_SAFE = (cb.TrainingLogger, cb.ValidationCallback, cb.CheckpointCallback,
              BatchCounter, cb.StopOnNonFiniteLoss, cb.StepWatchdog)


class SpySGD(keras.optimizers.SGD):
    """SGD that counts host-side reads of its step counters (`iterations`, `_iterations`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reads = 0
        self.counting = False

    def __getattribute__(self, name):
        if name in ("iterations", "_iterations") and object.__getattribute__(self, "counting"):
            object.__setattr__(self, "reads", object.__getattribute__(self, "reads") + 1)
        return super().__getattribute__(name)


def _model(accumulation=1, steps_per_execution=1):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    optimizer = SpySGD(0.01, gradient_accumulation_steps=accumulation if accumulation > 1
                       else None)
    model.compile(optimizer, "mse", steps_per_execution=steps_per_execution)
    return model


def _data(batches, batch_size=4):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batches * batch_size, 4)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def _pretrain_callbacks(frequency, saves, tmp_path):
    """The driver's callback list (as in `pretrain()`), logging every `frequency` updates."""
    sink = MetricsSink(str(tmp_path / "logs"), "spy")
    logger = cb.TrainingLogger(sink, frequency, 16, 10**6, progress=False,
                               stream=io.StringIO())
    return [cb.StopOnNonFiniteLoss({}, frequency, frequency), BatchCounter(0), logger,
            cb.CheckpointCallback(frequency, saves.append), cb.StepWatchdog(0)], sink


def _count_reads(tmp_path, batches, frequency, monkeypatch):
    model = _model()
    accesses = []
    original = keras.callbacks.Callback.model
    monkeypatch.setattr(keras.callbacks.Callback, "model", property(
        lambda self: accesses.append(type(self).__name__) or original.fget(self)))
    saves = []
    callbacks, sink = _pretrain_callbacks(frequency, saves, tmp_path)
    x, y = _data(batches)
    model.optimizer.counting = True
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=callbacks)
    model.optimizer.counting = False
    monkeypatch.setattr(keras.callbacks.Callback, "model", original)
    sink.close()
    assert saves == list(range(frequency, batches + 1, frequency))
    return model.optimizer.reads, len(accesses)


def test_model_reads_grow_with_logs_not_with_steps(tmp_path, monkeypatch):
    frequency = 10
    reads_40, model_40 = _count_reads(tmp_path / "a", 40, frequency, monkeypatch)
    reads_80, model_80 = _count_reads(tmp_path / "b", 80, frequency, monkeypatch)
    # 40 more steps = 4 more log/check/checkpoint points, a few reads at each (the logger's
    # and the checkpoint's step: `iterations` + the `_iterations` it wraps), none per step
    # (before issue 14: ~6 counter reads and 4 `model` accesses per step, i.e. >= 160 more)
    extra_points = (80 - 40) // frequency
    assert reads_80 - reads_40 <= 5 * extra_points, (reads_40, reads_80)
    assert model_80 - model_40 <= 3 * extra_points, (model_40, model_80)
    assert reads_40 <= 5 * (40 // frequency) + 6 and model_40 <= 3 * (40 // frequency) + 2


class _Recorder(cb.PeriodicCallback):
    """Records (host-side step, optimizer step) at every periodic call."""

    def __init__(self, frequency):
        super().__init__(frequency)
        self.calls = []

    def on_period(self, step):
        self.calls.append((step, cb.optimizer_step(self.model), cb.micro_steps(self.model)))


@pytest.mark.parametrize("steps_per_execution, accumulation", [
    (1, 1), (2, 1), (4, 1), (1, 2), (2, 2), (4, 2), (6, 3)])
def test_counters_equal_the_optimizer_step(steps_per_execution, accumulation):
    model = _model(accumulation, steps_per_execution)
    updates = 12
    x, y = _data(updates * accumulation)
    # a period that falls on execution ends (what the pretraining config demands)
    frequency = next(f for f in (2, 4, 6) if f * accumulation % steps_per_execution == 0)
    recorder, counter, stop_check = _Recorder(frequency), BatchCounter(0), \
        cb.StopOnNonFiniteLoss()
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0,
              callbacks=[recorder, counter, stop_check])
    assert cb.optimizer_step(model) == updates
    assert recorder.step == counter.step == stop_check.step == updates
    assert counter.consumed == updates * accumulation == cb.micro_steps(model)
    # every periodic call ran right after its update, with the model in that exact state
    expected = list(range(recorder.frequency, updates + 1, recorder.frequency))
    assert recorder.calls == [(s, s, s * accumulation) for s in expected]

    # a second fit (a resumed run) goes on from the optimizer's count
    again = _Recorder(recorder.frequency)
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[again])
    assert [c[0] for c in again.calls] == [s + updates for s in expected]
    assert [c[1] for c in again.calls] == [s + updates for s in expected]
    assert again.step == 2 * updates == cb.optimizer_step(model)


def test_period_not_dividing_the_execution_runs_at_the_next_execution_end():
    model = _model(1, 3)
    x, y = _data(12)
    recorder = _Recorder(2)
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[recorder])
    # execution ends at 3, 6, 9, 12: multiples of 2 crossed at 3 (2), 6 (4, 6), 9 (8), 12
    assert [c[0] for c in recorder.calls] == [3, 6, 9, 12]
    assert all(step == read for step, read, _ in recorder.calls)


class _Poison(keras.callbacks.Callback):
    """Make the weights NaN at the first batch end at or after update `step` (a divergence
    whose loss shows only at the next update)."""

    def __init__(self, step):
        super().__init__()
        self.step = step
        self.done = False

    def on_train_batch_end(self, batch, logs=None):
        if not self.done and cb.optimizer_step(self.model) >= self.step:
            self.done = True
            for weight in self.model.trainable_weights:
                weight.assign(np.full(weight.shape, np.nan, "float32"))


@pytest.mark.parametrize("steps_per_execution, message", [
    (1, "step 6: loss is nan"),  # poisoned after update 5: update 6's loss is NaN
    (2, "step 6: weights are not finite"),  # poisoned after update 6, loss still finite
])
def test_non_finite_loss_stops_before_any_checkpoint_of_it(steps_per_execution, message):
    model = _model(1, steps_per_execution)
    x, y = _data(20)
    saved = []

    def save(step):
        finite = all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in model.weights)
        saved.append((step, finite))

    # the driver's order: guard first, logger (resets the metrics every 4), checkpoint
    logger = cb.TrainingLogger(None, 4, 16, 20, progress=False, stream=io.StringIO())
    callbacks = [cb.StopOnNonFiniteLoss({"path": "ckpt-4"}, 2, 2), logger,
                 cb.CheckpointCallback(2, save), _Poison(5)]
    with pytest.raises(cb.NonFiniteLossError, match=message + ".*Last good checkpoint: ckpt-4"):
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=callbacks)
    assert saved == [(2, True), (4, True)]  # nothing at or after the NaN update


@pytest.mark.parametrize("poison_at, message", [
    (5, "step 7: loss is nan"), (7, "step 7: weights are not finite")])
def test_divergence_in_the_last_updates_is_caught_at_the_end(poison_at, message):
    model = _model()
    x, y = _data(7)
    guard = cb.StopOnNonFiniteLoss(None, 10)  # no periodic check inside this fit
    with pytest.raises(cb.NonFiniteLossError, match=message):
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0,
                  callbacks=[guard, _Poison(poison_at)])


def test_async_safe_flags_and_no_batch_end_work():
    from keras.src import utils

    for kind in ASYNC_SAFE:
        assert kind.async_safe is True, kind
    assert cb.StopAfterSteps.async_safe is False  # must stop on the training thread
    for kind in ASYNC_SAFE[:-1]:  # everything but the watchdog's timer re-arm
        assert utils.is_default(kind.on_train_batch_end), kind


def test_stop_after_steps_counts_on_the_host():
    x, y = _data(20)
    reads = []
    for callbacks, batches in (([], 6), ([cb.StopAfterSteps(3)], 20)):
        model = _model(2, 2)
        model.optimizer.counting = True
        model.fit(x[:batches * 4], y[:batches * 4], batch_size=4, epochs=1, shuffle=False,
                  verbose=0, callbacks=callbacks)
        assert cb.optimizer_step(model) == 3
        reads.append(model.optimizer.reads)
    assert reads[1] <= reads[0] + 1  # Keras' own (tracing) + one read at train begin


def test_watchdog_is_not_re_armed_after_train_end():
    watchdog = cb.StepWatchdog(600)
    watchdog.on_train_begin()
    watchdog.on_train_batch_end(0)
    assert watchdog._armed
    watchdog.on_train_end()
    watchdog.on_train_batch_end(1)  # a late batch end from Keras' callback thread
    assert not watchdog._armed


@pytest.mark.parametrize("overrides, message", [
    (dict(steps_per_execution=0), "--steps_per_execution must be >= 1"),
    (dict(steps_per_execution=4, log_frequency=10), "--log_frequency 10: .* multiple of 4 "
                                                    r"\(e.g. 12\)"),
    (dict(steps_per_execution=4, gradient_accumulation_steps=2, checkpoint_frequency=3),
     "--checkpoint_frequency 3: .* multiple of 2"),
    (dict(steps_per_execution=2, total_steps=7, warmup_steps=1), "--total_steps 7"),
    (dict(steps_per_execution=2, stop_after_steps=3), "--stop_after_steps 3"),
    (dict(steps_per_execution=2, val_dir="val", validation_frequency=5),
     "--validation_frequency 5"),
])
def test_steps_per_execution_must_divide_the_frequencies(overrides, message):
    values = dict(train_dir="x", total_steps=100, warmup_steps=10, log_frequency=4,
                  checkpoint_frequency=20, validation_frequency=7)
    with pytest.raises(ConfigError, match=message):
        PretrainConfig(**{**values, **overrides}).validate(check_files=False)
    ok = dict(values, steps_per_execution=4, gradient_accumulation_steps=2,
              checkpoint_frequency=10)  # 4 | 2 x every frequency; no val_dir: 7 is unused
    PretrainConfig(**ok).validate(check_files=False)


def test_cli_flag():
    from keras_electra import cli
    from keras_electra.training.config import config_from_args

    args = cli.build_parser().parse_args(["pretrain", "--train_dir", "x",
                                          "--steps_per_execution", "5"])
    assert config_from_args(args).steps_per_execution == 5
    assert PretrainConfig().steps_per_execution == 1


# ------------------------------------------------------------------- pretrain() runs
def _weights(ckpt_dir):
    return h5_datasets(os.path.join(ckpt_dir, "model.weights.h5"))


def _run(shards, out, **overrides):
    from keras_electra.training.pretrain import pretrain

    values = dict(train_dir=str(shards), model_size="tiny", max_seq_length=32,
                  per_gpu_batch_size=4, total_steps=6, warmup_steps=2, learning_rate=2e-3,
                  checkpoint_frequency=2, log_frequency=2, skip_xla=True, progress=False,
                  seed=3, shuffle_buffer=20, checkpoint_dir=str(out / "ckpt"),
                  log_dir=str(out / "logs"), run_name="r")
    return pretrain(**{**values, **overrides})


def _train_steps(out):
    path = out / "logs" / "r" / "metrics.jsonl"
    return [r["step"] for r in map(json.loads, path.read_text().splitlines())
            if r["split"] == "train"]


@pytest.mark.slow
def test_pretrain_steps_per_execution_2_with_resume_matches_1(tmp_path):
    shards = write_shards(str(tmp_path / "train"), num_examples=48, sequence_length=32,
                          num_shards=1)
    one, two = tmp_path / "one", tmp_path / "two"
    assert _run(shards, one).step == 6
    assert _run(shards, two, steps_per_execution=2, stop_after_steps=4).step == 4
    result = _run(shards, two, steps_per_execution=2)  # resumes from step 4
    assert (result.step, result.resumed_from_step) == (6, 4)
    final = os.path.join("ckpt", "worker-0", "ckpt-0000000006")
    assert _max_diff(_weights(one / final), _weights(two / final)) <= 1e-6
    state = json.loads((two / final / "state.json").read_text())
    assert state["step"] == 6 and state["batches_consumed"] == 6
    assert sorted(os.listdir(two / "ckpt" / "worker-0")) == [
        "ckpt-0000000002", "ckpt-0000000004", "ckpt-0000000006"]
    assert _train_steps(one) == _train_steps(two) == [2, 4, 6]
    assert math.isfinite(result.logs["loss"]) and result.logs["step"] == 6

    # a resume that would not start on an execution boundary is refused before training
    three = tmp_path / "three"
    _run(shards, three, stop_after_steps=3)
    with pytest.raises(ConfigError, match="resuming at step 3 with --steps_per_execution 2"):
        _run(shards, three, steps_per_execution=2)


JAX_SCRIPT = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    import keras
    sys.path.insert(0, "tests/training")
    from pretrain_shards import write_shards
    from keras_electra.training import callbacks as cb
    from keras_electra.training.metrics_sink import MetricsSink
    from keras_electra.training.pretrain import pretrain
    from keras_electra.training.resume import BatchCounter

    out = sys.argv[1]
    report = {}

    # Keras dispatches the batch ends of the driver's callbacks asynchronously
    sink = MetricsSink(None, "x")
    listed = [cb.StopOnNonFiniteLoss({}, 10), BatchCounter(0),
              cb.TrainingLogger(sink, 10, 16, 10**6, progress=False,
                                stream=open(os.devnull, "w")),
              cb.CheckpointCallback(10, lambda step: None), cb.StepWatchdog(0)]
    report["async_train"] = keras.callbacks.CallbackList(listed)._async_train

    # state syncs (all arrays back into the model) per fit: O(logs), not O(steps)
    def syncs(batches, frequency=10):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
                                  keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        count = [0]
        original = model.jax_state_sync
        def counted():
            if not model._jax_state_synced and model._jax_state:
                count[0] += 1
            return original()
        model.jax_state_sync = counted
        saves = []
        listed = [cb.StopOnNonFiniteLoss({}, frequency), BatchCounter(0),
                  cb.TrainingLogger(None, frequency, 16, 10**6, progress=False,
                                    stream=open(os.devnull, "w")),
                  cb.CheckpointCallback(frequency, saves.append), cb.StepWatchdog(0)]
        x = np.random.default_rng(0).normal(size=(batches * 4, 4)).astype("float32")
        model.fit(x, x[:, :1], batch_size=4, epochs=1, shuffle=False, verbose=0,
                  callbacks=listed)
        assert saves == list(range(frequency, batches + 1, frequency)), saves
        assert listed[1].consumed == batches == int(model.optimizer.iterations.numpy())
        return count[0]
    report["syncs"] = [syncs(40), syncs(80)]

    # pretrain(): steps_per_execution 2 and 4 with gradient accumulation 2 == 1
    write_shards(os.path.join(out, "train"), num_examples=48, sequence_length=32,
                 num_shards=1)
    def run(name, spe):
        result = pretrain(train_dir=os.path.join(out, "train"), model_size="tiny",
                          max_seq_length=32, per_gpu_batch_size=4, total_steps=4,
                          warmup_steps=1, gradient_accumulation_steps=2,
                          steps_per_execution=spe, checkpoint_frequency=2, log_frequency=2,
                          progress=False, seed=5, shuffle_buffer=20, run_name="j",
                          checkpoint_dir=os.path.join(out, name, "ckpt"),
                          log_dir=os.path.join(out, name, "logs"))
        import h5py
        final = os.path.join(out, name, "ckpt", "worker-0", "ckpt-0000000004")
        weights = {}
        with h5py.File(os.path.join(final, "model.weights.h5"), "r") as f:
            f.visititems(lambda n, o: weights.__setitem__(n, o[()])
                         if isinstance(o, h5py.Dataset) else None)
        state = json.load(open(os.path.join(final, "state.json")))
        return result.step, state["batches_consumed"], weights
    runs = {spe: run(f"spe{spe}", spe) for spe in (1, 2, 4)}
    report["steps"] = {spe: r[:2] for spe, r in runs.items()}
    report["max_diff"] = {spe: max(float(np.max(np.abs(
        np.asarray(r[2][k], np.float64) - np.asarray(runs[1][2][k], np.float64))))
        if np.asarray(r[2][k]).size else 0.0 for k in r[2]) for spe, r in runs.items()}
    print("REPORT " + json.dumps(report), flush=True)
""")


@pytest.mark.jax
@pytest.mark.slow
def test_jax_async_dispatch_syncs_and_steps_per_execution(tmp_path):
    script = tmp_path / "jax_host_sync.py"
    script.write_text(JAX_SCRIPT)
    env = jax_env(procs.base_env())
    result = subprocess.run([sys.executable, str(script), str(tmp_path)], env=env,
                            cwd=procs.PROJECT_ROOT, capture_output=True, text=True,
                            timeout=900)
    line = [x for x in result.stdout.splitlines() if x.startswith("REPORT ")]
    assert result.returncode == 0 and line, result.stdout[-3000:] + result.stderr[-5000:]
    report = json.loads(line[0][len("REPORT "):])
    assert report["async_train"] is True
    syncs_40, syncs_80 = report["syncs"]
    assert syncs_80 - syncs_40 <= 40 // 10 and syncs_40 <= 40 // 10 + 1, report["syncs"]
    assert report["steps"] == {"1": [4, 8], "2": [4, 8], "4": [4, 8]}
    assert report["max_diff"] == {"1": 0.0, "2": 0.0, "4": 0.0}, report["max_diff"]
