"""Run by test_electra_question_answerer_distributed.py (own process: the 2 devices must be
configured before the backend initialises).

One `fit` step of a tiny `ElectraQuestionAnswerer` compiled with the DEFAULT optimizer
(`compile()`), on one device and on 2 replicas (TF: `MirroredStrategy` over 2 logical CPUs;
JAX: `keras.distribution.DataParallel` over 2 host devices, XLA_FLAGS set by the test), same
global batch, same initial weights. Gradients are made large (scaled head kernels) so the
global-norm clip (1.0) is active. Prints the global gradient norm, the largest weight change
of the step and the largest |difference| between the two runs' weights.
"""

import faulthandler

faulthandler.dump_traceback_later(240, exit=True)

import os  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

BACKEND = keras.backend.backend()
if BACKEND == "tensorflow":
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
else:
    assert "xla_force_host_platform_device_count=2" in os.environ.get("XLA_FLAGS", "")

from keras import ops  # noqa: E402

from keras_electra import ElectraBackbone, ElectraQuestionAnswerer  # noqa: E402

VOCAB, B, S = 100, 8, 16
HEAD_SCALE = 30.0  # makes the global gradient norm >> 1, so clipping matters

rng = np.random.default_rng(0)
ids = rng.integers(5, VOCAB, size=(B, S)).astype("int32")
lengths = np.array([16, 9, 13, 16, 10, 16, 12, 14])
pad = (np.arange(S)[None] < lengths[:, None]).astype("int32")
segments = ((np.arange(S)[None] >= 4) & (pad == 1)).astype("int32")
ids[:, 0], ids[:, 3] = 2, 3
ids *= pad
x = {"token_ids": ids, "segment_ids": segments, "padding_mask": pad}
impossible = np.arange(B) % 3 == 0
start = np.where(impossible, 0, rng.integers(4, 9, size=(B,))).astype("int32")
end = np.where(impossible, 0, start + rng.integers(0, 3, size=(B,))).astype("int32")
y = {"start_positions": start, "end_positions": end, "is_impossible": impossible.astype("float32")}


def make_model():
    keras.utils.set_random_seed(1)
    backbone = ElectraBackbone(vocabulary_size=VOCAB, num_layers=1, num_heads=2, hidden_dim=16,
                               embedding_dim=16, intermediate_dim=32, dropout=0.0,
                               max_sequence_length=S)
    return ElectraQuestionAnswerer(backbone, head_hidden_dim=16)


reference = make_model()
init = [v.numpy() * (HEAD_SCALE if v.path.startswith("qa_") and v.path.endswith("kernel") else 1.0)
        for v in reference.weights]
for variable, value in zip(reference.weights, init):
    variable.assign(value)


def global_grad_norm(model):
    """The norm of the global-batch gradient (what the clip must see), on one device."""
    if BACKEND == "tensorflow":
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x, y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        grads = [tf.convert_to_tensor(g) for g in grads]
        return float(tf.linalg.global_norm(grads))
    import jax

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]

    def loss_fn(values):
        y_pred, _ = model.stateless_call(values, non_trainable, x, training=True)
        return model.compute_loss(x, y, y_pred)

    grads = jax.grad(loss_fn)(trainable)
    return float(np.sqrt(sum(np.sum(np.square(np.asarray(g, "float64"))) for g in grads)))


def one_step(replicas):
    """Build, load `init`, compile with the default optimizer, fit one global batch of 8."""
    if BACKEND == "tensorflow":
        strategy = (tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]) if replicas == 2
                    else tf.distribute.get_strategy())
        with strategy.scope():
            model = make_model()
            model.set_weights(init)
            model.compile()  # the default optimizer under test
        data = tf.data.Dataset.from_tensor_slices((x, y)).batch(B)
        model.fit(data, epochs=1, verbose=0)
        assert model.distribute_strategy.num_replicas_in_sync == replicas
    else:
        import jax

        devices = jax.devices()[:replicas]
        assert len(devices) == replicas
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=devices) if replicas == 2 else None)
        try:
            model = make_model()
            model.set_weights(init)
            model.compile()
            model.fit(x, y, batch_size=B, epochs=1, shuffle=False, verbose=0)
            assert len(model.weights[0].value.devices()) == replicas  # really data-parallel
        finally:
            keras.distribution.set_distribution(None)
    assert int(model.optimizer.iterations.numpy()) == 1
    return [np.asarray(ops.convert_to_numpy(v)) for v in model.weights]


norm = global_grad_norm(reference)
one, two = one_step(1), one_step(2)
moved = max(float(np.max(np.abs(a - b))) for a, b in zip(one, init))
diff = max(float(np.max(np.abs(a - b))) for a, b in zip(one, two))
print(f"BACKEND={BACKEND} GRAD_NORM={norm:.4e} MOVED={moved:.3e} DIFF={diff:.3e}", flush=True)
