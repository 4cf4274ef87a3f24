"""The few backend-specific pieces the ELECTRA task needs, behind one small API.

Everything else in `keras_electra.models` is `keras.ops`. These helpers give
(1) stateless uniform noise from an explicit seed tensor (keras.random only
accepts ints or a SeedGenerator, but step-exact resume and per-replica streams
need seeds computed from the step counter and the replica id), and (2) the
replica id / count and a cross-replica sum under `tf.distribute`. TensorFlow
and JAX are imported lazily, only on their own backend.
"""

import keras


def stateless_uniform(shape, seed, dtype="float32"):
    """Uniform [0, 1) noise determined only by `seed` (int32 tensor of shape [2])."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.random.stateless_uniform(shape, seed=tf.cast(seed, tf.int32), dtype=dtype)
    if backend == "jax":
        import jax

        seed = keras.ops.cast(seed, "uint32")
        key = jax.random.fold_in(jax.random.key(seed[0]), seed[1])
        return jax.random.uniform(key, shape, dtype=dtype)
    if backend == "numpy":
        import numpy as np

        rng = np.random.default_rng([int(s) for s in np.asarray(seed)])
        return rng.random(shape, dtype=dtype)
    raise NotImplementedError(f"ElectraPretrainer does not support the {backend!r} backend.")


def stateless_uniform_rows(rows, shape, seed, dtype="float32"):
    """`rows` independent uniform draws of `shape`, row r seeded by [seed[0], seed[1] + r].

    Row r's noise depends only on (seed, r), never on how many rows are drawn
    together, so a global batch split over N replicas (each passing its own
    row offset in `seed[1]`) draws exactly the noise of one device.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        seed = jnp.asarray(seed).astype("uint32")
        base = jax.random.key(seed[0])
        keys = jax.vmap(lambda r: jax.random.fold_in(base, seed[1] + r))(
            jnp.arange(rows, dtype="uint32")
        )
        return jax.vmap(lambda k: jax.random.uniform(k, shape, dtype=dtype))(keys)
    if backend == "tensorflow":
        import tensorflow as tf

        seed = tf.cast(seed, tf.int32)
        if isinstance(rows, int) and rows <= 256:
            return tf.stack([
                tf.random.stateless_uniform(shape, seed=seed + tf.constant([0, r]), dtype=dtype)
                for r in range(rows)
            ])
        return tf.map_fn(
            lambda r: tf.random.stateless_uniform(shape, seed=seed + tf.stack([0, r]),
                                                  dtype=dtype),
            tf.range(rows), fn_output_signature=tf.dtypes.as_dtype(dtype),
        )
    return keras.ops.stack([
        stateless_uniform(shape, keras.ops.convert_to_numpy(seed) + [0, r], dtype)
        for r in range(int(rows))
    ])


def replica_info():
    """(replica_id, num_replicas) of the current tf.distribute replica; (0, 1) elsewhere."""
    if keras.backend.backend() != "tensorflow":
        return 0, 1
    import tensorflow as tf

    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return 0, 1
    return ctx.replica_id_in_sync_group, ctx.num_replicas_in_sync


def cross_replica_sum(value):
    """Sum over tf.distribute replicas (identity with one replica or off TF)."""
    if keras.backend.backend() != "tensorflow":
        return value
    import tensorflow as tf

    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return value
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, value)


def build_optimizer_before_tracing(model):
    """TensorFlow: create the optimizer's variables before `fit` traces the first train step.

    Keras 3 on TensorFlow without an explicit distribution strategy defers building the
    optimizer to the first traced step; a `tf.function` that creates variables is traced a
    second time, so the first `fit` of a pretrainer traced (and XLA-compiled) its whole step
    twice (ELECTRA-tiny: 21 vs 16 CPU-s; tests/models/test_electra_pretrainer.py), and so did
    every fine-tuning task's. Nothing is done on other backends, when the optimizer is built
    already, or when a layer is not built yet (then Keras builds both in the trace, as before).
    """
    if keras.backend.backend() != "tensorflow":
        return
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or optimizer.built:
        return
    if not (model.built and all(layer.built for layer in model.layers)):
        return
    with model.distribute_strategy.scope():
        optimizer.build(model.trainable_variables)
