"""ELECTRA presets: architecture presets (random init) and keras-hub weight presets.

Architecture presets are data: the discriminator config, the generator
multiplier (G `run_pretraining.get_generator_config`) and the pretraining
defaults of the reference. Sizes follow G `util/training_utils.get_bert_config`
(heads = max(1, H // 64), FFN = 4H) and G's README / `configure_pretraining.py` for the
sizes (the released Small uses generator_hidden_size 1.0, google-research/electra#39).
"""

import logging

VOCAB_SIZE = 30522  # BERT uncased WordPiece vocab (G default)


# Literal data, as keras-hub's presets (issue 26). Per preset: the discriminator `backbone`
# (G `util/training_utils.get_bert_config`: heads = max(1, H // 64), FFN = 4H, 512 positions);
# its `generator` = `generator_config(backbone, generator_hidden_size, generator_layers)`
# (G `run_pretraining.get_generator_config`); `metadata.params` =
# `backbone_parameter_count(backbone)`. tests/models/test_electra_presets_literal.py recomputes
# both from those functions, so an edit that breaks them fails there.
ARCHITECTURE_PRESETS = {
    "electra_tiny": {
        "backbone": {
            "vocabulary_size": 30522,
            "num_layers": 2,
            "num_heads": 2,
            "hidden_dim": 128,
            "embedding_dim": 64,
            "intermediate_dim": 512,
            "max_sequence_length": 512,
        },
        "generator": {
            "vocabulary_size": 30522,
            "num_layers": 2,
            "num_heads": 1,
            "hidden_dim": 32,
            "embedding_dim": 64,
            "intermediate_dim": 128,
            "max_sequence_length": 512,
        },
        "generator_hidden_size": 0.25,
        "generator_layers": 1.0,
        "pretraining": {
            "mask_prob": 0.15,
            "sequence_length": 128,
        },
        "metadata": {
            "description": (
                "Tiny ELECTRA for CPU tests and the demo: 2 layers, H 128, E 64, "
                "generator 1/4."),
            "params": 2_391_296,
        },
    },
    "electra_small": {
        "backbone": {
            "vocabulary_size": 30522,
            "num_layers": 12,
            "num_heads": 4,
            "hidden_dim": 256,
            "embedding_dim": 128,
            "intermediate_dim": 1024,
            "max_sequence_length": 512,
        },
        "generator": {
            "vocabulary_size": 30522,
            "num_layers": 12,
            "num_heads": 1,
            "hidden_dim": 64,
            "embedding_dim": 128,
            "intermediate_dim": 256,
            "max_sequence_length": 512,
        },
        "generator_hidden_size": 0.25,
        "generator_layers": 1.0,
        "pretraining": {
            "mask_prob": 0.15,
            "sequence_length": 128,
        },
        "metadata": {
            "description": (
                "ELECTRA-Small as in the paper: 12 layers, H 256, E 128, generator 1/4 "
                "(H 64), sequence length 128."),
            "params": 13_483_008,
        },
    },
    "electra_small_plus": {
        "backbone": {
            "vocabulary_size": 30522,
            "num_layers": 12,
            "num_heads": 4,
            "hidden_dim": 256,
            "embedding_dim": 128,
            "intermediate_dim": 1024,
            "max_sequence_length": 512,
        },
        "generator": {
            "vocabulary_size": 30522,
            "num_layers": 12,
            "num_heads": 4,
            "hidden_dim": 256,
            "embedding_dim": 128,
            "intermediate_dim": 1024,
            "max_sequence_length": 512,
        },
        "generator_hidden_size": 1.0,
        "generator_layers": 1.0,
        "pretraining": {
            "mask_prob": 0.15,
            "sequence_length": 512,
        },
        "metadata": {
            "description": (
                "ELECTRA-Small++ (the released 'ELECTRA-Small'): generator the size of "
                "the discriminator, sequence length 512."),
            "params": 13_483_008,
        },
    },
    "electra_base": {
        "backbone": {
            "vocabulary_size": 30522,
            "num_layers": 12,
            "num_heads": 12,
            "hidden_dim": 768,
            "embedding_dim": 768,
            "intermediate_dim": 3072,
            "max_sequence_length": 512,
        },
        "generator": {
            "vocabulary_size": 30522,
            "num_layers": 12,
            "num_heads": 4,
            "hidden_dim": 256,
            "embedding_dim": 768,
            "intermediate_dim": 1024,
            "max_sequence_length": 512,
        },
        "generator_hidden_size": 0.3333333333333333,  # 1 / 3
        "generator_layers": 1.0,
        "pretraining": {
            "mask_prob": 0.15,
            "sequence_length": 512,
        },
        "metadata": {
            "description": (
                "ELECTRA-Base: 12 layers, H 768, generator 1/3 (H 256)."),
            "params": 108_891_648,
        },
    },
    "electra_large": {
        "backbone": {
            "vocabulary_size": 30522,
            "num_layers": 24,
            "num_heads": 16,
            "hidden_dim": 1024,
            "embedding_dim": 1024,
            "intermediate_dim": 4096,
            "max_sequence_length": 512,
        },
        "generator": {
            "vocabulary_size": 30522,
            "num_layers": 24,
            "num_heads": 4,
            "hidden_dim": 256,
            "embedding_dim": 1024,
            "intermediate_dim": 1024,
            "max_sequence_length": 512,
        },
        "generator_hidden_size": 0.25,
        "generator_layers": 1.0,
        "pretraining": {
            "mask_prob": 0.25,
            "sequence_length": 512,
        },
        "metadata": {
            "description": (
                "ELECTRA-Large: 24 layers, H 1024, generator 1/4 (H 256), mask prob "
                "0.25."),
            "params": 334_092_288,
        },
    },
}


