"""GLUE's metrics, as google-research/electra `finetune/classification/classification_metrics.py`
computes them: Matthews correlation (CoLA), Pearson and Spearman correlation (STS-B), F1 of
the positive class "1" and accuracy (MRPC, QQP), accuracy (the rest).

numpy only (the same formulas as scikit-learn's `matthews_corrcoef`, `f1_score` and
scipy's `pearsonr`, `spearmanr` with average ranks for ties; `tests/glue/test_glue_metrics.py`
checks them to 1e-9). Scores are fractions in [-1, 1] (G prints them x 100).

Example:
```python
from keras_electra.glue.metrics import glue_metrics

glue_metrics(["mcc", "accuracy"], ["1", "0", "1"], ["1", "1", "1"])
# {"mcc": 0.0, "accuracy": 0.666...}
```
"""

import math

import numpy as np


def accuracy(labels, predictions):
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    return float(np.mean(labels == predictions))


def f1(labels, predictions, positive="1"):
    """F1 of the `positive` class (scikit-learn `f1_score`, 0.0 when undefined)."""
    labels, predictions = np.asarray(labels) == positive, np.asarray(predictions) == positive
    tp = float(np.sum(labels & predictions))
    denominator = float(np.sum(labels) + np.sum(predictions))
    return 0.0 if denominator == 0 else 2.0 * tp / denominator


def matthews_corrcoef(labels, predictions):
    """Multi-class Matthews correlation (scikit-learn's formula, 0.0 when undefined)."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    classes = np.unique(np.concatenate([labels, predictions]))
    index = {c: i for i, c in enumerate(classes.tolist())}
    confusion = np.zeros((len(classes), len(classes)), dtype=np.float64)
    for t, p in zip(labels.tolist(), predictions.tolist()):
        confusion[index[t], index[p]] += 1
    t_sum, p_sum = confusion.sum(axis=1), confusion.sum(axis=0)
    correct, n = np.trace(confusion), confusion.sum()
    cov_ytyp = correct * n - np.dot(t_sum, p_sum)
    cov_ypyp = n * n - np.dot(p_sum, p_sum)
    cov_ytyt = n * n - np.dot(t_sum, t_sum)
    if cov_ypyp * cov_ytyt == 0:
        return 0.0
    return float(cov_ytyp / np.sqrt(cov_ytyt * cov_ypyp))


def pearson(x, y):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x, y = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(np.dot(x, x)) * float(np.dot(y, y)))
    return math.nan if denominator == 0 else float(np.dot(x, y) / denominator)


def _average_ranks(x):
    x = np.asarray(x, np.float64)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), np.float64)
    sorted_x = x[order]
    start = 0
    while start < len(x):
        end = start
        while end + 1 < len(x) and sorted_x[end + 1] == sorted_x[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def spearman(x, y):
    return pearson(_average_ranks(x), _average_ranks(y))


_METRICS = {"accuracy": accuracy, "f1": f1, "mcc": matthews_corrcoef, "pearson": pearson,
            "spearman": spearman}


def glue_metrics(names, labels, predictions):
    """`{name: value}` for `names` (of "accuracy", "f1", "mcc", "pearson", "spearman")."""
    if len(labels) != len(predictions):
        raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
    return {name: _METRICS[name](labels, predictions) for name in names}
