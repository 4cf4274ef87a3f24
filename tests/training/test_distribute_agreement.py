"""Cross-worker agreement lives in training/distribute.py (issue 26); the all-gather is faked
here, the real collectives run in the MWMS / JAX two-process pretraining tests."""

import numpy as np
import pytest

from keras_electra.training import checkpointing, distribute
from keras_electra.training.checkpointing import CheckpointError


def test_one_process_agrees_with_itself():
    assert distribute.agree_on_resume_step(None, [3, 10, 7]) == 10
    assert distribute.agree_on_resume_step(None, []) is None
    assert distribute.agree_on_int(None, 1234) == 1234
    distribute.verify_workers_agree(None, 5, "0" * 64)  # nothing to compare


def _fake_workers(monkeypatch, rows):
    monkeypatch.setattr(distribute, "_is_multi_process", lambda strategy: True)
    monkeypatch.setattr(distribute, "_all_gather_int64",
                        lambda strategy, values: np.asarray(rows(values), dtype=np.int64))


def test_workers_resume_from_the_newest_step_all_of_them_hold(monkeypatch):
    _fake_workers(monkeypatch, lambda mine: [mine, [10, 20] + [-1] * (len(mine) - 2)])
    assert distribute.agree_on_resume_step("mwms", [10, 20, 30]) == 20
    _fake_workers(monkeypatch, lambda mine: [mine, [40] + [-1] * (len(mine) - 1)])
    with pytest.raises(CheckpointError, match="workers disagree"):
        distribute.agree_on_resume_step("mwms", [10, 20, 30])


def test_workers_with_different_weights_refuse_to_train(monkeypatch):
    _fake_workers(monkeypatch, lambda mine: [mine, [mine[0]] + [v + 1 for v in mine[1:]]])
    with pytest.raises(CheckpointError, match="restored different states"):
        distribute.verify_workers_agree("mwms", 7, "ab" * 32)
    _fake_workers(monkeypatch, lambda mine: [mine, [99]])
    assert distribute.agree_on_int("mwms", 5) == 5  # worker 0's value


def test_checkpointing_holds_no_agreement_code():
    for name in ("agree_on_resume_step", "verify_workers_agree", "agree_on_int",
                 "_all_gather_int64", "_is_multi_process", "_jax_multi_process"):
        assert not hasattr(checkpointing, name), name
