"""Subprocess for test_distribute.py: global-norm clipping under MirroredStrategy.

Two logical CPUs, one Dense layer, a loss with large gradients (clipping
active). Prints the max |diff| between the 2-replica update and a one-device
update of the same global batch, for our optimizer and for stock Keras AdamW.
"""

import faulthandler

faulthandler.dump_traceback_later(100, exit=True)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_electra.optimizers import create_optimizer  # noqa: E402

cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
rng = np.random.default_rng(0)
x = rng.normal(size=(8, 4)).astype("float32")
y = (rng.normal(size=(8, 1)) * 100).astype("float32")
init = [rng.normal(size=(4, 1)).astype("float32"), np.zeros((1,), "float32")]


def make_optimizer(kind):
    if kind == "ours":
        return create_optimizer(0.1, total_steps=10, optimizer="adamw", max_grad_norm=1.0)
    return keras.optimizers.AdamW(0.1, weight_decay=0.01, epsilon=1e-6, global_clipnorm=1.0)


def train(strategy, kind):
    with strategy.scope():
        layer = keras.layers.Dense(1)
        layer.build((None, 4))
        layer.set_weights(init)
        opt = make_optimizer(kind)
        opt.build(layer.trainable_variables)

    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(xb) - yb)) / 8.0  # mean over the global batch
        grads = tape.gradient(loss, layer.trainable_variables)
        opt.apply_gradients(zip(grads, layer.trainable_variables))

    ds = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices((x, y)).batch(8))

    @tf.function
    def run(batch):
        strategy.run(step, args=batch)

    for batch in ds:
        run(batch)
    return np.concatenate([w.ravel() for w in layer.get_weights()])


one = tf.distribute.OneDeviceStrategy("/cpu:0")
two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
for kind in ("ours", "stock"):
    diff = np.max(np.abs(train(one, kind) - train(two, kind)))
    print(f"DIFF_{kind}={diff:.3e}", flush=True)
