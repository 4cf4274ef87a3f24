"""G's dynamic masking, checked against a numpy transcription and over >= 10k sequences."""

import numpy as np
from electra_numpy_reference import fake_data, gumbel_sample, mask, scatter_update
from keras import ops

from keras_electra.models import electra_masking as masking

CLS, SEP, MASK, PAD = 101, 102, 103, 0
IGNORE = (SEP, CLS, MASK, PAD)


def random_batch(rng, batch, length, vocab=1000, min_len=3):
    ids = rng.integers(104, vocab, size=(batch, length))
    lengths = rng.integers(min_len, length + 1, size=batch)
    mask_ = (np.arange(length)[None, :] < lengths[:, None]).astype(np.int32)
    ids[:, 0] = CLS
    ids[np.arange(batch), lengths - 1] = SEP
    # a [SEP] in the middle of some rows (two segments) and a few literal [MASK]s
    mid = np.maximum(lengths // 2, 1)
    ids[np.arange(batch), mid] = np.where(rng.random(batch) < 0.5, SEP, MASK)
    ids = ids * mask_
    return ids.astype(np.int32), mask_


def test_max_predictions_formula():
    assert masking.max_predictions_per_seq(128, 0.15) == 19
    assert masking.max_predictions_per_seq(512, 0.15) == 79
    assert masking.max_predictions_per_seq(512, 0.25) == 130


def test_scatter_update_matches_reference_with_duplicates_and_position_zero():
    rng = np.random.default_rng(0)
    seq = rng.integers(0, 50, size=(4, 10))
    positions = rng.integers(0, 10, size=(4, 6))
    positions[:, 0] = 0
    positions[:, 1] = positions[:, 2]  # forced duplicates
    updates = rng.integers(0, 50, size=(4, 6))
    got, got_mask = masking.scatter_update(seq, updates, positions)
    want, want_mask = scatter_update(seq, updates, positions)
    np.testing.assert_array_equal(ops.convert_to_numpy(got), want)
    np.testing.assert_array_equal(ops.convert_to_numpy(got_mask), want_mask)


def test_mask_tokens_equals_numpy_reference():
    rng = np.random.default_rng(1)
    ids, pad = random_batch(rng, 64, 40)
    n = masking.max_predictions_per_seq(40, 0.15)
    pos_u = rng.random((64, n)).astype(np.float32)
    mask_u = rng.random((64, n)).astype(np.float32)
    out = masking.mask_tokens(ids, pad, pos_u, mask_u, 0.15, IGNORE, MASK)
    want = mask(ids, pad, pos_u, mask_u, 0.15, IGNORE, MASK)
    for key, ref in zip(("masked_ids", "positions", "masked_lm_ids", "masked_lm_weights"), want):
        np.testing.assert_array_equal(ops.convert_to_numpy(out[key]), ref, err_msg=key)


def test_sampling_and_labels_equal_reference():
    rng = np.random.default_rng(2)
    ids, pad = random_batch(rng, 16, 32, vocab=300)
    n = masking.max_predictions_per_seq(32, 0.15)
    masked_ids, positions, masked_lm_ids, _ = mask(
        ids, pad, rng.random((16, n)), rng.random((16, n)), 0.15, IGNORE, MASK
    )
    logits = rng.normal(size=(16, n, 300)).astype(np.float32) * 3
    # make the sampled token equal the original for some slots
    logits[:, :2, :] = -50.0
    logits[np.arange(16)[:, None], np.arange(2)[None, :], masked_lm_ids[:, :2]] = 50.0
    uniform = rng.random((16, n, 300)).astype(np.float32)
    sampled = ops.convert_to_numpy(masking.gumbel_argmax(logits, uniform))
    np.testing.assert_array_equal(sampled, gumbel_sample(logits, uniform))
    corrupted, labels = masking.replace_tokens(masked_ids, positions, masked_lm_ids, sampled)
    want_ids, want_labels, original = fake_data(masked_ids, positions, masked_lm_ids, sampled)
    np.testing.assert_array_equal(original, ids)  # un-masking restores the input
    np.testing.assert_array_equal(ops.convert_to_numpy(corrupted), want_ids)
    np.testing.assert_array_equal(ops.convert_to_numpy(labels), want_labels)
    # a sample equal to the original is labelled "original"
    # (a position drawn by two slots gets the floor-average of both samples, G's quirk)
    drawn_once = np.array([[np.sum(positions[b] == positions[b, k]) == 1 for k in range(2)]
                           for b in range(16)])
    same = (sampled[:, :2] == masked_lm_ids[:, :2]) & (positions[:, :2] > 0) & drawn_once
    assert same.any()
    rows, slots = np.nonzero(same)
    assert (ops.convert_to_numpy(labels)[rows, positions[rows, slots]] == 0).all()


def test_masking_statistics_over_10k_sequences():
    rng = np.random.default_rng(3)
    total_slots = total_masked = 0
    sequences = 0
    for _ in range(5):
        ids, pad = random_batch(rng, 2048, 128, min_len=4)
        n = masking.max_predictions_per_seq(128, 0.15)
        out = masking.mask_tokens(
            ids, pad, rng.random((2048, n)).astype(np.float32),
            rng.random((2048, n)).astype(np.float32), 0.15, IGNORE, MASK,
        )
        positions = ops.convert_to_numpy(out["positions"])
        weights = ops.convert_to_numpy(out["masked_lm_weights"])
        masked_ids = ops.convert_to_numpy(out["masked_ids"])
        # count formula: max(1, min(N, round(real_tokens * p))), half to even
        expected = np.maximum(1, np.minimum(n, np.round(pad.sum(-1).astype(np.float32) * np.float32(0.15))))
        np.testing.assert_array_equal(weights.sum(-1), expected)
        # specials and padding are never selected
        chosen = np.take_along_axis(ids, positions, 1)[weights > 0]
        assert not np.isin(chosen, IGNORE).any()
        assert (np.take_along_axis(pad, positions, 1)[weights > 0] == 1).all()
        # weight-0 slots point at position 0, which is never written
        assert (positions[weights == 0] == 0).all()
        np.testing.assert_array_equal(masked_ids[:, 0], ids[:, 0])
        # 85 % [MASK] / 15 % unchanged, never a random token (count unique positions)
        for b in range(len(ids)):
            unique = np.unique(positions[b][weights[b] > 0])
            total_slots += len(unique)
            total_masked += int((masked_ids[b, unique] == MASK).sum())
            changed = np.nonzero(masked_ids[b] != ids[b])[0]
            assert np.isin(changed, unique).all()
            assert (masked_ids[b, changed] == MASK).all()
        sequences += len(ids)
    assert sequences >= 10_000
    # a position drawn twice is [MASK]ed if either draw says so: expected rate slightly > 0.85
    rate = total_masked / total_slots
    assert abs(rate - 0.85) < 0.01, rate
