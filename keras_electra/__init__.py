"""keras-electra: ELECTRA (replaced-token detection) for Keras 3, keras-hub style.

Public API (imported lazily so `import keras_electra` stays light and never
pulls TensorFlow into a JAX-only process unless a TF-only piece is used):

    from keras_electra import ElectraBackbone, ElectraTokenizer
    from keras_electra import ElectraPretrainer, ElectraQuestionAnswerer
    from keras_electra import ElectraTextClassifier
"""

import importlib

# Registers the models' `from_preset` loaders for HF dirs and keras-hub presets, so
# `ElectraBackbone.from_preset(hf_dir)` works whichever module was imported first.
from keras_electra import convert  # noqa: F401

__version__ = "0.1.0"

_EXPORTS = {
    "ElectraBackbone": "keras_electra.models.electra_backbone",
    "ElectraTokenizer": "keras_electra.models.electra_tokenizer",
    "ElectraEmbedding": "keras_electra.models.electra_layers",
    "ElectraPretrainer": "keras_electra.models.electra_pretrainer",
    "ElectraPretrainerPreprocessor": "keras_electra.models.electra_pretrainer_preprocessor",
    "ElectraQuestionAnswerer": "keras_electra.models.electra_question_answerer",
    "ElectraQuestionAnswererPreprocessor":
        "keras_electra.models.electra_question_answerer_preprocessor",
    "ElectraTextClassifier": "keras_electra.models.electra_text_classifier",
    "ElectraTextClassifierPreprocessor":
        "keras_electra.models.electra_text_classifier_preprocessor",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keras_electra' has no attribute {name!r}")


def __dir__():
    return __all__
