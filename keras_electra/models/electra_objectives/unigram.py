"""The ELECTRA paper's unigram-generator ablation: fakes drawn from the corpus' frequencies.

`unigram_generator` holds the training split's token counts (`vocabulary_size` numbers, e.g.
`prepare`'s `token_counts.tsv`; kept in the pretrainer's config, so a saved preset is
self-contained). Fakes are drawn (Gumbel-max, at `temperature`) from log(count / total), with
[CLS], [SEP], [MASK], [PAD] and ids of count 0 at probability 0
(`models.electra_masking.unigram_logits`). Like G's `uniform_generator`, the distribution
*replaces* the generator: its logits are multiplied by 0 and the unigram log-probabilities
added, so its MLM loss is the unigram model's cross-entropy (a constant; an id of probability
0 counts as log(1e-12)), the generator gets zero gradients, and `gen_accuracy` is that of
always predicting the most frequent token. `disallow_correct` composes.
"""

import numpy as np
from keras import ops

from keras_electra.models import electra_masking as masking
from keras_electra.models.electra_objectives.electra import ElectraObjective


class UnigramObjective(ElectraObjective):
    def __init__(self, counts, never_ids):
        self.logits = masking.unigram_logits(counts, never_ids)

    def generator_logits(self, model, ids, masked, training):
        gen_logits, state = super().generator_logits(model, ids, masked, training)
        return gen_logits * 0.0 + ops.convert_to_tensor(self.logits)[None, None], state

    def mlm_log_probs(self, gen_logits):
        # an id of probability 0 costs log(1e-12)
        return ops.maximum(super().mlm_log_probs(gen_logits), float(np.log(1e-12)))
