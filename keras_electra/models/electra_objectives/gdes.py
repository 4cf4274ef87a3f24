"""GDES: gradient-disentangled embedding sharing (He et al. 2021, DeBERTa-v3).

Only the generator's MLM loss updates the shared word table; the RTD loss updates the
discriminator's own residual table (`models.electra_layers.GdesEmbedding`, an
`ElectraBackbone(token_residual=True)`). The objective itself is ELECTRA's (or the uniform or
unigram generator's): GDES changes only how the discriminator is built, here.
`export_discriminator` / `discriminator.save_to_preset` write the folded table (shared +
residual), a plain `ElectraBackbone` (`ElectraBackbone.folded()`). Excludes
`untied_generator_embeddings` and `electric`.
"""

import random

import numpy as np

from keras_electra.models.electra_backbone import ElectraBackbone


def gdes_discriminator(backbone, backbone_args):
    """The GDES discriminator for `backbone` (`backbone_args`: its `ElectraBackbone` arguments).

    A plain `backbone` is rebuilt with `token_residual=True` on its own embedding block (which
    the generator then shares) and keeps its encoder weights, so a given discriminator keeps
    what it has learned; the residual starts at zero (GDES). The rebuild restores Python's and
    numpy's random states afterwards (Keras draws initializer seeds from them), so every
    layer built after it gets the same initial weights as without GDES: same seed, same
    start. A GDES backbone (a saved pretrainer being loaded) is returned as it is.
    """
    if backbone.token_residual:
        return backbone
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        discriminator = ElectraBackbone(
            **backbone_args, embeddings=backbone.embeddings, token_residual=True,
            dtype=backbone.dtype_policy, name=backbone.name,
        )
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
    pairs = list(zip(backbone.transformer_layers, discriminator.transformer_layers))
    if backbone.embeddings_project is not None:
        pairs.append((backbone.embeddings_project, discriminator.embeddings_project))
    for source, destination in pairs:
        for a, b in zip(source.weights, destination.weights):
            b.assign(a.value)
    return discriminator
