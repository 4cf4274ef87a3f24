"""An honest RTD evaluation: AUC without the trivial cues, and a context-free baseline.

A discriminator can reach an AUC well above 0.5 without any contextual skill, from cues that
need no context at all:

* `[CLS]` and `[SEP]` are never replaced (and padding is not a token);
* when two masked slots of a sequence fall on the same position, G's `scatter_update` writes
  the floor-average of the two sampled ids there: a token recognisable by itself.

`rtd_outputs` collects, for validation batches, each position's corrupted token, label and
discriminator score and whether it carries none of those cues (`cue_free`). `cue_free_auc`
is the AUC over those positions. `context_free_baseline` is the AUC (same positions) of a
discriminator that sees only each token's identity: the replaced rate of that token id
measured on other batches (a per-token logistic model with one-hot features, smoothed
towards the overall rate). A discriminator has learned contextual detection only if its
cue-free AUC beats that baseline.

Example:
```python
from keras_electra.evaluation.rtd_cues import context_free_baseline, cue_free_auc, rtd_outputs

fit = rtd_outputs(pretrainer, training_batches)     # the replacements the baseline learns
held_out = rtd_outputs(pretrainer, validation_batches)
cue_free_auc(held_out), context_free_baseline(fit, held_out)

# or both at once, leaving the pretrainer's evaluation random stream where it was
# (what `keras-electra pretrain`'s validation reports as val_cue_free_auc / val_context_free_auc)
cue_free_evaluation(pretrainer, validation_batches, training_batches)
```
"""

import contextlib

import numpy as np


def exact_auc(labels, scores):
    """ROC AUC by ranks (Mann-Whitney U), ties counted half; NaN without both classes."""
    labels = np.asarray(labels).astype(bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average_rank = ends - (counts - 1) / 2.0  # 1-based average rank of each distinct score
    ranks = average_rank[inverse]
    return float((ranks[labels].sum() - positives * (positives + 1) / 2.0)
                 / (positives * negatives))


def cue_free_mask(token_ids, padding_mask, positions, slot_weights, special_ids):
    """`[B, S]` bool: real tokens that are not special and not a duplicate-slot position.

    Args:
        token_ids: `[B, S]` the original ids.
        padding_mask: `[B, S]`.
        positions, slot_weights: `[B, N]` the masked slots and their weights (a slot with
            weight 0 is unused).
        special_ids: ids never replaced ([CLS], [SEP]; [MASK], [PAD] do no harm).
    """
    token_ids, padding = np.asarray(token_ids), np.asarray(padding_mask).astype(bool)
    positions = np.asarray(positions)
    used = np.asarray(slot_weights) > 0
    hits = np.zeros(token_ids.shape, np.int64)
    rows = np.repeat(np.arange(token_ids.shape[0])[:, None], positions.shape[1], axis=1)
    np.add.at(hits, (rows[used], positions[used]), 1)
    return padding & ~np.isin(token_ids, list(special_ids)) & (hits < 2)


def rtd_outputs(model, batches):
    """Per position of `batches` (dicts of `token_ids`, `segment_ids`, `padding_mask`):
    `{"corrupted_ids", "labels", "scores", "cue_free"}` flat numpy arrays, from the
    pretrainer's evaluation forward pass (no dropout; its evaluation random stream)."""
    from keras import ops

    special = (model.cls_token_id, model.sep_token_id)
    parts = {"corrupted_ids": [], "labels": [], "scores": [], "cue_free": []}
    for batch in batches:
        out = model(batch, training=False)
        host = {k: ops.convert_to_numpy(out[k]) for k in (
            "corrupted_ids", "labels", "disc_logits", "positions", "masked_lm_weights",
            "padding_mask")}
        cue_free = cue_free_mask(ops.convert_to_numpy(batch["token_ids"]), host["padding_mask"],
                                 host["positions"], host["masked_lm_weights"], special)
        parts["corrupted_ids"].append(host["corrupted_ids"].ravel())
        parts["labels"].append(host["labels"].ravel())
        parts["scores"].append(host["disc_logits"].ravel())
        parts["cue_free"].append(cue_free.ravel())
    return {k: np.concatenate(v) for k, v in parts.items()}


def cue_free_auc(outputs):
    """The discriminator's AUC over the cue-free positions of `rtd_outputs`."""
    keep = outputs["cue_free"]
    return exact_auc(outputs["labels"][keep], outputs["scores"][keep])


def context_free_rates(outputs, smoothing=1.0):
    """Replaced rate per corrupted token id over the cue-free positions of `outputs`
    (`{id: rate}`), smoothed towards the overall rate with `smoothing` pseudo-counts, and
    that overall rate."""
    keep = outputs["cue_free"]
    ids, labels = outputs["corrupted_ids"][keep], outputs["labels"][keep].astype(np.float64)
    prior = float(labels.mean()) if labels.size else 0.0
    unique, inverse = np.unique(ids, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(unique))
    replaced = np.bincount(inverse, weights=labels, minlength=len(unique))
    rates = (replaced + smoothing * prior) / (counts + smoothing)
    return dict(zip(unique.tolist(), rates.tolist())), prior


def context_free_baseline(fit_outputs, eval_outputs, smoothing=1.0):
    """AUC, over `eval_outputs`' cue-free positions, of scoring each token by its replaced
    rate in `fit_outputs` (token identity only; unseen ids get the overall rate)."""
    rates, prior = context_free_rates(fit_outputs, smoothing)
    keep = eval_outputs["cue_free"]
    scores = np.array([rates.get(int(i), prior) for i in eval_outputs["corrupted_ids"][keep]])
    return exact_auc(eval_outputs["labels"][keep], scores)


@contextlib.contextmanager
def untouched_eval_stream(model):
    """Run evaluation forward passes without moving the pretrainer's evaluation random stream
    (`eval_step`): training, checkpoints and later validations see the same state as
    without them."""
    from keras import ops

    start = int(ops.convert_to_numpy(model.eval_step.value))
    try:
        yield
    finally:
        model.eval_step.assign(start)


def cue_free_evaluation(model, eval_batches, fit_batches, smoothing=1.0):
    """The honest RTD numbers of a pretrainer in one call.

    Returns `{"cue_free_auc", "context_free_auc", "cue_free_positions"}`: the discriminator's
    AUC over the cue-free positions of `eval_batches`, the context-free baseline's AUC over
    the same positions (per-token replaced rates fitted on the replacements the current
    generator makes in `fit_batches`, e.g. training batches) and how many positions that is.
    The discriminator shows contextual detection only when `cue_free_auc` beats
    `context_free_auc`. The evaluation random stream is left untouched
    (`untouched_eval_stream`).
    """
    with untouched_eval_stream(model):
        held_out = rtd_outputs(model, eval_batches)
        fit = rtd_outputs(model, fit_batches)
    return {"cue_free_auc": cue_free_auc(held_out),
            "context_free_auc": context_free_baseline(fit, held_out, smoothing),
            "cue_free_positions": int(held_out["cue_free"].sum())}
