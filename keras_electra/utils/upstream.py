"""The version guard of every override or read of private keras / keras-hub / TensorFlow code.

The package stands on keras 3.15, keras-hub 0.32 and TensorFlow 2.21 (setup.cfg pins them).
Where it overrides or reads private upstream code (the attention and tokenizer patches and
`use_jax_prng` in `models/keras_patches.py`, the MWMS fixes in `training/keras_patches.py`,
`ElectraAdamW` / `ElectraAdam`'s `_clip_gradients` / `_all_reduce_sum_gradients` overrides,
`ElectraPretrainer`'s bypass of keras-hub's `Task.fit` and its use of `Trainer._loss_tracker`,
TensorFlow's `CollectiveAllReduceExtended._in_multi_worker_mode`), that code first asks
`check_upstream` (raises `UpstreamVersionError`) or `upstream_mismatch` (to warn) whether the
installed versions are those it was read and tested against. The tests that fail when the
upstream code it relies on changes are `PATCH_TEST`.

keras, keras-hub and TensorFlow are imported inside the functions only (this module is in
`utils/`, the bottom layer): the callers have already imported them.

Example:
```python
from keras_electra.utils.upstream import check_upstream, upstream_mismatch

upstream_mismatch()  # None on keras 3.15.x
check_upstream("my override of keras' Optimizer._clip_gradients")  # raises on keras 3.16
```
"""

import functools

# The versions the overrides were written and tested against (prefixes of __version__).
KERAS_VERSIONS = ("3.15.",)
KERAS_HUB_VERSIONS = ("0.32.",)
TENSORFLOW_VERSIONS = ("2.21.",)
PATCH_TEST = "tests/models/test_models_keras_patches.py"
PATCH_TESTS = f"{PATCH_TEST} and tests/training/test_training_keras_patches.py"


class UpstreamVersionError(RuntimeError):
    """A patch of Keras / keras-hub / TensorFlow internals met a version it was not written
    for."""


def upstream_mismatch(keras_hub=False, tensorflow=False, keras=True):
    """None if keras (and, when asked, keras-hub / TensorFlow) are versions the overrides were
    written for; else a phrase naming the installed and the expected versions."""
    found = []
    if keras:
        import keras as keras_module

        found.append(("keras", keras_module.__version__, KERAS_VERSIONS))
    if keras_hub:
        import keras_hub as hub

        found.append(("keras-hub", hub.__version__, KERAS_HUB_VERSIONS))
    if tensorflow:
        import tensorflow as tf

        found.append(("tensorflow", tf.__version__, TENSORFLOW_VERSIONS))
    wrong = [f"{name} {version} (written for {'/'.join(v + 'x' for v in expected)})"
             for name, version, expected in found if not version.startswith(expected)]
    return "; ".join(wrong) or None


@functools.cache
def check_upstream(patch, keras_hub=False, tensorflow=False):
    """Raise `UpstreamVersionError` unless the installed versions are those `patch` was
    written for (checked once per patch and process)."""
    problem = upstream_mismatch(keras_hub, tensorflow)
    if problem is not None:
        raise UpstreamVersionError(
            f"{patch}: {problem}. This patch replaces or wraps private upstream code and was "
            f"not checked on this version; install the pinned versions (setup.cfg), or run "
            f"{PATCH_TESTS}, adapt the patch and add the version to "
            f"keras_electra/utils/upstream.py.")
