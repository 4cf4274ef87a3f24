"""What `fit`/`predict`/`evaluate` of our tasks do with in-memory data and `tf.data` inputs.

keras-hub 0.32's `Task.fit` batches in-memory inputs (lists of strings, numpy arrays) into a
dataset without shuffling, and Keras then warns that `shuffle=True` "will be ignored". Our
tasks shuffle such inputs themselves (a `tf.data` pipeline reshuffled every epoch, as Keras
shuffles arrays) and pass `shuffle=False` on, so `fit(["some text", ...])` shuffles and prints
no warning. An unbatched `tf.data.Dataset` of strings gets one line saying to batch it
(instead of an `IndexError` deep in the tokenizer).

tf.data is the input pipeline here on every backend (keras-hub's preprocessors run in it too);
the model never sees TensorFlow.

Example:
```python
from keras_electra.models.electra_task_inputs import check_batched

check_batched(["a", "b"])  # in-memory data passes; an unbatched Dataset of strings raises
```
"""

import keras

from keras_electra.models.electra_backend_utils import build_optimizer_before_tracing


def is_tf_dataset(x):
    return type(x).__module__.startswith("tensorflow") and hasattr(x, "element_spec")


def check_batched(x):
    """Raises a one-line `ValueError` for a `tf.data.Dataset` of unbatched strings."""
    if not is_tf_dataset(x):
        return
    import tensorflow as tf

    spec = x.element_spec
    features = spec[0] if isinstance(spec, tuple) else spec
    for leaf in tf.nest.flatten(features):
        if (isinstance(leaf, tf.TensorSpec) and leaf.dtype == tf.string
                and leaf.shape.rank == 0):
            raise ValueError("the dataset yields single strings: batch it first, e.g. "
                             "`dataset.batch(32)` (our tasks take batches of strings)")


def _is_in_memory(x):
    if x is None or is_tf_dataset(x):
        return False
    if isinstance(x, dict):
        return all(_is_in_memory(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return len(x) > 0
    return hasattr(x, "__array__") and not hasattr(x, "element_spec")


def fit_arguments(x, y, sample_weight, batch_size, kwargs):
    """`(x, y, sample_weight, batch_size, kwargs)` for keras-hub's `fit`.

    In-memory inputs with `shuffle=True` (Keras' default) become a `tf.data.Dataset` shuffled
    every epoch and batched by `batch_size` (default 32); `shuffle` goes on as False. Without
    a shuffle the arguments pass unchanged; a `tf.data.Dataset` keeps its own order
    (`shuffle=False` goes on, so Keras does not warn that it ignores its default `True`).
    """
    check_batched(x)
    kwargs = dict(kwargs)
    shuffle = kwargs.pop("shuffle", True)
    if is_tf_dataset(x):  # its order is its own: Keras' default shuffle=True only warns
        kwargs["shuffle"] = False
        return x, y, sample_weight, batch_size, kwargs
    if not _is_in_memory(x) or kwargs.get("validation_split"):
        kwargs["shuffle"] = shuffle
        return x, y, sample_weight, batch_size, kwargs
    if not shuffle:
        kwargs["shuffle"] = False
        return x, y, sample_weight, batch_size, kwargs
    import numpy as np
    import tensorflow as tf

    def convert(value):
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, tuple):
            return tuple(convert(v) for v in value)
        if isinstance(value, list) and value and isinstance(value[0], str):
            return tf.constant(value)
        return keras.ops.convert_to_numpy(value) if hasattr(value, "__array__") else (
            np.asarray(value))

    inputs = keras.utils.pack_x_y_sample_weight(
        convert(x), None if y is None else convert(y),
        None if sample_weight is None else convert(sample_weight))
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    dataset = tf.data.Dataset.from_tensor_slices(inputs)
    count = int(dataset.cardinality())
    seed = int(np.random.randint(2**31 - 1))  # keras.utils.set_random_seed seeds numpy
    dataset = dataset.shuffle(max(count, 1), seed=seed, reshuffle_each_iteration=True)
    kwargs["shuffle"] = False
    return dataset.batch(batch_size or 32), None, None, None, kwargs


def task_fit(fit, x=None, y=None, batch_size=None, *, sample_weight=None, **kwargs):
    """Calls keras-hub's bound `fit` with `fit_arguments`."""
    x, y, sample_weight, batch_size, kwargs = fit_arguments(x, y, sample_weight, batch_size,
                                                            kwargs)
    return fit(x=x, y=y, batch_size=batch_size, sample_weight=sample_weight, **kwargs)


class TaskInputs:
    """Mixin before keras-hub's `Task`: `fit` through `task_fit` (in-memory inputs shuffled
    every epoch, no shuffle warning; on TensorFlow the optimizer built before the step is
    traced, `build_optimizer_before_tracing`), `evaluate` / `predict` refuse an unbatched dataset of
    strings in one line."""

    def fit(self, *args, **kwargs):
        build_optimizer_before_tracing(self)
        return task_fit(super().fit, *args, **kwargs)

    def evaluate(self, *args, **kwargs):
        check_batched(args[0] if args else kwargs.get("x"))
        return super().evaluate(*args, **kwargs)

    def predict(self, *args, **kwargs):
        check_batched(args[0] if args else kwargs.get("x"))
        return super().predict(*args, **kwargs)
