"""Callbacks of the pretraining driver: logging, validation + example view, checkpoints.

* `TrainingLogger` - every step: lr, tokens/s, steps/s and step time are added
  to the logs; a tqdm progress bar shows gen/disc loss, accuracies, lr and
  tokens/s; TensorBoard scalars (`train/<metric>`, `learning_rate`,
  `tokens_per_s`, `step_time_s`) under `log_dir/run_name`. Every
  `log_frequency` steps: one stable metrics line on stdout
  (`keras_electra.sagemaker.metrics_format`, scraped by SageMaker), one JSONL
  record, and a reset of the metric accumulators, so logged metrics are
  averages over the last `log_frequency` steps (not since the start).
* `ValidationCallback` - every `validation_frequency` steps: a fixed number of
  validation batches through `model.evaluate` (no dropout; the pretrainer's
  evaluation random stream), logged as `val_*`, plus the AWS scripts' example
  view (original / masked / generated / discriminator) as TensorBoard text and
  in the log.
* `CheckpointCallback` - every `checkpoint_frequency` optimizer updates (and at
  the end, by the driver): atomic checkpoint + preset export.

Only the chief (worker 0) writes logs, TensorBoard and presets; every worker
writes its own checkpoint copy (see `checkpointing.py`). Steps are optimizer
updates (`optimizer.iterations`), so gradient accumulation does not change the
step numbers.
"""

import json
import logging
import math
import os
import sys
import time

import keras
import numpy as np

logger = logging.getLogger(__name__)

PROGRESS_KEYS = (("gen_loss", "gen_loss"), ("disc_loss", "disc_loss"),
                 ("gen_accuracy", "gen_acc"), ("disc_accuracy", "disc_acc"),
                 ("lr", "lr"), ("tokens_per_s", "tok/s"))


def _format_metrics_line(step, logs):
    try:
        from keras_electra.sagemaker.metrics_format import format_metrics_line
    except ImportError:  # pragma: no cover - the sagemaker helper's module is in the repo
        parts = [f"step {int(step)}"] + [f"{k}={float(v):.6g}" for k, v in logs.items()]
        return " ".join(parts)
    return format_metrics_line(step, logs)


def _scalar(value):
    try:
        value = float(np.asarray(value).reshape(()))
    except (TypeError, ValueError):
        return None
    return value


def _plugin_metadata(plugin_name):
    """TensorBoard plugin metadata, built with TF core only.

    TF 2.21 no longer installs the `tensorboard` package, so `tf.summary.scalar`
    and `tf.summary.text` raise TBNotInstalledError; `tf.summary.write` with the
    plugin name produces the same event records TensorBoard reads.
    """
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = plugin_name
    return metadata


class _Sink:
    """Chief-only writers: TensorBoard (tf.summary) + JSONL file."""

    def __init__(self, log_dir, run_name, is_chief=True):
        self.is_chief = is_chief
        self.run_dir = os.path.join(log_dir, run_name) if log_dir else None
        self._writer = None
        self._jsonl = None
        if is_chief and self.run_dir:
            os.makedirs(self.run_dir, exist_ok=True)
            self._jsonl = open(os.path.join(self.run_dir, "metrics.jsonl"), "a",
                               encoding="utf-8")

    @property
    def writer(self):
        if self._writer is None and self.is_chief and self.run_dir:
            import tensorflow as tf

            self._writer = tf.summary.create_file_writer(self.run_dir)
        return self._writer

    def scalars(self, step, values, prefix=""):
        writer = self.writer
        if writer is None:
            return
        import tensorflow as tf

        with writer.as_default(step=int(step)):
            for key, value in values.items():
                if value is not None and math.isfinite(value):
                    tf.summary.write(prefix + key, tf.constant(value, tf.float32),
                                     metadata=_plugin_metadata("scalars"))

    def text(self, step, tag, text):
        writer = self.writer
        if writer is None:
            return
        import tensorflow as tf

        with writer.as_default(step=int(step)):
            tf.summary.write(tag, tf.constant(text), metadata=_plugin_metadata("text"))
        writer.flush()

    def record(self, record):
        if self._jsonl is not None:
            self._jsonl.write(json.dumps(record, sort_keys=True) + "\n")
            self._jsonl.flush()

    def flush(self):
        if self._writer is not None:
            self._writer.flush()

    def close(self):
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None


