"""One MWMS worker for test_mwms_fixes.py: a dict-input Keras model through fit().

Three phases in one MWMS cluster (both failures are trace-time errors, raised
identically on every worker before any collective runs, so the cluster stays
usable): fit with no fix, fit with only the build fix, then fit with both.
Prints PHASE<n>=<outcome> lines and CHECKSUM=<sha256 of all weights>.
"""

import faulthandler
import hashlib

faulthandler.dump_traceback_later(150, exit=True)  # never outlive a broken test

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_electra.training import distribute, keras_patches  # noqa: E402

strategy = tf.distribute.MultiWorkerMirroredStrategy()
assert distribute.is_multi_worker(strategy)

rng = np.random.default_rng(0)
features = {"token_ids": rng.integers(0, 50, (64, 8)).astype("int32"),
            "padding_mask": np.ones((64, 8), "int32")}
labels = rng.normal(size=(64, 1)).astype("float32")
ds = tf.data.Dataset.from_tensor_slices((features, labels)).batch(16).repeat()
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
ds = ds.with_options(options)


def fit_once():
    keras.utils.set_random_seed(0)
    with strategy.scope():
        token_ids = keras.Input((8,), dtype="int32", name="token_ids")
        padding_mask = keras.Input((8,), dtype="int32", name="padding_mask")
        x = keras.layers.Embedding(50, 8)(token_ids)
        x = x * keras.ops.expand_dims(keras.ops.cast(padding_mask, "float32"), -1)
        x = keras.layers.GlobalAveragePooling1D()(x)
        out = keras.layers.Dense(1)(x)
        model = keras.Model({"token_ids": token_ids, "padding_mask": padding_mask}, out)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    try:
        history = model.fit(ds, epochs=1, steps_per_epoch=4, verbose=0)
    except Exception as error:  # noqa: BLE001 - the test reads the message
        return "ERROR " + " ".join(str(error).split())[:300], None
    digest = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.get_weights()))
    # workers see different halves of each batch: only a cross-worker mean agrees
    print(f"LOSS={history.history['loss'][-1]!r}", flush=True)
    return "OK", digest.hexdigest()


print("PHASE1=" + fit_once()[0], flush=True)
keras_patches.apply_keras_mwms_fixes(["symbolic_build"])
print("PHASE2=" + fit_once()[0], flush=True)
keras_patches.apply_keras_mwms_fixes()
outcome, checksum = fit_once()
print("PHASE3=" + outcome, flush=True)
print(f"CHECKSUM={checksum}", flush=True)
