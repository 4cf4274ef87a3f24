"""The objective variants of `ElectraPretrainer`, one module each, chosen at construction.

* `electra`: G's ELECTRA (the default) and the `ElectraObjective` interface: the generator's
  distribution at the masked positions, its loss, the discriminator's logit correction.
* `uniform`: G's `uniform_generator`.  * `unigram`: the paper's unigram-generator ablation.
* `electric`: G's `electric_objective` (two-tower cloze generator, NCE-corrected logits).
* `gdes`: gradient-disentangled embedding sharing (how the discriminator is built).

G's one-line switches stay arguments of `ElectraPretrainer`: `disallow_correct` (passed to
`models.electra_masking.gumbel_argmax`), `untied_generator_embeddings` (the generator's own
embedding block), `generator_layers` / `generator_hidden_size` (the generator's size).
`check_arguments` holds every check of these arguments; `objective_for` picks the strategy,
which the pretrainer keeps as `objective`:

```python
from keras_electra import ElectraPretrainer

pretrainer = ElectraPretrainer.from_preset("electra_tiny", vocabulary_size=1000, electric=True)
print(type(pretrainer.objective).__name__)  # ElectricObjective
```
"""

from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_objectives.electra import ElectraObjective
from keras_electra.models.electra_objectives.electric import ElectricObjective
from keras_electra.models.electra_objectives.gdes import gdes_discriminator
from keras_electra.models.electra_objectives.uniform import UniformObjective
from keras_electra.models.electra_objectives.unigram import UnigramObjective

__all__ = ["ElectraObjective", "ElectricObjective", "UniformObjective", "UnigramObjective",
           "check_arguments", "gdes_discriminator", "objective_for"]


def check_arguments(backbone, mask_prob, gdes, untied_generator_embeddings, uniform_generator,
                    unigram_generator, electric):
    """Every check of `ElectraPretrainer`'s objective arguments, before anything is built."""
    if not isinstance(backbone, ElectraBackbone):
        raise TypeError(
            "ElectraPretrainer: `backbone` must be a keras_electra ElectraBackbone "
            f"(the discriminator); got {type(backbone).__name__}."
        )
    if not 0.0 < mask_prob < 1.0:
        raise ValueError(f"ElectraPretrainer: mask_prob must be in (0, 1); got {mask_prob}.")
    if gdes and untied_generator_embeddings:
        raise ValueError("ElectraPretrainer: gdes shares the generator's embedding block "
                         "with the discriminator; it cannot be combined with "
                         "untied_generator_embeddings=True.")
    if unigram_generator is not None and uniform_generator:
        raise ValueError("ElectraPretrainer: unigram_generator and uniform_generator both "
                         "choose the fakes' distribution; use one of them.")
    if electric and (uniform_generator or unigram_generator is not None or gdes):
        raise ValueError("ElectraPretrainer: electric (G's electric_objective) samples from "
                         "its two-tower cloze generator and uses no GDES; it cannot be "
                         "combined with uniform_generator, unigram_generator or gdes.")
    if unigram_generator is not None and len(unigram_generator) != backbone.vocabulary_size:
        raise ValueError(
            f"ElectraPretrainer: unigram_generator has {len(unigram_generator)} counts; "
            f"the vocabulary has {backbone.vocabulary_size} ids.")


def objective_for(uniform_generator=False, unigram_generator=None, electric=False,
                  special_ids=()):
    """The objective strategy for checked arguments (`special_ids`: [CLS], [SEP], [MASK],
    [PAD], which the unigram generator never draws)."""
    if electric:
        return ElectricObjective()
    if uniform_generator:
        return UniformObjective()
    if unigram_generator is not None:
        return UnigramObjective(unigram_generator, special_ids)
    return ElectraObjective()
