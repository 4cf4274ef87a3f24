"""Where the pretraining metrics go, one home: the console line, TensorBoard, `metrics.jsonl`.

The callbacks (`training/callbacks.py`) decide *when* to log and compute the numbers; a
`MetricsSink` writes them:

- the console: one metrics line per log (`training/metrics_format.py`, the line SageMaker
  scrapes), printed by the chief only, to `stream` (stdout by default);
- TensorBoard event files under `log_dir/run_name` (`train/<metric>`, `learning_rate`,
  `tokens_per_s`, `step_time_s`, `val/<metric>`, the validation example as text), written
  with TF core only (TF 2.21 installs no `tensorboard` package);
- `log_dir/run_name/metrics.jsonl`: one JSON record per log (`step`, `time`, `split` and the
  values), appended.

Only the chief writes files; with no `log_dir` the sink writes the console only.

Example:

>>> import io
>>> console = io.StringIO()
>>> sink = MetricsSink(stream=console)
>>> sink.write(10, {"gen_loss": 1.5, "lr": 1e-4}, split="train")
>>> console.getvalue()
'step 10 gen_loss=1.5 lr=0.0001\\n'
>>> sink.close()
"""

import json
import logging
import math
import os
import sys
import time

from keras_electra.training.metrics_format import format_metrics_line

logger = logging.getLogger("keras_electra.training.callbacks")

# train values that TensorBoard shows under their own names, not `train/<name>`
_RUN_VALUES = ("lr", "tokens_per_s", "steps_per_s", "step_time_s")


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


class _Files:
    """The chief's files of one run: the TensorBoard writer (opened on first use) and the
    JSONL file, shared by every view of a sink."""

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.writer = None
        self.jsonl = None
        if run_dir:
            os.makedirs(run_dir, exist_ok=True)
            self.jsonl = open(os.path.join(run_dir, "metrics.jsonl"), "a", encoding="utf-8")

    def tensorboard(self):
        if self.writer is None and self.run_dir:
            import tensorflow as tf

            self.writer = tf.summary.create_file_writer(self.run_dir)
        return self.writer

    def close(self):
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
            self.writer = None
        if self.jsonl is not None:
            self.jsonl.close()
            self.jsonl = None


class MetricsSink:
    """The console line, TensorBoard scalars/text and `metrics.jsonl` of one run.

    Args:
        log_dir: the runs' folder (None: console only).
        run_name: this run's sub-folder of `log_dir`.
        is_chief: only the chief prints and writes files.
        stream: where the console lines go (stdout by default).
    """

    def __init__(self, log_dir=None, run_name=None, is_chief=True, stream=None):
        self.is_chief = is_chief
        self.stream = stream
        self.run_dir = os.path.join(log_dir, run_name) if log_dir else None
        self._files = _Files(self.run_dir if is_chief else None)

    def console(self, is_chief=True, stream=None):
        """A view of this sink (the same files) printing to `stream` when `is_chief`."""
        view = object.__new__(MetricsSink)
        view.__dict__.update(self.__dict__, is_chief=is_chief, stream=stream)
        return view

    def write(self, step, logs, split="train"):
        """One log of `split` ("train" or "validation") at `step`: console line, TensorBoard
        scalars, JSONL record."""
        if split == "train":
            self.scalars(step, {f"train/{k}": v for k, v in logs.items()
                                if k not in _RUN_VALUES})
            self.scalars(step, {"learning_rate": logs["lr"],
                                "tokens_per_s": logs["tokens_per_s"],
                                "step_time_s": logs["step_time_s"]})
            self.print_line(step, logs)
            self.record({"step": step, "time": time.time(), "split": "train", **logs})
            self.flush()
            return
        self.print_line(step, logs)
        self.scalars(step, {k.replace("val_", "val/", 1): v for k, v in logs.items()})
        self.record({"step": step, "time": time.time(), "split": split, **logs})

    def example(self, step, view):
        """The validation example view: log, console and TensorBoard text."""
        if not self.is_chief:
            return
        logger.info("validation example at step %d:\n%s", step, view)
        print(f"validation example (step {step}):\n{view}", file=self.stream or sys.stdout,
              flush=True)
        self.text(step, "validation/example", "```\n" + view + "\n```")
        self.flush()

    def print_line(self, step, logs):
        if self.is_chief:
            print(format_metrics_line(step, logs), file=self.stream or sys.stdout, flush=True)

    def scalars(self, step, values, prefix=""):
        writer = self._files.tensorboard()
        if writer is None:
            return
        import tensorflow as tf

        with writer.as_default(step=int(step)):
            for key, value in values.items():
                if value is not None and math.isfinite(value):
                    tf.summary.write(prefix + key, tf.constant(value, tf.float32),
                                     metadata=_plugin_metadata("scalars"))

    def text(self, step, tag, text):
        writer = self._files.tensorboard()
        if writer is None:
            return
        import tensorflow as tf

        with writer.as_default(step=int(step)):
            tf.summary.write(tag, tf.constant(text), metadata=_plugin_metadata("text"))
        writer.flush()

    def record(self, record):
        if self._files.jsonl is not None:
            self._files.jsonl.write(json.dumps(record, sort_keys=True) + "\n")
            self._files.jsonl.flush()

    def flush(self):
        if self._files.writer is not None:
            self._files.writer.flush()

    def close(self):
        self._files.close()
