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
