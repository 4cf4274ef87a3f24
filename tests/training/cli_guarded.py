"""Run `keras-electra <argv>` in a test subprocess, with a hard self-destruct timer.

`GUARD_SECONDS` (default 540): faulthandler dumps the stacks and exits the
process, even if it is blocked in TensorFlow (an MWMS worker whose peer died).
`GUARD_STEP_SLEEP` (seconds): sleep before every training batch, so a test can
kill the job in the middle of a run of a tiny model.
`GUARD_KILL_IN_SAVE_AT_STEP` (N): SIGKILL the process in the middle of writing checkpoint N
(its weights and RNG files are written in the temporary dir, its state.json is not, the dir is
not renamed): what a power cut or the OOM killer does at the worst moment.
`GUARD_NAN_AT_STEP` (N): the word embeddings become inf after update N.
"""

import faulthandler
import os
import sys
import time

faulthandler.dump_traceback_later(float(os.environ.get("GUARD_SECONDS", "540")), exit=True)

from keras_electra import cli  # noqa: E402

step_sleep = float(os.environ.get("GUARD_STEP_SLEEP", "0") or 0)
if step_sleep:
    from keras_electra.training import resume

    # on_train_batch_begin: Keras calls it on the training thread (a batch-end hook may run
    # on Keras' callback thread on JAX, where a sleep would not slow training)
    original = resume.BatchCounter.on_train_batch_begin

    def slow_on_train_batch_begin(self, batch, logs=None):
        original(self, batch, logs)
        time.sleep(step_sleep)

    resume.BatchCounter.on_train_batch_begin = slow_on_train_batch_begin

kill_in_save_at = int(os.environ.get("GUARD_KILL_IN_SAVE_AT_STEP", "0") or 0)
if kill_in_save_at:
    import signal

    from keras_electra.training import checkpointing

    original_sha256 = checkpointing.file_sha256

    def sha256_then_die(path, *args, **kwargs):
        # `CheckpointManager.save` sums the files it has written in `.tmp-ckpt-<step>-<pid>`
        # before it writes state.json and renames the dir
        if f".tmp-ckpt-{kill_in_save_at:010d}-" in path:
            print(f"GUARD: SIGKILL while writing checkpoint {kill_in_save_at}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return original_sha256(path, *args, **kwargs)

    checkpointing.file_sha256 = sha256_then_die

nan_at_step = int(os.environ.get("GUARD_NAN_AT_STEP", "0") or 0)
if nan_at_step:
    # Simulate a divergence on every process: after update N the word embeddings become inf
    # (not NaN: JAX checks that every process puts the same value, and NaN != NaN).
    import keras
    import numpy as np

    from keras_electra.training import pretrain as pretrain_module

    class _BlowUp(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) == nan_at_step:
                table = self.model.backbone.token_embedding.embeddings
                table.assign(np.full(table.shape, np.inf, "float32"))

    original_pretrain = pretrain_module.pretrain

    def pretrain_with_blow_up(config=None, callbacks=None, **overrides):
        return original_pretrain(config, callbacks=[*(callbacks or []), _BlowUp()], **overrides)

    pretrain_module.pretrain = pretrain_with_blow_up

sys.exit(cli.main(sys.argv[1:]))
