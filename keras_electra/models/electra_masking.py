"""G's dynamic masking, sampling and scatter helpers, in keras.ops.

Line-by-line ports of google-research/electra `pretrain/pretrain_helpers.py`
(`mask`, `scatter_update`, `unmask`, `sample_from_softmax`) and
`run_pretraining._get_fake_data`, with the random draws passed in as uniform
noise tensors so the same draws can be replayed by a numpy re-computation.
"""

from keras import ops

MASK_TOKEN_RATE = 0.85  # G: 85% of the picked slots -> [MASK], 15% unchanged, never random


def max_predictions_per_seq(sequence_length, mask_prob):
    """G `configure_pretraining`: N = int((mask_prob + 0.005) * max_seq_length)."""
    return int((mask_prob + 0.005) * sequence_length)


def candidates_mask(token_ids, padding_mask, ignore_ids):
    """Positions that may be masked: real tokens that are not [CLS]/[SEP]/[MASK]/[PAD]."""
    candidates = ops.cast(padding_mask, "bool")
    for token_id in ignore_ids:
        candidates = ops.logical_and(candidates, ops.not_equal(token_ids, token_id))
    return candidates


def num_to_predict(padding_mask, mask_prob, max_predictions):
    """max(1, min(N, round(sum(input_mask) * p))), float32 round half to even like tf.round."""
    num_tokens = ops.sum(ops.cast(padding_mask, "float32"), axis=-1)
    rounded = ops.cast(ops.round(num_tokens * ops.cast(mask_prob, "float32")), "int32")
    return ops.maximum(1, ops.minimum(max_predictions, rounded))


def sample_positions(candidates, uniform):
    """Draw positions uniformly over candidates, with replacement (one per slot).

    Same distribution as G's `tf.random.categorical(log(uniform over
    candidates), N)`: slot k takes the floor(u_k * n_candidates)-th candidate.
    A row without candidates gets position 0 (never written, see scatter_update).
    """
    candidates_int = ops.cast(candidates, "int32")
    count = ops.sum(candidates_int, axis=-1, keepdims=True)  # (B, 1)
    rank = ops.cast(ops.floor(uniform * ops.cast(count, uniform.dtype)), "int32")
    rank = ops.minimum(rank, ops.maximum(count - 1, 0))  # (B, N)
    cumulative = ops.cumsum(candidates_int, axis=-1)  # (B, S)
    hit = ops.logical_and(
        ops.equal(cumulative[:, None, :], (rank + 1)[:, :, None]), candidates[:, None, :]
    )
    return ops.cast(ops.argmax(ops.cast(hit, "int32"), axis=-1), "int32")


def scatter_update(sequence, updates, positions):
    """G `scatter_update` for int sequences: writes to index 0 are ignored and
    duplicated positions get the floor-average of their updates.

    Returns `(updated_sequence, updates_mask)`, both (B, S) int32.
    """
    sequence_length = ops.shape(sequence)[1]
    one_hot = ops.one_hot(positions, sequence_length, dtype="int32")  # (B, N, S)
    counts = ops.sum(one_hot, axis=1)  # (B, S)
    not_first_token = ops.cast(ops.arange(sequence_length) > 0, "int32")[None, :]
    counts = counts * not_first_token
    summed = ops.sum(one_hot * ops.cast(updates, "int32")[:, :, None], axis=1)
    averaged = ops.floor_divide(summed, ops.maximum(counts, 1))
    updates_mask = ops.minimum(counts, 1)
    sequence = ops.cast(sequence, "int32")
    return (1 - updates_mask) * sequence + updates_mask * averaged, updates_mask