def generator_config(backbone_config, generator_hidden_size=0.25, generator_layers=1.0):
    """G `get_generator_config`: Hg = round(H * mult), FFN = 4 Hg, heads = max(1, Hg // 64)."""
    config = dict(backbone_config)
    hidden = int(round(backbone_config["hidden_dim"] * generator_hidden_size))
    config["hidden_dim"] = hidden
    config["intermediate_dim"] = 4 * hidden
    config["num_heads"] = max(1, hidden // 64)
    config["num_layers"] = int(round(backbone_config["num_layers"] * generator_layers))
    return config


def backbone_parameter_count(config):
    """Parameters of an ElectraBackbone (= HF ElectraModel, no pooler)."""
    v, e, h = config["vocabulary_size"], config["embedding_dim"], config["hidden_dim"]
    f, n, p = config["intermediate_dim"], config["num_layers"], config["max_sequence_length"]
    segments = config.get("num_segments", 2)
    embeddings = (v + p + segments) * e + 2 * e
    project = (e * h + h) if e != h else 0
    layer = 4 * (h * h + h) + 2 * h + (h * f + f) + (f * h + h) + 2 * h
    return embeddings + project + n * layer


# keras-hub's Kaggle presets (weights of the released models, converted from HF
# by keras-hub). They load into our ElectraBackbone through
# `keras_electra.convert.keras_hub` (layer names are mapped, the unused tanh
# pooler is dropped).
KERAS_HUB_PRESETS = {
    "electra_small_discriminator_uncased_en":
        "kaggle://keras/electra/keras/electra_small_discriminator_uncased_en/2",
    "electra_small_generator_uncased_en":
        "kaggle://keras/electra/keras/electra_small_generator_uncased_en/2",
    "electra_base_discriminator_uncased_en":
        "kaggle://keras/electra/keras/electra_base_discriminator_uncased_en/2",
    "electra_base_generator_uncased_en":
        "kaggle://keras/electra/keras/electra_base_generator_uncased_en/2",
    "electra_large_discriminator_uncased_en":
        "kaggle://keras/electra/keras/electra_large_discriminator_uncased_en/2",
    "electra_large_generator_uncased_en":
        "kaggle://keras/electra/keras/electra_large_generator_uncased_en/2",
}


class classproperty(property):  # noqa: N801 (keras-hub's spelling)
    """A read-only class-level property (as keras-hub's own `Backbone.presets` uses)."""

    def __get__(self, _, owner_cls):
        return self.fget(owner_cls)


# Sizes as the CLI spells them (`--model_size tiny`); `electra_tiny` is accepted as well.
MODEL_SIZES = tuple(name[len("electra_"):] for name in ARCHITECTURE_PRESETS)


def architecture_preset_name(name):
    """The architecture preset `name` means: `"tiny"` or `"electra_tiny"` -> `"electra_tiny"`;
    None when it is neither (a path, a keras-hub name, ...)."""
    if not isinstance(name, str):
        return None
    if name in ARCHITECTURE_PRESETS:
        return name
    return f"electra_{name}" if f"electra_{name}" in ARCHITECTURE_PRESETS else None


def listed_presets():
    """What `ElectraBackbone.presets`, `ElectraPretrainer.presets` and
    `ElectraQuestionAnswerer.presets` return: keras-hub's format, `{name: {"metadata":
    {"description", "params", "path"}}}` (params: the backbone, with BERT's 30,522-token
    vocabulary; a preset takes the vocabulary size of the tokenizer it is given)."""
    return {name: {"metadata": {**preset["metadata"], "path": "electra"}}
            for name, preset in ARCHITECTURE_PRESETS.items()}


def resolve_vocabulary_size(name, kwargs, tokenizer=None):
    """`kwargs` with `vocabulary_size` for a random-init architecture preset: the one given,
    else the tokenizer's (a task's `preprocessor.tokenizer`), else BERT's 30,522, said in
    one line (logged at WARNING: a model that does not fit the vocabulary is a silent bug)."""
    kwargs = dict(kwargs)
    if kwargs.get("vocabulary_size") is not None:
        return kwargs
    if tokenizer is not None and hasattr(tokenizer, "vocabulary_size"):
        kwargs["vocabulary_size"] = int(tokenizer.vocabulary_size())
        return kwargs
    kwargs["vocabulary_size"] = VOCAB_SIZE
    logging.getLogger(__name__).warning(
        "%s: random init with vocabulary_size=%d (BERT uncased WordPiece); pass "
        "vocabulary_size= or a preprocessor with your tokenizer to match your vocab.txt.",
        name, VOCAB_SIZE)
    return kwargs
