"""An independent numpy transcription of G's masking, sampling and losses.

Written from google-research/electra `pretrain/pretrain_helpers.py` (`mask`,
`scatter_update`) and `run_pretraining.py` (`_get_fake_data`, the losses) with plain loops, to check the keras.ops implementation.
"""

import numpy as np


def scatter_update(sequence, updates, positions):
    sequence = np.array(sequence, dtype=np.int64)
    batch, length = sequence.shape
    sums = np.zeros_like(sequence)
    counts = np.zeros_like(sequence)
    for b in range(batch):
        for k in range(positions.shape[1]):
            p = int(positions[b, k])
            sums[b, p] += int(updates[b, k])
            counts[b, p] += 1
    counts[:, 0] = 0  # writes to position 0 are ignored
    updated = counts > 0
    out = sequence.copy()
    out[updated] = sums[updated] // counts[updated]  # duplicates: floor average
    return out, updated.astype(np.int64)


def mask(token_ids, padding_mask, position_noise, mask_noise, mask_prob, ignore_ids, mask_id):
    batch, _ = token_ids.shape
    n = position_noise.shape[1]
    candidates = padding_mask.astype(bool) & ~np.isin(token_ids, ignore_ids)
    num_tokens = padding_mask.sum(-1).astype(np.float32)
    # tf.round on float32: half to even (np.round does the same)
    count = np.maximum(1, np.minimum(n, np.round(num_tokens * np.float32(mask_prob)).astype(int)))
    weights = (np.arange(n)[None, :] < count[:, None]).astype(np.float32)
    positions = np.zeros((batch, n), dtype=np.int64)
    for b in range(batch):
        allowed = np.nonzero(candidates[b])[0]
        for k in range(n):
            if weights[b, k] and len(allowed):
                idx = min(int(np.floor(position_noise[b, k] * len(allowed))), len(allowed) - 1)
                positions[b, k] = allowed[idx]
    masked_lm_ids = np.take_along_axis(token_ids, positions, 1) * weights.astype(np.int64)
    replace_positions = positions * (mask_noise < 0.85)
    masked_ids, _ = scatter_update(token_ids, np.full((batch, n), mask_id), replace_positions)
    return masked_ids, positions, masked_lm_ids, weights


def gumbel_sample(logits, uniform, temperature=1.0):
    gumbel = -np.log(-np.log(uniform + 1e-9) + 1e-9)
    return np.argmax(logits / temperature + gumbel, axis=-1)


def fake_data(masked_ids, positions, masked_lm_ids, sampled):
    original, _ = scatter_update(masked_ids, masked_lm_ids, positions)
    updated_ids, updated = scatter_update(original, sampled, positions)
    labels = updated * (updated_ids != original)
    return updated_ids, labels, original


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def losses(gen_logits, masked_lm_ids, weights, disc_logits, labels, padding_mask,
           gen_weight=1.0, disc_weight=50.0):
    nll = -np.take_along_axis(log_softmax(gen_logits.astype(np.float64)),
                              masked_lm_ids[..., None], -1)[..., 0]
    mlm_loss = (weights * nll).sum() / (weights.sum() + 1e-6)
    x = disc_logits.astype(np.float64)
    z = labels.astype(np.float64)
    bce = np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))
    m = padding_mask.astype(np.float64)
    disc_loss = (m * bce).sum() / (m.sum() + 1e-6)
    return mlm_loss, disc_loss, gen_weight * mlm_loss + disc_weight * disc_loss


def auc(labels, scores, weights):
    """Exact weighted ROC AUC (ties count one half)."""
    keep = weights > 0
    labels, scores = labels[keep], scores[keep]
    pos, neg = scores[labels == 1], scores[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        return 0.0
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return greater / (len(pos) * len(neg))


def same_bin_pair_fraction(labels, scores, weights, num_thresholds=200):
    """Fraction of (replaced, original) pairs whose scores share one threshold bin.

    A thresholded AUC (Keras' ``AUC(num_thresholds=n)``) orders every pair in
    different bins exactly; only pairs inside one bin can be mis-scored, so
    ``|binned_auc - exact_auc|`` is at most this fraction.
    """
    keep = weights > 0
    labels, scores = labels[keep], scores[keep]
    bins = np.floor(np.clip(scores, 0.0, 1.0) * (num_thresholds - 1)).astype(np.int64)
    pos, neg = bins[labels == 1], bins[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        return 0.0
    return (pos[:, None] == neg[None, :]).sum() / (len(pos) * len(neg))
