"""The trainer's metrics line and the SageMaker metric regexes agree."""

import math
import re

import numpy as np
import pytest

from keras_electra.sagemaker.metrics_format import (
    METRIC_DEFINITIONS,
    format_metrics_line,
    parse_metrics_line,
)

LOGS = {
    "loss": 11.25,
    "gen_loss": 1.2345678,
    "disc_loss": 0.456,
    "gen_accuracy": np.float32(0.5),
    "disc_accuracy": np.array([0.9], dtype=np.float32),
    "disc_auc": 0.8,
    "lr": 1e-4,
    "tokens_per_s": 123456.0,
    "val_gen_loss": 2.5,
    "val_disc_loss": float("nan"),
}


def scrape(line):
    """What SageMaker would record: each definition's first group, where it matches."""
    found = {}
    for definition in METRIC_DEFINITIONS:
        assert len(definition["Regex"]) <= 500 and len(definition["Name"]) <= 255
        match = re.search(definition["Regex"], line)
        if match:
            found[definition["Name"]] = float(match.group(1))
    return found


def test_every_logged_metric_is_scraped_with_its_own_value():
    line = format_metrics_line(100, LOGS)
    assert line.startswith("step 100 gen_loss=") is False  # insertion order kept
    assert line.split()[:3] == ["step", "100", "loss=11.25"]
    found = scrape(line)
    assert found["train:step"] == 100
    assert found["train:loss"] == 11.25
    assert found["train:gen_loss"] == pytest.approx(1.2345678, rel=1e-5)
    assert found["train:disc_loss"] == 0.456
    assert found["train:gen_accuracy"] == 0.5
    assert found["train:disc_accuracy"] == pytest.approx(0.9, rel=1e-6)
    assert found["train:disc_auc"] == 0.8
    assert found["train:lr"] == 1e-4
    assert found["train:tokens_per_s"] == 123456
    # `gen_loss` must not pick up `val_gen_loss` and vice versa.
    assert found["validation:gen_loss"] == 2.5
    assert math.isnan(found["validation:disc_loss"])
    assert "validation:loss" not in found
    assert len(METRIC_DEFINITIONS) <= 40  # SageMaker's limit per job


def test_validation_only_line_does_not_feed_train_metrics():
    found = scrape(format_metrics_line(2000, {"val_gen_loss": 3.0, "val_disc_accuracy": 0.75}))
    assert found == {"train:step": 2000, "validation:gen_loss": 3.0,
                     "validation:disc_accuracy": 0.75}


def test_other_console_lines_are_ignored():
    assert scrape("1/10 ━━━━ gen_loss: 1.2 - disc_loss: 0.4") == {}
    assert scrape("warmup step 5 of 10000") == {}
    assert parse_metrics_line("Epoch 1/3") is None


def test_round_trip_and_bad_names():
    step, values = parse_metrics_line(format_metrics_line(7, {"lr": 2e-5, "f1": 81.25}))
    assert (step, values) == (7, {"lr": 2e-5, "f1": 81.25})
    assert format_metrics_line(1, {"text": "abc", "loss": 1.0}) == "step 1 loss=1"
    with pytest.raises(ValueError, match="cannot be logged"):
        format_metrics_line(1, {"gen loss": 1.0})
