"""The cue-free RTD evaluation (issue 17), against brute-force recomputations."""

import itertools

import numpy as np
import pytest

from keras_electra.evaluation.rtd_cues import (
    context_free_baseline,
    cue_free_auc,
    cue_free_mask,
    exact_auc,
    rtd_outputs,
)


def brute_force_auc(labels, scores):
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_exact_auc_counts_ties_half():
    rng = np.random.default_rng(0)
    labels = rng.random(200) < 0.3
    scores = rng.integers(0, 7, 200).astype(float)  # many ties
    assert exact_auc(labels, scores) == pytest.approx(brute_force_auc(labels, scores), abs=1e-12)
    assert np.isnan(exact_auc(np.zeros(5), np.arange(5)))


def test_cue_free_mask_drops_specials_padding_and_duplicate_slots():
    token_ids = np.array([[101, 7, 8, 9, 102, 0], [101, 5, 5, 102, 6, 102]])
    padding = np.array([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]])
    positions = np.array([[2, 2, 3], [1, 4, 0]])
    weights = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])  # row 1: last slot unused
    mask = cue_free_mask(token_ids, padding, positions, weights, (101, 102))
    assert mask.tolist() == [[False, True, False, True, False, False],
                             [False, True, True, False, True, False]]


def test_context_free_baseline_sees_token_identity_only():
    rng = np.random.default_rng(1)

    def outputs(n):
        ids = rng.integers(0, 50, n)
        labels = (ids < 10).astype(int)  # ids 0..9 are always the fakes
        return {"corrupted_ids": ids, "labels": labels, "scores": rng.random(n),
                "cue_free": np.ones(n, bool)}

    fit, held_out = outputs(4000), outputs(2000)
    assert context_free_baseline(fit, held_out) == pytest.approx(1.0)  # identity is enough
    shuffled = dict(held_out, labels=rng.permutation(held_out["labels"]))
    assert abs(context_free_baseline(fit, shuffled) - 0.5) < 0.05
    # only cue-free positions count: perfect scores elsewhere change nothing
    partial = dict(held_out, cue_free=np.arange(2000) % 2 == 0,
                   scores=np.where(np.arange(2000) % 2 == 0, held_out["scores"],
                                   held_out["labels"] * 10.0))
    keep = partial["cue_free"]
    assert cue_free_auc(partial) == pytest.approx(
        brute_force_auc(held_out["labels"][keep], held_out["scores"][keep]), abs=1e-12)


def test_rtd_outputs_of_a_pretrainer_match_its_forward_pass():
    import keras

    from keras_electra import ElectraBackbone, ElectraPretrainer

    keras.utils.set_random_seed(0)
    backbone = ElectraBackbone(vocabulary_size=120, num_layers=1, num_heads=2, hidden_dim=16,
                               embedding_dim=8, intermediate_dim=32, max_sequence_length=32)
    model = ElectraPretrainer(backbone, generator_hidden_size=0.5)
    rng = np.random.default_rng(2)
    ids = rng.integers(104, 120, size=(8, 24)).astype(np.int32)
    ids[:, 0], ids[:, 12], ids[:, -1] = 101, 102, 102
    batch = {"token_ids": ids, "segment_ids": np.zeros_like(ids),
             "padding_mask": np.ones_like(ids)}
    out = rtd_outputs(model, [batch])
    assert out["labels"].shape == (8 * 24,)
    assert not out["cue_free"].reshape(8, 24)[:, [0, 12, 23]].any()
    assert out["labels"][~out["cue_free"]].size >= 24  # the specials at least
    keep = out["cue_free"]
    assert cue_free_auc(out) == pytest.approx(
        brute_force_auc(out["labels"][keep], out["scores"][keep]), abs=1e-9)