def mask_tokens(token_ids, padding_mask, position_noise, mask_noise, mask_prob,
                ignore_ids, mask_token_id):
    """G `pretrain_helpers.mask`.

    Args:
        token_ids, padding_mask: (B, S).
        position_noise: (B, N) uniform noise choosing the masked positions.
        mask_noise: (B, N) uniform noise; slot -> [MASK] iff noise < 0.85.

    Returns dict: `masked_ids` (B, S) generator input, `positions` (B, N),
    `masked_lm_ids` (B, N) original ids, `masked_lm_weights` (B, N) float32.
    """
    token_ids = ops.cast(token_ids, "int32")
    max_predictions = ops.shape(position_noise)[1]
    candidates = candidates_mask(token_ids, padding_mask, ignore_ids)
    count = num_to_predict(padding_mask, mask_prob, max_predictions)
    weights_int = ops.cast(ops.arange(max_predictions)[None, :] < count[:, None], "int32")
    positions = sample_positions(candidates, position_noise) * weights_int
    masked_lm_ids = ops.take_along_axis(token_ids, positions, axis=1) * weights_int
    replace = ops.cast(mask_noise < MASK_TOKEN_RATE, "int32")
    mask_fill = ops.full(ops.shape(positions), mask_token_id, dtype="int32")
    masked_ids, _ = scatter_update(token_ids, mask_fill, positions * replace)
    return {
        "masked_ids": ops.stop_gradient(masked_ids),
        "positions": positions,
        "masked_lm_ids": masked_lm_ids,
        "masked_lm_weights": ops.cast(weights_int, "float32"),
    }


def gumbel_argmax(logits, uniform, temperature=1.0, disallow=None):
    """G `sample_from_softmax`: argmax(softmax(logits / T + Gumbel)) = a categorical sample.

    `disallow` (ids `[..., ]` matching `logits[..., 0]`): G's `disallow_correct`, 1000 is
    subtracted from that id's tempered logit, so the sample (almost surely) differs from it.
    """
    tempered = logits / temperature
    if disallow is not None:
        tempered = tempered - 1000.0 * ops.one_hot(disallow, ops.shape(logits)[-1],
                                                   dtype=tempered.dtype)
    gumbel = -ops.log(-ops.log(uniform + 1e-9) + 1e-9)
    return ops.cast(ops.argmax(tempered + gumbel, axis=-1), "int32")


def replace_tokens(masked_ids, positions, masked_lm_ids, sampled_ids, updated_only=False):
    """G `_get_fake_data`: un-mask, scatter the samples in, label replaced tokens.

    Returns `(corrupted_ids, labels)`; labels = updated * (sampled != original),
    so a sample equal to the original counts as original. `updated_only` (G's
    `electric_objective`): labels = updated, every written position is noise.
    """
    original, _ = scatter_update(masked_ids, masked_lm_ids, positions)
    corrupted, updated = scatter_update(original, sampled_ids, positions)
    if updated_only:
        labels = updated
    else:
        labels = updated * ops.cast(ops.not_equal(corrupted, original), "int32")
    return ops.stop_gradient(corrupted), ops.stop_gradient(labels)


def sigmoid_cross_entropy_with_logits(logits, labels):
    """tf.nn.sigmoid_cross_entropy_with_logits: max(x, 0) - x z + log(1 + exp(-|x|))."""
    return ops.relu(logits) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))


# Logit of a token the unigram generator never samples (special or unseen): exp(-1e9) is 0.
UNIGRAM_NEVER = -1e9


def unigram_logits(counts, never_ids):
    """Log-probabilities of the unigram generator (numpy, float32, `[V]`).

    `counts`: per-id frequencies of the training split (`prepare`'s `token_counts.tsv`).
    Ids in `never_ids` ([CLS], [SEP], [MASK], [PAD]) and ids with count 0 get
    `UNIGRAM_NEVER` (probability 0); the others log(count / total of those counts).
    """
    import numpy as np

    counts = np.asarray(counts, dtype=np.float64).copy()
    if counts.ndim != 1 or np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError("unigram_generator: counts must be a 1-D list of non-negative numbers.")
    for token_id in never_ids:
        if 0 <= token_id < len(counts):
            counts[token_id] = 0.0
    total = counts.sum()
    if total <= 0:
        raise ValueError("unigram_generator: every count is 0 once [CLS]/[SEP]/[MASK]/[PAD] "
                         "are left out; there is nothing to sample.")
    with np.errstate(divide="ignore"):
        logits = np.where(counts > 0, np.log(counts / total), UNIGRAM_NEVER)
    return logits.astype(np.float32)
