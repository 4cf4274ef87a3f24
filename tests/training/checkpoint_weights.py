"""Reading saved weights for the tests that compare runs (one copy of the h5 walk)."""

import h5py
import numpy as np


def h5_datasets(path):
    """`{name: array}` for every dataset of a Keras `.weights.h5` file (model + optimizer)."""
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return out


def max_abs_diff(a, b):
    """Largest absolute difference over two `{name: array}` dicts with the same names."""
    assert sorted(a) == sorted(b)
    return max(float(np.max(np.abs(np.asarray(a[k], np.float64) - np.asarray(b[k], np.float64))))
               if np.asarray(a[k]).size else 0.0 for k in a)


def tiny_model(seed=0):
    """A compiled two-layer Keras model (Adam, MSE) for checkpoint round trips."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


def train_tiny(model, steps):
    """`steps` optimizer updates of `tiny_model` on a fixed batch of 8."""
    x = np.arange(24, dtype="float32").reshape(8, 3) / 10
    model.fit(x, np.ones((8, 1), "float32"), epochs=steps, batch_size=8, verbose=0)
