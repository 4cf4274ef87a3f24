"""The cue-free RTD evaluation (issue 17), against brute-force recomputations."""

import itertools

import numpy as np
import pytest

from keras_electra.evaluation.rtd_cues import (
    context_free_baseline,
    cue_free_auc,
    cue_free_evaluation,
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


def _tiny_pretrainer():
    import keras

    from keras_electra import ElectraBackbone, ElectraPretrainer

    keras.utils.set_random_seed(0)
    backbone = ElectraBackbone(vocabulary_size=120, num_layers=1, num_heads=2, hidden_dim=16,
                               embedding_dim=8, intermediate_dim=32, max_sequence_length=32)
    return ElectraPretrainer(backbone, generator_hidden_size=0.5)


def _batch(seed, rows=8):
    rng = np.random.default_rng(seed)
    ids = rng.integers(104, 120, size=(rows, 24)).astype(np.int32)
    ids[:, 0], ids[:, 12], ids[:, -1] = 101, 102, 102
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids),
            "padding_mask": np.ones_like(ids)}


def test_rtd_outputs_of_a_pretrainer_match_its_forward_pass():
    model = _tiny_pretrainer()
    batch = _batch(2)
    out = rtd_outputs(model, [batch])
    assert out["labels"].shape == (8 * 24,)
    assert not out["cue_free"].reshape(8, 24)[:, [0, 12, 23]].any()
    assert out["labels"][~out["cue_free"]].size >= 24  # the specials at least
    keep = out["cue_free"]
    assert cue_free_auc(out) == pytest.approx(
        brute_force_auc(out["labels"][keep], out["scores"][keep]), abs=1e-9)


def test_cue_free_evaluation_equals_its_parts_and_leaves_the_eval_stream_alone():
    """What `keras-electra pretrain` reports as val_cue_free_auc / val_context_free_auc: the
    same numbers as rtd_outputs + cue_free_auc + context_free_baseline from the same
    evaluation-stream state, and the stream (hence every later validation) unmoved."""
    from keras import ops

    model = _tiny_pretrainer()
    model.eval_step.assign(5)
    eval_batches, fit_batches = [_batch(3), _batch(4)], [_batch(5), _batch(6), _batch(7)]
    result = cue_free_evaluation(model, eval_batches, fit_batches)
    assert int(ops.convert_to_numpy(model.eval_step.value)) == 5

    model.eval_step.assign(5)
    held_out = rtd_outputs(model, eval_batches)
    fit = rtd_outputs(model, fit_batches)
    assert int(ops.convert_to_numpy(model.eval_step.value)) == 10  # rtd_outputs moves it
    assert result["cue_free_auc"] == cue_free_auc(held_out)
    assert result["context_free_auc"] == context_free_baseline(fit, held_out)
    assert result["cue_free_positions"] == int(held_out["cue_free"].sum())
    # the specials are never cue-free: 3 of 24 positions per row
    assert result["cue_free_positions"] <= 2 * 8 * 21


def test_a_discriminator_that_only_knows_the_trivial_cues_gets_cue_free_auc_one_half():
    """The issue's constructed case: a "discriminator" that scores [CLS]/[SEP] as original
    and duplicate-slot positions as replaced, and everything else the same, has a plain AUC
    well above 0.5 but a cue-free AUC of exactly 0.5; the context-free baseline, with
    replacements independent of token identity, is ~0.5 too."""
    rng = np.random.default_rng(3)
    batch, length, slots = 64, 40, 6
    token_ids = rng.integers(200, 260, size=(batch, length))
    token_ids[:, 0], token_ids[:, 20], token_ids[:, -1] = 101, 102, 102
    padding = np.ones_like(token_ids)
    positions = rng.integers(1, 20, size=(batch, slots))
    positions[:, 1] = positions[:, 0]  # one duplicated slot per row: always a fake
    weights = np.ones((batch, slots))
    labels = np.zeros((batch, length), int)
    rows = np.repeat(np.arange(batch)[:, None], slots, axis=1)
    labels[rows, positions] = rng.random((batch, slots)) < 0.7  # replaced or not, by chance
    labels[np.arange(batch), positions[:, 0]] = 1
    cue_free = cue_free_mask(token_ids, padding, positions, weights, (101, 102))
    duplicate = np.zeros_like(cue_free)
    duplicate[np.arange(batch), positions[:, 0]] = True
    specials = np.isin(token_ids, (101, 102))
    scores = np.where(specials, -5.0, np.where(duplicate, 5.0, 0.0))  # cues only
    outputs = {"corrupted_ids": token_ids.ravel(), "labels": labels.ravel(),
               "scores": scores.ravel(), "cue_free": cue_free.ravel()}
    assert exact_auc(outputs["labels"], outputs["scores"]) > 0.6  # the cues are worth a lot
    assert cue_free_auc(outputs) == 0.5  # but nothing where they are absent
    assert not cue_free[duplicate].any() and not cue_free[specials].any()
    fit = dict(outputs, labels=labels.ravel()[rng.permutation(labels.size)])
    assert abs(context_free_baseline(fit, outputs) - 0.5) < 0.06
