"""Subprocess for test_checkpointing.py: save step 1, then die in the middle of saving step 2.

The step-2 write is stopped half-way through the weights file (the file is
truncated to half its size, then the process announces WRITING and sleeps
until the test SIGKILLs it).
"""

import faulthandler
import os
import sys
import time

faulthandler.dump_traceback_later(120, exit=True)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_electra.training.checkpointing import CheckpointManager  # noqa: E402

directory = sys.argv[1]
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
x, y = np.ones((8, 3), "float32"), np.zeros((8, 1), "float32")
model.fit(x, y, epochs=1, batch_size=8, verbose=0)
manager = CheckpointManager(directory, max_to_keep=3)
manager.save(model, step=1, batches_consumed=1, seed=7, config_hash="h")
np.save(os.path.join(directory, "step1_kernel.npy"), model.layers[0].kernel.numpy())
model.fit(x, y, epochs=1, batch_size=8, verbose=0)

original = model.save_weights


def save_weights_then_hang(path, *args, **kwargs):
    original(path, *args, **kwargs)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    print("WRITING", flush=True)
    time.sleep(600)


model.save_weights = save_weights_then_hang
manager.save(model, step=2, batches_consumed=2, seed=7, config_hash="h")