def to_int(value):
    """int() of a Keras/TF (possibly Mirrored) variable or tensor."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    return int(np.asarray(value))


def optimizer_step(model):
    """Completed optimizer updates (micro-steps // accumulation)."""
    return to_int(model.optimizer.iterations)


def is_update_boundary(model):
    """True right after an optimizer update (not between accumulation micro-steps)."""
    optimizer = model.optimizer
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    n = inner.gradient_accumulation_steps or 1
    return to_int(inner._iterations) % n == 0


def current_learning_rate(model):
    """The lr the *next* update will use, from the unwrapped schedule at `iterations`."""
    optimizer = model.optimizer
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    schedule = getattr(inner, "learning_rate_schedule", None)
    if schedule is not None:
        return float(schedule(to_int(inner.iterations)))
    return float(inner.learning_rate)


class TrainingLogger(keras.callbacks.Callback):
    """Progress bar, TensorBoard scalars, JSONL and SageMaker metrics lines (see module doc).

    Args:
        sink: the shared `_Sink` (TensorBoard + JSONL), or None to log nowhere.
        log_frequency: steps between metrics lines / JSONL records / metric resets.
        tokens_per_batch: tokens in one global (micro-)batch, for tokens/s.
        total_steps: for the progress bar.
        initial_step: the step the run (re)starts from.
        is_chief: only the chief prints.
        progress: show a tqdm bar (chief only).
        stream: where metrics lines go (stdout by default).
    """

    def __init__(self, sink, log_frequency, tokens_per_batch, total_steps, initial_step=0,
                 is_chief=True, progress=True, stream=None):
        super().__init__()
        self.sink = sink
        self.log_frequency = max(1, int(log_frequency))
        self.tokens_per_batch = int(tokens_per_batch)
        self.total_steps = int(total_steps)
        self.initial_step = int(initial_step)
        self.is_chief = is_chief
        self.progress = progress and is_chief
        self.stream = stream
        self._bar = None
        self._last_time = None
        self._window_start = None
        self._window_batches = 0
        self._last_logged_step = None
        self.last_logs = {}

    def on_train_begin(self, logs=None):
        now = time.perf_counter()
        self._last_time = now
        self._window_start = now
        self._window_batches = 0
        if self.progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total_steps, initial=self.initial_step, unit="step",
                             dynamic_ncols=True, file=sys.stderr,
                             mininterval=0.5 if sys.stderr.isatty() else 30.0)

    def on_train_batch_end(self, batch, logs=None):
        if logs is None:
            return
        now = time.perf_counter()
        step_time = now - self._last_time
        self._last_time = now
        self._window_batches += 1
        step = optimizer_step(self.model)
        window = max(now - self._window_start, 1e-9)
        logs["lr"] = current_learning_rate(self.model)
        logs["tokens_per_s"] = self._window_batches * self.tokens_per_batch / window
        logs["steps_per_s"] = self._window_batches / window
        logs["step_time_s"] = step_time
        if not is_update_boundary(self.model) or step == self._last_logged_step:
            return
        self._last_logged_step = step
        values = {k: _scalar(v) for k, v in logs.items()}
        values = {k: v for k, v in values.items() if v is not None}
        self.last_logs = dict(values, step=step)
        if self.sink is not None:
            self.sink.scalars(step, {f"train/{k}": v for k, v in values.items()
                                     if k not in ("lr", "tokens_per_s", "steps_per_s",
                                                  "step_time_s")})
            self.sink.scalars(step, {"learning_rate": values["lr"],
                                     "tokens_per_s": values["tokens_per_s"],
                                     "step_time_s": step_time})
        if self._bar is not None:
            self._bar.n = step
            self._bar.set_postfix({short: f"{values[k]:.4g}" for k, short in PROGRESS_KEYS
                                   if k in values}, refresh=False)
            self._bar.refresh()
        if step % self.log_frequency == 0 or step == self.total_steps:
            if self.is_chief:
                print(_format_metrics_line(step, values), file=self.stream or sys.stdout,
                      flush=True)
            if self.sink is not None:
                self.sink.record({"step": step, "time": time.time(), "split": "train",
                                  **values})
                self.sink.flush()
            # windowed averages: start the next log window from zero
            self.model.reset_metrics()
            self._window_start = now
            self._window_batches = 0

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


class ValidationCallback(keras.callbacks.Callback):
    """Validation every `frequency` steps on `steps` fixed batches + the example view.

    The validation dataset must be finite-or-repeating and deterministic; the
    same `steps` batches are used every time (the iterator is re-created).
    """

    def __init__(self, dataset, steps, frequency, sink=None, tokenizer=None, is_chief=True,
                 stream=None):
        super().__init__()
        self.dataset = dataset
        self.steps = int(steps)
        self.frequency = int(frequency)
        self.sink = sink
        self.tokenizer = tokenizer
        self.is_chief = is_chief
        self.stream = stream
        self._last_step = None
        self._example_batch = None
        self.history = []

    def on_train_batch_end(self, batch, logs=None):
        if self.frequency <= 0 or not is_update_boundary(self.model):
            return
        step = optimizer_step(self.model)
        if step == 0 or step % self.frequency or step == self._last_step:
            return
        self.run(step)

    def run(self, step):
        self._last_step = step
        results = self.model.evaluate(self.dataset, steps=self.steps, verbose=0,
                                      return_dict=True)
        # evaluate() leaves its own values in the metric accumulators; the next
        # training window must not average them in.
        self.model.reset_metrics()
        values = {f"val_{k}": _scalar(v) for k, v in results.items()}
        values = {k: v for k, v in values.items() if v is not None}
        self.history.append((step, values))
        if self.is_chief:
            print(_format_metrics_line(step, values), file=self.stream or sys.stdout,
                  flush=True)
        if self.sink is not None:
            self.sink.scalars(step, {k.replace("val_", "val/", 1): v for k, v in values.items()})
            self.sink.record({"step": step, "time": time.time(), "split": "validation",
                              **values})
        if self.is_chief:
            if self._example_batch is None:
                self._example_batch = next(iter(self.dataset.take(1)))
                if isinstance(self._example_batch, tuple):
                    self._example_batch = self._example_batch[0]
            try:
                view = example_view(self.model, self._example_batch, self.tokenizer, step)
            except Exception as error:  # noqa: BLE001 - never kill training for a log view
                view = f"(example view unavailable: {error})"
            logger.info("validation example at step %d:\n%s", step, view)
            print(f"validation example (step {step}):\n{view}", file=self.stream or sys.stdout,
                  flush=True)
            if self.sink is not None:
                self.sink.text(step, "validation/example", "```\n" + view + "\n```")
                self.sink.flush()


