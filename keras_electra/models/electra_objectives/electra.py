"""G's ELECTRA objective, the default, and the interface every objective variant implements.

google-research/electra `run_pretraining.py` (`PretrainingModel`) and
`pretrain/pretrain_helpers.py`, as `ElectraPretrainer.forward` runs it:

* The generator backbone is built on the discriminator's embedding block (word, position,
  token-type embeddings and their LayerNorm are shared; each model keeps its own
  `embeddings_project`). The generator head is Dense -> GELU -> LayerNorm -> logits through
  the tied word embeddings + its own output bias, evaluated only at the masked positions.
* Dynamic masking every step (`models/electra_masking.py`): candidates exclude padding,
  [CLS], [SEP], [MASK]; N = int((p + 0.005) S) slots, max(1, min(N, round(real * p))) of
  them used; positions drawn uniformly with replacement; 85% -> [MASK], 15% unchanged, never
  a random token; position 0 never written.
* Fake tokens: Gumbel-max sampling at `temperature` over the full vocabulary, stop-gradient;
  label = sampled != original (G `_get_fake_data`).
* Loss = `gen_weight` * MLM cross-entropy (mean over masked slots) + `disc_weight` * sigmoid
  cross-entropy (mean over real tokens). Both means are over the *global* batch, so the loss
  and gradients are the same on 1 device or N replicas.
* Random streams are stateless functions of (`seed`, step counter, global example index): the
  same draws on 1 device or N replicas for the same global batch, and reproduced after a
  resume because the step counter is saved with the weights.

A variant subclasses `ElectraObjective` and overrides what it changes; `forward` calls these
methods with the pretrainer (`model`) that owns the layers, so every weight stays where a
saved preset has it.
"""

from keras import ops

from keras_electra.models import electra_masking as masking
from keras_electra.models.electra_backbone import ElectraBackbone


class ElectraObjective:
    """G's ELECTRA: an MLM generator on the masked input, fakes from its softmax."""

    # G `_get_fake_data`: a fake equal to the original token is labelled original.
    labels_updated_only = False
    # Generator towers whose outputs the generator head reads, concatenated.
    towers = 1

    def build_generators(self, config, **kwargs):
        """The generator backbone(s), `(generator, generator_rtl or None)`."""
        return ElectraBackbone(**config, name="generator", **kwargs), None

    def generator_logits(self, model, ids, masked, training):
        """`(gen_logits, state)`: float32 `[B, N, V]` logits the fakes are drawn from at the
        masked positions, and whatever the two loss methods below need (`state`)."""
        output = model.generator(
            {"token_ids": masked["masked_ids"], "segment_ids": ids["segment_ids"],
             "padding_mask": ids["padding_mask"]}, training=training,
        )["sequence_output"]
        logits = model.generator_head(output, mask_positions=masked["positions"])
        return ops.cast(logits, "float32"), None

    def correct_discriminator(self, model, disc_logits, corrupted_ids, state):
        """`(disc_logits, extra outputs)`: the logits the RTD loss sees. ELECTRA: as they are."""
        return disc_logits, {}

    def mlm_log_probs(self, gen_logits):
        return ops.log_softmax(gen_logits, axis=-1)

    def generator_nll(self, model, ids, masked, gen_logits, state):
        """`(weights, nll)` of the generator loss: G `_get_masked_lm_output`, the MLM
        cross-entropy at the masked slots."""
        log_probs = self.mlm_log_probs(gen_logits)
        nll = -ops.squeeze(
            ops.take_along_axis(log_probs, masked["masked_lm_ids"][:, :, None], axis=-1), -1)
        return masked["masked_lm_weights"], nll

    def generator_weight_sum(self, model, inputs, max_predictions):
        """The sum of a batch's generator-loss weights (the loss' denominator)."""
        return ops.sum(ops.cast(
            masking.num_to_predict(inputs["padding_mask"], model.mask_prob, max_predictions),
            "float32"))
