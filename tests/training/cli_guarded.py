"""Run `keras-electra <argv>` in a test subprocess, with a hard self-destruct timer.

`GUARD_SECONDS` (default 540): faulthandler dumps the stacks and exits the
process, even if it is blocked in TensorFlow (an MWMS worker whose peer died).
`GUARD_STEP_SLEEP` (seconds): sleep after every training batch, so a test can
kill the job in the middle of a run of a tiny model.
"""

import faulthandler
import os
import sys
import time

faulthandler.dump_traceback_later(float(os.environ.get("GUARD_SECONDS", "540")), exit=True)

from keras_electra import cli  # noqa: E402

step_sleep = float(os.environ.get("GUARD_STEP_SLEEP", "0") or 0)
if step_sleep:
    from keras_electra.training import callbacks

    original = callbacks.BatchCounter.on_train_batch_end

    def slow_on_train_batch_end(self, batch, logs=None):
        original(self, batch, logs)
        time.sleep(step_sleep)

    callbacks.BatchCounter.on_train_batch_end = slow_on_train_batch_end

sys.exit(cli.main(sys.argv[1:]))