class CheckpointCallback(keras.callbacks.Callback):
    """Call `save_fn(step)` every `frequency` optimizer updates (after the update)."""

    def __init__(self, frequency, save_fn):
        super().__init__()
        self.frequency = int(frequency)
        self.save_fn = save_fn
        self.last_saved = None

    def on_train_batch_end(self, batch, logs=None):
        if self.frequency <= 0 or not is_update_boundary(self.model):
            return
        step = optimizer_step(self.model)
        if step and step % self.frequency == 0 and step != self.last_saved:
            self.save_fn(step)
            self.last_saved = step


class BatchCounter(keras.callbacks.Callback):
    """Counts global batches consumed in this `fit` (the data position)."""

    def __init__(self, initial=0):
        super().__init__()
        self.consumed = int(initial)

    def on_train_batch_end(self, batch, logs=None):
        self.consumed += 1


class StopAfterSteps(keras.callbacks.Callback):
    """Test hook: stop training once `optimizer.iterations` reaches `step`."""

    def __init__(self, step):
        super().__init__()
        self.step = int(step)

    def on_train_batch_end(self, batch, logs=None):
        if optimizer_step(self.model) >= self.step and is_update_boundary(self.model):
            self.model.stop_training = True


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; training stopped without checkpointing it."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raise `NonFiniteLossError` as soon as a batch's loss is NaN/Inf.

    Raising (rather than `stop_training`) leaves `fit` before any later callback of the same
    batch and before the driver's final save, so the newest checkpoint stays the last good
    one. `last_checkpoint` is the driver's `{"path": ..., "step": ...}` dict, named in the
    message. Under `mixed_float16` an overflowing step is skipped by the loss-scale
    optimizer (its loss stays finite), so this only fires on a real divergence.
    """

    def __init__(self, last_checkpoint=None):
        super().__init__()
        self.last_checkpoint = last_checkpoint

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = _scalar(loss)
        if loss is None or math.isfinite(loss):
            return
        path = (self.last_checkpoint or {}).get("path")
        raise NonFiniteLossError(
            f"step {optimizer_step(self.model)}: loss is {loss}; training stopped and nothing "
            f"was saved for this step. Last good checkpoint: {path or 'none'}. Lower "
            "--learning_rate or raise --warmup_steps (or use --precision float32), then rerun "
            "the same command to resume from that checkpoint.")


class StepWatchdog(keras.callbacks.Callback):
    """End the process if one training step takes longer than `seconds`.

    The timed interval runs from one batch end to the next, so it includes the step and the
    callbacks before this one at its end (logging, validation, checkpoint): put it last.

    Under MultiWorkerMirroredStrategy a peer that dies mid-run can leave the survivors
    blocked inside a collective for ever (TensorFlow does not always notice a lost peer;
    measured with TF 2.21 on loopback). A blocked worker holds its node without progress,
    and job schedulers (SageMaker, Kubernetes) only restart a job whose processes exit.
    This callback re-arms `faulthandler.dump_traceback_later(seconds, exit=True)` at every
    batch end: the timer runs outside the Python interpreter (it fires even while TensorFlow
    holds the GIL), prints every thread's stack and exits with code 1, after which the
    restarted job resumes from the last checkpoint. The first step (tracing, XLA compile)
    is not timed. `seconds <= 0` disables it.

    Example:
    ```python
    from keras_electra.training.callbacks import StepWatchdog
    model.fit(x, y, callbacks=[StepWatchdog(1800)])
    ```
    """

    def __init__(self, seconds):
        super().__init__()
        self.seconds = float(seconds)
        self._armed = False
        self._announced = False

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
        self._armed = arm_fault_timer(self.seconds, "step watchdog")
        if not self._armed:  # e.g. a notebook kernel without a stderr descriptor
            self.seconds = 0

    def _disarm(self):
        import faulthandler

        if self._armed:
            faulthandler.cancel_dump_traceback_later()
            self._armed = False

    def on_train_batch_end(self, batch, logs=None):
        self._arm()

    def on_train_end(self, logs=None):
        self._disarm()
