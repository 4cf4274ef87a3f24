"""The ELECTRA objective as `ElectraPretrainer.forward` computed it before issue 26 (bd9b1da).

A frozen copy of the old code path (every variant woven through one function), kept so
`test_objective_reference.py` can check on the machine it runs on that the strategy-module
implementation gives the same bits: a frozen `.npz` alone can differ in the last bit on a
CPU whose math kernels differ from the one that wrote it.
"""

import numpy as np
from keras import ops

from keras_electra.models import electra_masking as masking


def _ignore_ids(model):
    return (model.sep_token_id, model.cls_token_id, model.mask_token_id, model.pad_token_id)


def _cloze_weights(model, token_ids, padding_mask):
    return ops.cast(masking.candidates_mask(ops.cast(token_ids, "int32"), padding_mask,
                                            _ignore_ids(model)), "float32")


def normalizers(model, inputs):
    padding_mask = inputs["padding_mask"]
    sequence_length = int(inputs["token_ids"].shape[1])
    n = masking.max_predictions_per_seq(sequence_length, model.mask_prob)
    if model.electric:
        mlm_weight = ops.sum(_cloze_weights(model, inputs["token_ids"], padding_mask))
    else:
        mlm_weight = ops.sum(ops.cast(
            masking.num_to_predict(padding_mask, model.mask_prob, n), "float32"))
    real_tokens = ops.sum(ops.cast(padding_mask, "float32"))
    return ops.stack([mlm_weight, real_tokens])  # one device: the cross-replica sum is itself


def cloze_logits(model, token_ids, segment_ids, padding_mask, training=False):
    tower_inputs = {"token_ids": token_ids, "segment_ids": segment_ids,
                    "padding_mask": padding_mask}
    ltr = model.generator(tower_inputs, training=training)["sequence_output"]
    rtl = model.generator_rtl(tower_inputs, training=training)["sequence_output"]
    ltr = ops.concatenate([ltr[:, -1:, :], ltr[:, :-1, :]], axis=1)
    rtl = ops.concatenate([rtl[:, 1:, :], rtl[:, :1, :]], axis=1)
    sequence_length = int(token_ids.shape[1])
    every_position = ops.broadcast_to(
        ops.arange(sequence_length, dtype="int32")[None, :], ops.shape(token_ids))
    return ops.cast(model.generator_head(ops.concatenate([ltr, rtl], axis=-1),
                                         mask_positions=every_position), "float32")


def forward(model, inputs, noise, normalizers=None, training=False):
    unigram = (None if model.unigram_generator is None else masking.unigram_logits(
        model.unigram_generator, [model.cls_token_id, model.sep_token_id, model.mask_token_id,
                                  model.pad_token_id]))
    token_ids = ops.cast(inputs["token_ids"], "int32")
    segment_ids = ops.cast(inputs["segment_ids"], "int32")
    padding_mask = ops.cast(inputs["padding_mask"], "int32")
    masked = masking.mask_tokens(
        token_ids, padding_mask, noise["position_noise"], noise["mask_noise"],
        model.mask_prob, ignore_ids=_ignore_ids(model), mask_token_id=model.mask_token_id,
    )
    extra = {}
    if model.electric:
        cloze_log_probs = ops.log_softmax(
            cloze_logits(model, token_ids, segment_ids, padding_mask, training), axis=-1)
        gen_logits = ops.take_along_axis(
            cloze_log_probs, masked["positions"][:, :, None], axis=1)
    else:
        generator_output = model.generator(
            {"token_ids": masked["masked_ids"], "segment_ids": segment_ids,
             "padding_mask": padding_mask}, training=training,
        )["sequence_output"]
        gen_logits = ops.cast(
            model.generator_head(generator_output, mask_positions=masked["positions"]),
            "float32")
    if model.uniform_generator:
        gen_logits = gen_logits * 0.0
    if unigram is not None:
        gen_logits = gen_logits * 0.0 + ops.convert_to_tensor(unigram)[None, None]
    sampled_ids = masking.gumbel_argmax(
        ops.stop_gradient(gen_logits), noise["gumbel_noise"], model.temperature,
        disallow=masked["masked_lm_ids"] if model.disallow_correct else None,
    )
    corrupted_ids, labels = masking.replace_tokens(
        masked["masked_ids"], masked["positions"], masked["masked_lm_ids"], sampled_ids,
        updated_only=model.electric,
    )
    discriminator_output = model.backbone(
        {"token_ids": corrupted_ids, "segment_ids": segment_ids,
         "padding_mask": padding_mask}, training=training,
    )["sequence_output"]
    disc_logits = ops.cast(model.discriminator_head(discriminator_output), "float32")
    if model.electric:
        log_q = ops.stop_gradient(ops.squeeze(
            ops.take_along_axis(cloze_log_probs, corrupted_ids[:, :, None], axis=-1), -1))
        extra["disc_log_q"] = log_q
        disc_logits = disc_logits + log_q + float(
            np.log(model.mask_prob / (1.0 - model.mask_prob)))
    if model.electric:
        weights = _cloze_weights(model, token_ids, padding_mask)
        nll = -ops.squeeze(
            ops.take_along_axis(cloze_log_probs, token_ids[:, :, None], axis=-1), -1)
    else:
        weights = masked["masked_lm_weights"]
        log_probs = ops.log_softmax(gen_logits, axis=-1)
        if unigram is not None:
            log_probs = ops.maximum(log_probs, float(np.log(1e-12)))
        nll = -ops.squeeze(
            ops.take_along_axis(log_probs, masked["masked_lm_ids"][:, :, None], axis=-1), -1
        )
    token_weights = ops.cast(padding_mask, "float32")
    bce = masking.sigmoid_cross_entropy_with_logits(disc_logits, ops.cast(labels, "float32"))
    gen_sum = ops.sum(weights * nll)
    disc_sum = ops.sum(token_weights * bce)
    local_counts = ops.stack([ops.sum(weights), ops.sum(token_weights)])
    if normalizers is None:
        normalizers = local_counts
    gen_loss = gen_sum / (normalizers[0] + 1e-6)
    disc_loss = disc_sum / (normalizers[1] + 1e-6)
    loss = model.gen_weight * gen_loss + model.disc_weight * disc_loss
    return {
        **masked, "gen_logits": gen_logits, "sampled_ids": sampled_ids,
        "corrupted_ids": corrupted_ids, "labels": labels, "disc_logits": disc_logits,
        "padding_mask": padding_mask, "gen_sum": gen_sum, "disc_sum": disc_sum,
        "local_counts": local_counts, "gen_loss": gen_loss, "disc_loss": disc_loss,
        "loss": loss, **extra,
    }
