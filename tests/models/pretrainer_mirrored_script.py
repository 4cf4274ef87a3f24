"""Run by test_mirrored_strategy_same_loss_and_gradients_as_one_device (own process:
logical devices must be configured before TensorFlow initialises)."""

import numpy as np
import tensorflow as tf

cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)


from keras_electra import ElectraBackbone, ElectraPretrainer  # noqa: E402
from keras_electra.models.electra_masking import max_predictions_per_seq  # noqa: E402

VOCAB, B, S = 300, 8, 24


def make_model():
    backbone = ElectraBackbone(vocabulary_size=VOCAB, num_layers=1, num_heads=2, hidden_dim=32,
                               embedding_dim=16, intermediate_dim=64, dropout=0.0,
                               max_sequence_length=32)
    return ElectraPretrainer(backbone, generator_hidden_size=0.5, seed=3)


rng = np.random.default_rng(0)
ids = rng.integers(104, VOCAB, size=(B, S)).astype("int32")
lengths = np.array([24, 10, 17, 24, 9, 20, 13, 24])  # unequal real tokens per replica
pad = (np.arange(S)[None] < lengths[:, None]).astype("int32")
ids[:, 0] = 101
ids[np.arange(B), lengths - 1] = 102
ids *= pad
x = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": pad}
n = max_predictions_per_seq(S, 0.15)
noise = {"position_noise": rng.random((B, n)).astype("float32"),
         "mask_noise": rng.random((B, n)).astype("float32"),
         "gumbel_noise": rng.random((B, n, VOCAB)).astype("float32")}

single = make_model()
weights = [v.numpy() for v in single.weights]
with tf.GradientTape() as tape:
    out = single.forward(x, noise, normalizers=single.normalizers(x))
grads_single = [tf.convert_to_tensor(g).numpy()
                for g in tape.gradient(out["loss"], single.trainable_variables)]
loss_single = float(out["loss"])

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    mirrored = make_model()
for v, w in zip(mirrored.weights, weights):
    v.assign(w)


def halves(tree, i):
    return {k: v[i * B // 2:(i + 1) * B // 2] for k, v in tree.items()}


def replica_fn(inputs, replica_noise):
    with tf.GradientTape() as tape:
        out = mirrored.forward(inputs, replica_noise, normalizers=mirrored.normalizers(inputs))
    grads = [tf.convert_to_tensor(g) for g in tape.gradient(out["loss"],
                                                              mirrored.trainable_variables)]
    local_noise = mirrored.draw_noise(B // 2, S, mirrored._seeds(5))
    return out["loss"], grads, local_noise


dist_x = strategy.experimental_distribute_values_from_function(
    lambda ctx: halves(x, ctx.replica_id_in_sync_group))
dist_noise = strategy.experimental_distribute_values_from_function(
    lambda ctx: halves(noise, ctx.replica_id_in_sync_group))
loss, grads, replica_noise = strategy.run(replica_fn, args=(dist_x, dist_noise))
loss_total = float(strategy.reduce("SUM", loss, axis=None))
grads_total = [strategy.reduce("SUM", g, axis=None).numpy() for g in grads]
print("loss single", loss_single, "mirrored", loss_total)
assert abs(loss_total - loss_single) <= 1e-5 * max(1.0, abs(loss_single)), (loss_total, loss_single)
# float32 sums in another order: compare relative to each gradient's scale
worst = max(np.abs(a - b).max() / max(1.0, np.abs(b).max())
            for a, b in zip(grads_total, grads_single))
print("max |grad diff| / max(1, max |grad|)", worst,
      "largest gradient", max(np.abs(b).max() for b in grads_single))
assert worst <= 1e-5, worst
# The noise each replica draws by itself is its slice of the one-device noise.
single_noise = single.draw_noise(B, S, single._seeds(5))
for key in single_noise:
    parts = [t.numpy() for t in strategy.experimental_local_results(replica_noise[key])]
    np.testing.assert_array_equal(np.concatenate(parts), single_noise[key].numpy(), err_msg=key)
print("replica noise == one-device noise")

# and fit itself runs under the strategy with the custom XLA train step
with strategy.scope():
    mirrored.compile()
history = mirrored.fit(x, batch_size=B, epochs=2, verbose=0, shuffle=False)
assert np.isfinite(history.history["loss"]).all()
assert int(mirrored.rng_step.numpy()) == 2, mirrored.rng_step.numpy()
# ... and its training curve equals one device's (same global batch, same noise)
single.compile()
single_history = single.fit(x, batch_size=B, epochs=2, verbose=0, shuffle=False)
print("fit loss mirrored", history.history["loss"], "single", single_history.history["loss"])
np.testing.assert_allclose(history.history["loss"], single_history.history["loss"], rtol=1e-5)
for a, b in zip(mirrored.weights, single.weights):
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5, err_msg=a.path)
print("MIRRORED-PARITY-OK")
