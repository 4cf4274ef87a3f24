"""SageMaker's metric regexes and the console line they read (re-exported).

The line is printed by the training loop, so the format and its regexes live in
`keras_electra.training.metrics_format` (imports point down: `training` never imports
`sagemaker`); the launcher passes `METRIC_DEFINITIONS` to the estimator.

>>> from keras_electra.sagemaker.metrics_format import format_metrics_line, parse_metrics_line
>>> parse_metrics_line(format_metrics_line(7, {"disc_loss": 0.5}))
(7, {'disc_loss': 0.5})
"""

from keras_electra.training.metrics_format import (  # noqa: F401
    LINE_PREFIX,
    METRIC_DEFINITIONS,
    TRAIN_METRIC_NAMES,
    VALIDATION_METRIC_NAMES,
    format_metrics_line,
    metric_regex,
    parse_metrics_line,
)
