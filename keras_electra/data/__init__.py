"""TensorFlow data pipeline: vocabulary, pretraining shards (G packing), tf.data readers.

    from keras_electra.data import build_vocabulary, prepare_pretraining_data
    from keras_electra.data import pretraining_dataset, count_examples

These modules import TensorFlow only inside their functions, so importing them is cheap.
(`pretraining_dataset` is both a module and its main function; the package exports the
function.)
"""

from keras_electra.data.pretraining_builder import prepare_pretraining_data
from keras_electra.data.pretraining_dataset import (
    CorruptRecordError,
    count_examples,
    pretraining_dataset,
)
from keras_electra.data.text_files import BadInputError
from keras_electra.data.vocab import build_vocabulary, load_vocabulary

__all__ = [
    "BadInputError",
    "CorruptRecordError",
    "build_vocabulary",
    "count_examples",
    "load_vocabulary",
    "prepare_pretraining_data",
    "pretraining_dataset",
]
