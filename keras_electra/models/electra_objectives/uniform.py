"""G's `uniform_generator`: fakes drawn uniformly over the vocabulary.

The generator's logits are multiplied by 0 (which keeps its gradients defined, all zero,
instead of absent), so the fakes are uniform and its MLM loss is the constant log V.
"""

from keras_electra.models.electra_objectives.electra import ElectraObjective


class UniformObjective(ElectraObjective):
    def generator_logits(self, model, ids, masked, training):
        gen_logits, state = super().generator_logits(model, ids, masked, training)
        return gen_logits * 0.0, state
