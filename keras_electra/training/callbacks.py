"""Callbacks of the pretraining driver: logging, validation + example view, checkpoints.

* `TrainingLogger` - every `log_frequency` updates (and at `total_steps`): hands the
  values to the run's `MetricsSink` (`training/metrics_sink.py`: one stable metrics
  line on stdout, scraped by SageMaker; one JSONL record; TensorBoard scalars
  `train/<metric>`, `learning_rate`, `tokens_per_s`, `step_time_s` under
  `log_dir/run_name`), a tqdm progress-bar update (gen/disc loss, accuracies,
  lr, tokens/s), then a reset of the metric accumulators, so logged metrics
  are averages over the last `log_frequency` updates (not since the start);
  tokens/s, steps/s and step time are averages over the same window.
* `ValidationCallback` - every `validation_frequency` updates: a fixed number of
  validation batches through `model.evaluate` (no dropout; the pretrainer's
  evaluation random stream), logged as `val_*`, plus the AWS scripts' example
  view (original / masked / generated / discriminator) as TensorBoard text and
  in the log.
* `CheckpointCallback` - every `checkpoint_frequency` optimizer updates (and at
  the end, by the driver): atomic checkpoint + preset export.
* `StopOnNonFiniteLoss` - raises `NonFiniteLossError` before any checkpoint of a
  diverged model (see its docstring for when it checks).

No per-step host sync (issue 14): between their frequencies these callbacks
never touch the model. On JAX, `Callback.model` copies all ~1,300 state arrays
back into the model (`jax_state_sync`) and reading a value waits for the step;
on TF, reading `optimizer.iterations` or the schedule is a device round trip.
So each callback keeps its own position on the host (`PeriodicCallback`: fit
batches consumed, read once from the optimizer at train begin, then advanced
from the batch index Keras passes), and does its work in
`on_train_batch_begin` of the next execution (or `on_epoch_end` for the last),
on the training thread, when the model holds exactly the state after that
update. None of them overrides `on_train_batch_end` except `StepWatchdog`
(a timer re-arm), so they are all `async_safe`: on JAX, Keras then dispatches
the per-batch log conversion to a worker thread instead of blocking the
training loop on it, and the host runs ahead of the device between two log
steps. (On TF, Keras converts the logs on the training thread every execution
whatever the callbacks declare, `IS_THREAD_SAFE = False`;
`--steps_per_execution k` divides that cost by k. On a 2-core CPU the JAX
run-ahead competes with XLA's compute threads: benchmarks/RESULTS.md, "Host
overhead per step (issue 14)".)

Only the chief (worker 0) writes logs, TensorBoard and presets; every worker
writes its own checkpoint copy (see `checkpointing.py`) and every worker reads
the metrics at the same points (under MultiWorkerMirroredStrategy reading a
metric is a collective). Steps are optimizer updates (`optimizer.iterations`),
so gradient accumulation does not change the step numbers; a "batch" is one
fit batch (one micro-batch under accumulation).
"""

import logging
import math
import sys
import threading
import time

import keras
import numpy as np

from keras_electra.training.metrics_sink import MetricsSink

logger = logging.getLogger(__name__)

PROGRESS_KEYS = (("gen_loss", "gen_loss"), ("disc_loss", "disc_loss"),
                 ("gen_accuracy", "gen_acc"), ("disc_accuracy", "disc_acc"),
                 ("lr", "lr"), ("tokens_per_s", "tok/s"))


def _scalar(value):
    try:
        value = float(np.asarray(value).reshape(()))
    except (TypeError, ValueError):
        return None
    return value


def console_sink(sink, is_chief, stream):
    """A callback's view of the run's `MetricsSink` (None: console only), printing to `stream`
    when `is_chief`."""
    return (sink if sink is not None else MetricsSink()).console(is_chief, stream)


