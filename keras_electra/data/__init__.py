"""TensorFlow data pipeline: vocabulary, pretraining shards (G packing), tf.data readers.

    from keras_electra.data import build_vocabulary, prepare_pretraining_data
    from keras_electra.data import pretraining_dataset, count_examples
"""

import importlib

_EXPORTS = {
    "build_vocabulary": "keras_electra.data.vocab",
    "load_vocabulary": "keras_electra.data.vocab",
    "prepare_pretraining_data": "keras_electra.data.pretraining_builder",
    "pretraining_dataset": "keras_electra.data.pretraining_dataset",
    "count_examples": "keras_electra.data.pretraining_dataset",
    "BadInputError": "keras_electra.data.text_files",
    "CorruptRecordError": "keras_electra.data.pretraining_dataset",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keras_electra.data' has no attribute {name!r}")


def __dir__():
    return __all__
