"""One stable console line per logging step, and the SageMaker regexes that read it.

The trainer prints, every `log_frequency` steps, one line such as

    step 100 gen_loss=1.234 disc_loss=0.456 gen_accuracy=0.5 disc_accuracy=0.9 lr=0.0001

(validation values carry Keras' `val_` prefix: `step 2000 val_gen_loss=...`).
SageMaker scrapes the job's CloudWatch log with `METRIC_DEFINITIONS` (passed to
the estimator by `keras_electra.sagemaker.launch`), so every metric shows up as
a time series in the SageMaker console. The format is a contract: change it
only together with the regexes here (the tests check that they agree).

This module imports nothing heavy; the training loop can use it on any backend. It lives in
`training/` (the layer that prints the line); `keras_electra.sagemaker.metrics_format`
re-exports it for the launcher.

Example:

>>> from keras_electra.training.metrics_format import format_metrics_line
>>> format_metrics_line(100, {"gen_loss": 1.2345678, "disc_accuracy": 0.9, "lr": 1e-4})
'step 100 gen_loss=1.23457 disc_accuracy=0.9 lr=0.0001'
"""

import math
import re

# Metric names that get a SageMaker metric definition (others are still printed).
TRAIN_METRIC_NAMES = (
    "loss",
    "gen_loss",
    "disc_loss",
    "gen_accuracy",
    "disc_accuracy",
    "disc_precision",
    "disc_recall",
    "disc_auc",
    "lr",
    "tokens_per_s",
    "steps_per_s",
    # SQuAD fine-tuning and evaluation
    "start_accuracy",
    "end_accuracy",
    "exact",
    "f1",
    "HasAns_exact",
    "HasAns_f1",
    "NoAns_exact",
    "NoAns_f1",
)
VALIDATION_METRIC_NAMES = (
    "loss",
    "gen_loss",
    "disc_loss",
    "gen_accuracy",
    "disc_accuracy",
    "disc_auc",
    "exact",
    "f1",
)

LINE_PREFIX = "step"
# A number as `format_metrics_line` writes it (`%.6g`), or nan/inf.
_NUMBER = r"[-+]?(?:nan|inf|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_KEY = r"[A-Za-z_][A-Za-z0-9_]*"
_LINE_RE = re.compile(rf"^{LINE_PREFIX} (\d+)((?: {_KEY}={_NUMBER})*)\s*$")
_PAIR_RE = re.compile(rf" ({_KEY})=({_NUMBER})")


def metric_regex(name):
    """The SageMaker regex for one metric: first group = its value.

    Needs the line to start with `step N ` and a space right before the key, so `gen_loss`
    never matches inside `val_gen_loss`. Only constructs that every regex engine
    has (no look-behind), since SageMaker evaluates these on its side.
    """
    return rf"^{LINE_PREFIX} [0-9]+ (?:.* )?{re.escape(name)}=({_NUMBER})"


def _definitions():
    definitions = [{"Name": "train:step", "Regex": rf"^{LINE_PREFIX} ([0-9]+) "}]
    for name in TRAIN_METRIC_NAMES:
        definitions.append({"Name": f"train:{name}", "Regex": metric_regex(name)})
    for name in VALIDATION_METRIC_NAMES:
        definitions.append({"Name": f"validation:{name}", "Regex": metric_regex(f"val_{name}")})
    return definitions


# Passed as `metric_definitions=` to the SageMaker estimator.
METRIC_DEFINITIONS = _definitions()


def _format_value(value):
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}"


def format_metrics_line(step, logs):
    """Format one log line: `step <int>` then ` key=value` per numeric log entry.

    Args:
        step: the global step (int, or anything `int()` accepts, e.g. a 0-d array).
        logs: mapping of metric name -> number (Python/numpy scalar or 0-d/1-element
            tensor). Entries whose value cannot be turned into one float are skipped;
            names must be identifiers (letters, digits, `_`).

    Returns:
        The line, without a trailing newline.

    Example:

    >>> format_metrics_line(7, {"loss": float("nan"), "val_f1": 81.25})
    'step 7 loss=nan val_f1=81.25'
    """
    parts = [f"{LINE_PREFIX} {int(step)}"]
    for key, value in logs.items():
        if not re.fullmatch(_KEY, str(key)):
            raise ValueError(
                f"metric name {key!r} cannot be logged: use letters, digits and '_' only"
            )
        try:
            if hasattr(value, "numpy"):
                value = value.numpy()
            if hasattr(value, "reshape") and getattr(value, "size", 1) == 1:
                value = value.reshape(())
            text = _format_value(value)
        except (TypeError, ValueError):
            continue
        parts.append(f"{key}={text}")
    return " ".join(parts)


def parse_metrics_line(line):
    """Inverse of `format_metrics_line`: `(step, {name: float})`, or None if not a metrics line.

    Example:

    >>> parse_metrics_line("step 3 gen_loss=1.5 lr=2e-05")
    (3, {'gen_loss': 1.5, 'lr': 2e-05})
    """
    match = _LINE_RE.match(line.rstrip("\n"))
    if not match:
        return None
    values = {key: float(value) for key, value in _PAIR_RE.findall(match.group(2))}
    return int(match.group(1)), values