def to_int(value):
    """int() of a Keras/TF (possibly Mirrored) variable or tensor."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    return int(np.asarray(value))


def _inner_optimizer(model):
    optimizer = model.optimizer
    return getattr(optimizer, "inner_optimizer", optimizer)


def optimizer_step(model):
    """Completed optimizer updates (micro-steps // accumulation); reads the device."""
    return to_int(model.optimizer.iterations)


def accumulation_steps(model):
    """Fit batches per optimizer update (`gradient_accumulation_steps`); no device read."""
    return int(getattr(_inner_optimizer(model), "gradient_accumulation_steps", None) or 1)


def micro_steps(model):
    """Fit batches the optimizer has taken (its raw `_iterations` counter); reads the device."""
    # private read: keras 3.15 `Optimizer._iterations` (tests/models/test_models_keras_patches.py)
    return to_int(_inner_optimizer(model)._iterations)


def current_learning_rate(model):
    """The lr the *next* update will use, from the unwrapped schedule at `iterations`."""
    inner = _inner_optimizer(model)
    schedule = getattr(inner, "learning_rate_schedule", None)
    if schedule is not None:
        return float(schedule(to_int(inner.iterations)))
    return float(inner.learning_rate)


def loss_value(model):
    """The mean training loss since the last metric reset, as a float (reads the device)."""
    # private read: keras 3.15 `Trainer._loss_tracker` (tests/training/test_training_keras_patches.py)
    from keras_electra.utils.upstream import check_upstream

    check_upstream("training.callbacks.loss_value (reads keras Trainer._loss_tracker)")
    tracker = getattr(model, "_loss_tracker", None)
    if tracker is not None:
        return _scalar(tracker.result())
    return _scalar(model.get_metrics_result().get("loss", float("nan")))


def weights_finite(model):
    """True if every trainable weight is finite (reduced on the device, one value read)."""
    ops = keras.ops
    checks = [ops.all(ops.isfinite(v)) for v in model.trainable_variables]
    return bool(ops.convert_to_numpy(ops.all(ops.stack(checks)))) if checks else True


class PeriodicCallback(keras.callbacks.Callback):
    """Base class: work every `frequency` optimizer updates, nothing in between.

    The callback keeps its position - fit batches consumed since step 0
    (micro-steps under gradient accumulation) - on the host: read once at
    train begin (from `initial_batches`, or from the optimizer's raw
    iteration counter), then advanced from the batch index Keras passes to
    `on_train_batch_begin` (the first batch of the coming execution, i.e. the
    batches done in this epoch; with `steps_per_execution=k` Keras calls it
    once per k batches) and, for the last execution, at `on_epoch_end`. When
    the position crosses a multiple of `frequency * accumulation` and sits on
    an update boundary, `on_period(step)` runs - on the training thread, before
    the next execution starts, with the model holding exactly the state after
    that update. With `steps_per_execution` not dividing the period, the work
    happens at the first execution end after each multiple (the pretraining
    config refuses such settings). `frequency <= 0` disables the periodic work.

    `on_period` gets the batch-derived step. Under `mixed_float16` an update
    skipped by the loss-scale optimizer does not advance `optimizer.iterations`,
    so the periods count fit batches from the step the fit started at; the
    checkpoint and validation callbacks label their work with the step read
    from the optimizer at that point. A last execution cut short by finite data
    counts as full (as Keras' own batch index does); pretraining data repeats.

    `async_safe`: nothing runs in `on_train_batch_end`.

    Args:
        frequency: optimizer updates between two calls of `on_period`.
        initial_batches: the position at the first train begin (later fits go on
            from where the last ended). Default: read it from the optimizer's
            `_iterations` at every train begin.

    Example:
    ```python
    class Every100(PeriodicCallback):
        def on_period(self, step):
            print(step, float(self.model.optimizer.learning_rate))

    model.fit(data, callbacks=[Every100(100)])
    ```
    """

    async_safe = True

    def __init__(self, frequency=1, initial_batches=None):
        super().__init__()
        self.frequency = int(frequency or 0)
        self.initial_batches = None if initial_batches is None else int(initial_batches)
        self.accumulation = 1
        self.steps_per_execution = 1
        self.position = self.initial_batches  # fit batches consumed since step 0
        self._epoch_start = self.position or 0
        self._epoch_batches = 0
        self._handled = self.position  # position of the last periodic work (or the start)

    @property
    def step(self):
        """Optimizer updates done, from the host-side position (None before training)."""
        return None if self.position is None else self.position // self.accumulation

    def on_train_begin(self, logs=None):
        model = self._model  # not self.model: no JAX state sync for two Python ints
        self.accumulation = accumulation_steps(model)
        self.steps_per_execution = int(getattr(model, "steps_per_execution", 1) or 1)
        if self.initial_batches is None:
            self.position = micro_steps(model)  # the one device read of a fit
        # else: `initial_batches` at the first fit, then where the last fit ended
        self._epoch_start = self.position
        self._epoch_batches = 0
        self._handled = self.position

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self.position
        self._epoch_batches = 0

    def on_train_batch_begin(self, batch, logs=None):
        self._advance(self._epoch_start + batch)
        self._epoch_batches = batch + self.steps_per_execution

    def on_epoch_end(self, epoch, logs=None):
        self._advance(self._epoch_start + self._epoch_batches)
        self.on_epoch_end_position()

    def _advance(self, position):
        self.position = position
        if self.frequency <= 0 or position % self.accumulation:
            return
        span = self.frequency * self.accumulation
        if position // span > self._handled // span:
            self._handled = position
            self.on_period(position // self.accumulation)

    def on_period(self, step):
        """Subclasses: the periodic work after update `step` (host-side count)."""

    def on_epoch_end_position(self):
        """Subclasses: called at every epoch end, after the last execution's periodic work."""


class TrainingLogger(PeriodicCallback):
    """Metrics lines, JSONL records, TensorBoard scalars and a progress bar (see module doc).

    Everything happens every `log_frequency` updates (and at `total_steps`),
    from the model's metric accumulators, which are then reset: between two
    logs nothing is read from the device.

    Args:
        sink: the run's `MetricsSink` (console, TensorBoard, JSONL), or None for the
            console only.
        log_frequency: updates between metrics lines / JSONL records / metric resets.
        tokens_per_batch: tokens in one global (micro-)batch, for tokens/s.
        total_steps: for the progress bar; also logged when reached.
        initial_step: the step the run (re)starts from (the progress bar's start).
        is_chief: only the chief prints.
        progress: show a tqdm bar (chief only).
        stream: where metrics lines go (stdout by default; the sink prints them).
    """

    def __init__(self, sink, log_frequency, tokens_per_batch, total_steps, initial_step=0,
                 is_chief=True, progress=True, stream=None):
        super().__init__(max(1, int(log_frequency)))
        self.sink = console_sink(sink, is_chief, stream)
        self.log_frequency = self.frequency
        self.tokens_per_batch = int(tokens_per_batch)
        self.total_steps = int(total_steps)
        self.initial_step = int(initial_step)
        self.is_chief = is_chief
        self.progress = progress and is_chief
        self.stream = stream
        self._bar = None
        self._window_start = None
        self._window_position = 0
        self._last_logged_position = None
        self.last_logs = {}

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._window_start = time.perf_counter()
        self._window_position = self.position
        if self.progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total_steps, initial=self.initial_step, unit="step",
                             dynamic_ncols=True, file=sys.stderr,
                             mininterval=0.5 if sys.stderr.isatty() else 30.0)

    def _advance(self, position):
        super()._advance(position)
        # the last update of the run is logged even off the log frequency
        if (position % self.accumulation == 0 and self.step == self.total_steps
                and position != self._last_logged_position):
            self._handled = position
            self._log(position, record=True)

    def on_period(self, step):
        self._log(self.position, record=True)

    def on_epoch_end_position(self):
        if self.position != self._last_logged_position:  # result.logs: the last update's
            self._log(self.position, record=False)

    def _log(self, position, record):
        model = self.model  # JAX: the one state sync of this log step
        now = time.perf_counter()
        batches = position - self._window_position
        window = max(now - self._window_start, 1e-9)
        step = optimizer_step(model)
        values = {k: _scalar(v) for k, v in model.get_metrics_result().items()}
        values = {k: v for k, v in values.items() if v is not None}
        values["lr"] = current_learning_rate(model)
        values["tokens_per_s"] = batches * self.tokens_per_batch / window
        values["steps_per_s"] = batches / window
        values["step_time_s"] = window / max(batches, 1)
        self._last_logged_position = position
        self.last_logs = dict(values, step=step)
        if self._bar is not None:
            self._bar.n = step
            self._bar.set_postfix({short: f"{values[k]:.4g}" for k, short in PROGRESS_KEYS
                                   if k in values}, refresh=False)
            self._bar.refresh()
        if not record:
            return
        self.sink.write(step, values, split="train")
        # windowed averages: start the next log window from zero
        model.reset_metrics()
        self._window_start = now
        self._window_position = position

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def example_view(model, batch, tokenizer=None, step=0, max_tokens=48, row=0):
    """The AWS scripts' validation view of one sequence: four aligned lines.

    ORIGINAL / MASKED ([MASK] where the generator input was masked) /
    GENERATED (sampled replacements shown as `*tok*`) / DISCRIMINATOR (tokens
    it flags as replaced shown as `[tok]`; `!` after a wrong guess). Uses the
    evaluation random stream of `step`, no dropout, no collectives.
    """
    inputs = {k: np.asarray(batch[k])[row:row + 1] for k in
              ("token_ids", "segment_ids", "padding_mask")}
    seeds = model._seeds(np.int32(step), stream_offset=3)
    sequence_length = inputs["token_ids"].shape[1]
    noise = model.draw_noise(1, sequence_length, seeds)
    out = model.forward(inputs, noise, normalizers=None, training=False)
    original = inputs["token_ids"][0]
    masked = np.asarray(out["masked_ids"])[0]
    corrupted = np.asarray(out["corrupted_ids"])[0]
    labels = np.asarray(out["labels"])[0].astype(bool)
    guesses = np.asarray(out["disc_logits"])[0] > 0
    length = int(np.asarray(inputs["padding_mask"])[0].sum())
    length = min(length, max_tokens)

    def word(i):
        if tokenizer is not None:
            try:
                return tokenizer.id_to_token(int(i))
            except Exception:  # noqa: BLE001 - out-of-vocab id from a mismatched tokenizer
                pass
        return str(int(i))

    lines = {
        "ORIGINAL": [word(t) for t in original[:length]],
        "MASKED": [word(t) for t in masked[:length]],
        "GENERATED": [f"*{word(c)}*" if lab else word(c)
                      for c, lab in zip(corrupted[:length], labels[:length])],
        "DISCRIMINATOR": [(f"[{word(c)}]" if g else word(c)) + ("!" if g != lab else "")
                          for c, g, lab in zip(corrupted[:length], guesses[:length],
                                               labels[:length])],
    }
    replaced = int(labels[:length].sum())
    flagged = int(guesses[:length].sum())
    wrong = int((guesses[:length] != labels[:length]).sum())
    text = "\n".join(f"{name:<13} {' '.join(tokens)}" for name, tokens in lines.items())
    return text + f"\n(replaced {replaced}, flagged {flagged}, wrong {wrong} of {length} tokens)"


class ValidationCallback(PeriodicCallback):
    """Validation every `frequency` updates on `steps` fixed batches + the example view.

    The validation dataset must be finite-or-repeating and deterministic; the
    same `steps` batches are used every time (the iterator is re-created).
    Runs between two executions on the training thread (see `PeriodicCallback`).
    """

    def __init__(self, dataset, steps, frequency, sink=None, tokenizer=None, is_chief=True,
                 stream=None, cue_free=None):
        super().__init__(frequency)
        self.dataset = dataset
        # callable(model) -> {"cue_free_auc", "context_free_auc", ...} or None
        self.cue_free = cue_free
        self.steps = int(steps)
        self.sink = console_sink(sink, is_chief, stream)
        self.tokenizer = tokenizer
        self.is_chief = is_chief
        self.stream = stream
        self._last_step = None
        self._example_batch = None
        self.history = []

    def on_period(self, step):
        step = optimizer_step(self.model)
        if step and step != self._last_step:
            self.run(step)

    def run(self, step):
        self._last_step = step
        results = self.model.evaluate(self.dataset, steps=self.steps, verbose=0,
                                      return_dict=True)
        # evaluate() leaves its own values in the metric accumulators; the next
        # training window must not average them in.
        self.model.reset_metrics()
        values = {f"val_{k}": _scalar(v) for k, v in results.items()}
        if self.cue_free is not None:
            # no collective inside: every process computes the same thing on host batches
            values.update({f"val_{k}": _scalar(v) for k, v in self.cue_free(self.model).items()})
        values = {k: v for k, v in values.items() if v is not None}
        self.history.append((step, values))
        self.sink.write(step, values, split="validation")
        if self._example_batch is None:
            # every worker: iterating a distributed dataset can run collectives (MWMS)
            self._example_batch = self._first_batch()
        if self.is_chief:
            try:
                view = example_view(self.model, self._example_batch, self.tokenizer, step)
            except Exception as error:  # noqa: BLE001 - never kill training for a log view
                view = f"(example view unavailable: {error})"
            self.sink.example(step, view)


    def _first_batch(self):
        """The first validation batch as host arrays (this process's first replica's rows when
        the dataset is a `tf.distribute` distributed dataset)."""
        if hasattr(self.dataset, "take"):
            batch = next(iter(self.dataset.take(1)))
        else:
            batch = next(iter(self.dataset))
        if isinstance(batch, tuple):
            batch = batch[0]
        return {k: getattr(v, "values", (v,))[0] for k, v in batch.items()}


class CheckpointCallback(PeriodicCallback):
    """Call `save_fn(step)` every `frequency` optimizer updates (after the update).

    Runs between two executions on the training thread (see `PeriodicCallback`); `step` is
    read from the optimizer, so it is what the checkpoint restores.
    """

    def __init__(self, frequency, save_fn):
        super().__init__(frequency)
        self.save_fn = save_fn
        self.last_saved = None

    def on_period(self, step):
        step = optimizer_step(self.model)
        if step and step != self.last_saved:
            self.save_fn(step)
            self.last_saved = step


class StopAfterSteps(PeriodicCallback):
    """Test hook: stop training once `step` optimizer updates are done.

    Counts on the host (one optimizer read at train begin). Not `async_safe`: it must set
    `stop_training` on the training thread before Keras looks at it after the execution.
    """

    async_safe = False

    def __init__(self, step):
        super().__init__(0)
        self.stop_step = int(step)

    def on_train_batch_end(self, batch, logs=None):
        done = self._epoch_start + batch + 1
        if done % self.accumulation == 0 and done // self.accumulation >= self.stop_step:
            self._model.stop_training = True


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; training stopped without checkpointing it."""


class StopOnNonFiniteLoss(PeriodicCallback):
    """Raise `NonFiniteLossError` when training diverged, before any checkpoint of it.

    Checks, on the training thread between two executions:

    * the mean loss since the last metric reset (a NaN or Inf in any update since then
      makes it non-finite) every `frequency` updates and at every epoch end;
    * that every trainable weight is finite, every `weights_frequency` updates and at
      every epoch end: an update from overflowing gradients can leave NaN weights after a
      finite loss, which the next loss would show only after the checkpoint.

    Put it first, with `frequency` dividing every frequency at which another callback
    checkpoints or resets the metrics (the driver passes gcd(log, checkpoint, validation
    frequencies)) and `weights_frequency` = the checkpoint frequency: then every update's
    loss is checked before it could be averaged away, and no checkpoint (callback or the
    driver's final save after `fit`) is written of a diverged model. A divergence is
    caught up to `frequency` updates late; those updates are lost anyway.

    Raising (rather than `stop_training`) leaves `fit` before any later callback and before
    the driver's final save, so the newest checkpoint stays the last good one.
    `last_checkpoint` is the driver's `{"path": ..., "step": ...}` dict, named in the
    message. Under `mixed_float16` an overflowing step is skipped by the loss-scale
    optimizer (its loss stays finite), so this only fires on a real divergence.

    Args:
        last_checkpoint: dict with the newest checkpoint's "path" (or None).
        frequency: optimizer updates between loss checks (1: after every execution).
        weights_frequency: optimizer updates between weight checks (0: only at epoch end).
    """

    def __init__(self, last_checkpoint=None, frequency=1, weights_frequency=0):
        super().__init__(frequency)
        self.last_checkpoint = last_checkpoint
        self.weights_frequency = int(weights_frequency or 0)
        self._checked = None

    def on_period(self, step):
        self.check(weights=self.weights_frequency > 0 and not self.position % (
            self.weights_frequency * self.accumulation))

    def on_epoch_end_position(self):
        self.check(loss=self._checked != self.position, weights=True)

    def check(self, loss=True, weights=False):
        """Raise `NonFiniteLossError` if the loss since the last reset (or a weight) is not
        finite."""
        self._checked = self.position
        model = self.model
        problem = None
        if loss:
            value = loss_value(model)
            if value is not None and not math.isfinite(value):
                problem = f"loss is {value}"
        if problem is None and weights and not weights_finite(model):
            problem = "weights are not finite (NaN/Inf) after a finite loss"
        if problem is None:
            return
        path = (self.last_checkpoint or {}).get("path")
        raise NonFiniteLossError(
            f"step {optimizer_step(model)}: {problem}; training stopped and nothing "
            f"was saved for this step. Last good checkpoint: {path or 'none'}. Lower "
            "--learning_rate or raise --warmup_steps (or use --precision float32), then rerun "
            "the same command to resume from that checkpoint.")


class StepWatchdog(keras.callbacks.Callback):
    """End the process if one training step takes longer than `seconds`.

    The timed interval runs from one batch end to the next, so it includes the step and the
    periodic work (logging, validation, checkpoint) done before the next execution. With
    `steps_per_execution=k` one interval holds k steps and the limit is `k * seconds`.

    Under MultiWorkerMirroredStrategy a peer that dies mid-run can leave the survivors
    blocked inside a collective for ever (TensorFlow does not always notice a lost peer;
    measured with TF 2.21 on loopback). A blocked worker holds its node without progress,
    and job schedulers (SageMaker, Kubernetes) only restart a job whose processes exit.
    This callback re-arms `faulthandler.dump_traceback_later(seconds, exit=True)` at every
    batch end: the timer runs outside the Python interpreter (it fires even while TensorFlow
    holds the GIL), prints every thread's stack and exits with code 1, after which the
    restarted job resumes from the last checkpoint. The first step (tracing, XLA compile)
    is not timed. `seconds <= 0` disables it.

    `async_safe`: the re-arm reads nothing from the model; when Keras runs it on its
    callback thread, a lock keeps a late re-arm from outliving `on_train_end`.

    Example:
    ```python
    from keras_electra.training.callbacks import StepWatchdog
    model.fit(x, y, callbacks=[StepWatchdog(1800)])
    ```
    """

    async_safe = True

    def __init__(self, seconds):
        super().__init__()
        self.seconds = float(seconds)
        self._armed = False
        self._announced = False
        self._closed = False
        self._scale = 1
        self._lock = threading.Lock()

    def _arm(self):
        from keras_electra.training.distribute import arm_fault_timer

        if self.seconds <= 0:
            return
        if not self._announced:
            print(f"keras-electra: step watchdog: a step (with its validation/checkpoint) "
                  f"taking longer than "
                  f"{self.seconds:.0f} s (e.g. blocked on a lost worker) dumps the stacks and "
                  "exits with code 1 so that the job restarts from its last checkpoint "
                  "(--step_timeout_s; 0 disables).", file=sys.stderr, flush=True)
            self._announced = True
        self._armed = arm_fault_timer(self.seconds * self._scale, "step watchdog")
        if not self._armed:  # e.g. a notebook kernel without a stderr descriptor
            self.seconds = 0

    def _disarm(self):
        import faulthandler

        if self._armed:
            faulthandler.cancel_dump_traceback_later()
            self._armed = False

    def on_train_begin(self, logs=None):
        with self._lock:
            self._closed = False
            self._scale = int(getattr(self._model, "steps_per_execution", 1) or 1)

    def on_train_batch_end(self, batch, logs=None):
        with self._lock:
            if not self._closed:
                self._arm()

    def on_train_end(self, logs=None):
        with self._lock:
            self._closed = True
            self._disarm()
