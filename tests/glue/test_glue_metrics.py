"""GLUE's metrics equal scikit-learn's and scipy's on the same predictions (<= 1e-9)."""

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as sk

from keras_electra.glue.metrics import glue_metrics


@pytest.mark.parametrize("seed", range(3))
def test_classification_metrics_equal_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    labels = rng.choice(["0", "1"], 97).tolist()
    predictions = [y if rng.random() < 0.7 else rng.choice(["0", "1"]) for y in labels]
    ours = glue_metrics(("mcc", "f1", "accuracy"), labels, predictions)
    assert abs(ours["mcc"] - sk.matthews_corrcoef(labels, predictions)) <= 1e-9
    assert abs(ours["f1"] - sk.f1_score(labels, predictions, pos_label="1")) <= 1e-9
    assert abs(ours["accuracy"] - sk.accuracy_score(labels, predictions)) <= 1e-9
    mnli = ["contradiction", "entailment", "neutral"]
    labels3 = rng.choice(mnli, 61).tolist()
    predictions3 = rng.choice(mnli, 61).tolist()
    ours3 = glue_metrics(("mcc", "accuracy"), labels3, predictions3)
    assert abs(ours3["mcc"] - sk.matthews_corrcoef(labels3, predictions3)) <= 1e-9
    assert abs(ours3["accuracy"] - sk.accuracy_score(labels3, predictions3)) <= 1e-9


def test_degenerate_cases_follow_scikit_learn():
    same = ["1"] * 5
    assert glue_metrics(("mcc",), same, same)["mcc"] == sk.matthews_corrcoef(same, same) == 0.0
    zeros = ["0"] * 4
    assert glue_metrics(("f1",), zeros, zeros)["f1"] == 0.0


@pytest.mark.parametrize("seed", range(3))
def test_regression_metrics_equal_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    labels = np.round(rng.uniform(0, 5, 83) * 4) / 4  # STS-B-like scores, many ties
    predictions = np.round(labels + rng.normal(0, 1, 83), 1)
    ours = glue_metrics(("pearson", "spearman"), labels.tolist(), predictions.tolist())
    assert abs(ours["pearson"] - stats.pearsonr(labels, predictions)[0]) <= 1e-9
    assert abs(ours["spearman"] - stats.spearmanr(labels, predictions)[0]) <= 1e-9
