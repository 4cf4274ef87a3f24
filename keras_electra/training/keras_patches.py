"""Patches of Keras' TensorFlow training code, version-guarded (the training-side twin of
`keras_electra.models.keras_patches`, whose version check they share).

* `apply_keras_mwms_fixes`: Keras 3.15 `fit()` does not run under MultiWorkerMirroredStrategy
  at all; two functions of `keras.src.backend.tensorflow.trainer` are replaced. Guard: keras
  3.15.x (`keras_patches.KERAS_VERSIONS`; on another version it warns and patches nothing).
  Test: `tests/training/test_mwms_fixes.py` (2 real MWMS processes: each fix still needed,
  both together still working) and `tests/training/test_training_keras_patches.py` (the replaced
  functions still exist with the signatures the replacements assume).
  `distribute.create_strategy()` applies it when it creates an MWMS strategy.
"""

import logging

from keras_electra.models.keras_patches import upstream_mismatch

logger = logging.getLogger(__name__)

_APPLIED = set()

KERAS_MWMS_FIXES = ("symbolic_build", "reduce_per_replica")


def apply_keras_mwms_fixes(fixes=KERAS_MWMS_FIXES):
    """Patch Keras 3.15's TensorFlow trainer so `fit()` runs under MWMS.

    Upstream: keras-team/keras#20585 ("Does Keras 3 work with
    MultiWorkerMirroredStrategy?"), keras-team/keras#20329 (MWMS with dict
    inputs), tensorflow/tensorflow#72388 (scalar reduce with axis=0). Both are
    multi-worker-only code paths, so `MirroredStrategy` never hits them.

    1. `"symbolic_build"`: `TensorFlowTrainer._maybe_symbolic_build` calls
       `strategy.reduce("MEAN", batch, axis=None)` on the first (PerReplica)
       batch -> "Attempt to convert a value (PerReplica...) to a Tensor". The
       patch builds from the first local replica's batch instead.
    2. `"reduce_per_replica"`: `reduce_per_replica(..., "auto")` reduces scalar
       logs with `strategy.reduce("MEAN", v, axis=0)` -> "Invalid reduction
       dimension 0 for input with 0 dimensions". The patch uses `axis=None`
       under MWMS, for every tensor (also the plain local tensors that a
       one-replica worker returns; filtering on PerReplica, as a first workaround
       did, silently logs worker-local metrics: docs/STACK_FACTS.md section 1).

    Idempotent. Applied only on Keras 3.15.x (the patched code was read and
    tested there); on another version it logs a warning and does nothing, and
    `tests/training/test_mwms_fixes.py` tells whether the patches are still
    needed and still work. `create_strategy()` calls this only when it creates
    an MWMS strategy.

    Args:
        fixes: which patches to install (both by default; tests pass one to
            show that each is needed).

    Returns:
        True if the patches are (now) installed.
    """
    problem = upstream_mismatch()
    if problem is not None:
        logger.warning(
            "%s: the MWMS fixes are not applied; run tests/training/test_mwms_fixes.py to see "
            "whether fit() works under MWMS.", problem)
        return False
    unknown = set(fixes) - set(KERAS_MWMS_FIXES)
    if unknown:
        raise ValueError(f"unknown MWMS fixes {sorted(unknown)}; known: {KERAS_MWMS_FIXES}")
    import tensorflow as tf
    from keras import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = tree.map_structure(
                    lambda v: self.distribute_strategy.experimental_local_results(v)[0]
                    if isinstance(v, tf.distribute.DistributedValues) else v,
                    next(it),
                )
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    if "symbolic_build" in fixes and "symbolic_build" not in _APPLIED:
        tf_trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
        _APPLIED.add("symbolic_build")

    if "reduce_per_replica" in fixes and "reduce_per_replica" not in _APPLIED:
        original_reduce = tf_trainer.reduce_per_replica

        def reduce_per_replica(values, strategy, reduction):
            if (tf_trainer._collective_all_reduce_multi_worker(strategy)
                    and reduction in ("auto", "mean")):
                # Reduce *every* tensor: with one replica per worker, strategy.run
                # returns plain local tensors, not PerReplica values, and skipping
                # them would log worker-local metrics instead of the global mean.
                return tree.map_structure(
                    lambda v: strategy.reduce("MEAN", v, axis=None)
                    if isinstance(v, (tf.distribute.DistributedValues, tf.Tensor)) else v,
                    values,
                )
            return original_reduce(values, strategy, reduction)

        tf_trainer.reduce_per_replica = reduce_per_replica
        _APPLIED.add("reduce_per_replica")
    logger.info("Keras MWMS fixes installed: %s (keras-team/keras#20585, #20329).",
                sorted(_APPLIED))
    return True
