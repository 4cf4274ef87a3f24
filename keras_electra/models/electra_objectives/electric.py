"""Electric: G's `electric_objective` with its `two_tower_generator`.

Clark et al. 2020, "Pre-Training Transformers as Energy-Based Cloze Models", as
google-research/electra `run_pretraining.py` does it:

* The generator is a two-tower cloze model, a left-to-right (`generator`, causal attention)
  and a right-to-left (`generator_rtl`, anti-causal) tower of the generator's size, both on
  the shared embedding block (own blocks with `untied_generator_embeddings`), run on the
  *unmasked* input. Position i's representation is [ltr output at i-1, rtl output at i+1]
  (G's `roll`, which wraps around at the ends: positions 0 and S-1 are never candidates), so
  its prediction never sees token i. The cloze head (Dense -> GELU -> LayerNorm -> tied word
  embeddings + bias) gives log q(. | context) at every position (G `TwoTowerClozeTransformer`,
  `_get_cloze_outputs`).
* The generator loss is the cloze cross-entropy averaged over all candidate positions (real
  tokens except [CLS]/[SEP]/[MASK]/[PAD]), times `gen_weight`.
* Masked positions are drawn as for ELECTRA, fakes sampled from q at them
  (`disallow_correct` composes); every written position is labelled noise (1), even when
  the sample equals the original (G: `labels = masked`).
* The discriminator's logit gets the NCE correction
  `+ stop_gradient(log q(x_i | context)) + log(mask_prob / (1 - mask_prob))`, x_i the token
  of the corrupted input at every position, before the usual sigmoid cross-entropy
  (`disc_logits` and the disc metrics are the corrected logits, as G's; the correction is
  also returned as `disc_log_q`).
* Metrics: `gen_loss` is the cloze loss (all candidates), `gen_accuracy` the cloze model's
  at the masked positions.

Excludes `uniform_generator`, `unigram_generator` and `gdes` (none of them in G's Electric).
"""

import numpy as np
from keras import ops

from keras_electra.models import electra_masking as masking
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_objectives.electra import ElectraObjective


class ElectricObjective(ElectraObjective):
    labels_updated_only = True  # G electric: labels = masked
    towers = 2

    def build_generators(self, config, **kwargs):
        return (ElectraBackbone(**config, name="generator", attention_direction="ltr", **kwargs),
                ElectraBackbone(**config, name="generator_rtl", attention_direction="rtl",
                                **kwargs))

    def generator_logits(self, model, ids, masked, training):
        # the cloze model reads the unmasked input; its log-probabilities at the masked
        # positions are the generator's (sampling, MLM metrics)
        cloze_log_probs = ops.log_softmax(cloze_logits(
            model, ids["token_ids"], ids["segment_ids"], ids["padding_mask"], training), axis=-1)
        gen_logits = ops.take_along_axis(cloze_log_probs, masked["positions"][:, :, None], axis=1)
        return gen_logits, cloze_log_probs

    def correct_discriminator(self, model, disc_logits, corrupted_ids, cloze_log_probs):
        # G `_get_discriminator_output`, electric_objective: the NCE correction
        log_q = ops.stop_gradient(ops.squeeze(
            ops.take_along_axis(cloze_log_probs, corrupted_ids[:, :, None], axis=-1), -1))
        prior = float(np.log(model.mask_prob / (1.0 - model.mask_prob)))
        return disc_logits + log_q + prior, {"disc_log_q": log_q}

    def generator_nll(self, model, ids, masked, gen_logits, cloze_log_probs):
        # the cloze loss at every candidate position of the unmasked input
        nll = -ops.squeeze(
            ops.take_along_axis(cloze_log_probs, ids["token_ids"][:, :, None], axis=-1), -1)
        return cloze_weights(model, ids["token_ids"], ids["padding_mask"]), nll

    def generator_weight_sum(self, model, inputs, max_predictions):
        return ops.sum(cloze_weights(model, inputs["token_ids"], inputs["padding_mask"]))


def cloze_weights(model, token_ids, padding_mask):
    """The cloze loss' weights: 1.0 at candidate positions (G `get_candidates_mask`)."""
    return ops.cast(masking.candidates_mask(ops.cast(token_ids, "int32"), padding_mask,
                                            model._ignore_ids()), "float32")


def cloze_logits(model, token_ids, segment_ids, padding_mask, training=False):
    """`[B, S, V]` float32 logits of q(. | context) at every position, from the unmasked
    input: position i sees the ltr tower at i-1 and the rtl tower at i+1 (G's `roll`,
    wrapping around at the ends), never token i."""
    tower_inputs = {"token_ids": token_ids, "segment_ids": segment_ids,
                    "padding_mask": padding_mask}
    ltr = model.generator(tower_inputs, training=training)["sequence_output"]
    rtl = model.generator_rtl(tower_inputs, training=training)["sequence_output"]
    # G roll(ltr, -1): [ltr[S-1], ltr[0], ..., ltr[S-2]]; roll(rtl, 1): [rtl[1], ..., rtl[0]]
    ltr = ops.concatenate([ltr[:, -1:, :], ltr[:, :-1, :]], axis=1)
    rtl = ops.concatenate([rtl[:, 1:, :], rtl[:, :1, :]], axis=1)
    every_position = ops.broadcast_to(
        ops.arange(int(token_ids.shape[1]), dtype="int32")[None, :], ops.shape(token_ids))
    return ops.cast(model.generator_head(ops.concatenate([ltr, rtl], axis=-1),
                                         mask_positions=every_position), "float32")
