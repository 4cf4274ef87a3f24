"""Two runs on one checkpoint directory cannot interleave (issue 15): the second is refused at
start with a one-line error naming the first (pid, host, command), before it cleans up or reads
anything in the directory; the lock dies with its process, also on `kill -9`."""

import os
import signal
import subprocess
import sys
import time

from keras_electra import cli
from keras_electra.training.checkpointing import CheckpointError, checkpoint_dir_lock

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/training")
from pretrain_shards import write_shards  # noqa: E402  (tests/training helper)

HOLDER = """
import sys, time
from keras_electra.training.checkpointing import checkpoint_dir_lock
with checkpoint_dir_lock(sys.argv[1], 0):
    print("locked", flush=True)
    time.sleep(600)
"""


def _hold_lock(directory):
    """A separate process that holds the lock of `directory` (worker 0) until killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(directory), "--a-flag"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_run_on_a_locked_checkpoint_dir_is_refused(tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    in_flight = ckpt / "worker-0" / ".tmp-ckpt-0000000004-1234"  # the other run's save
    in_flight.mkdir(parents=True)
    holder = _hold_lock(ckpt)
    try:
        write_shards(str(tmp_path / "train"), num_examples=16, sequence_length=16,
                     num_shards=1)
        rc = cli.main(["pretrain", "--train_dir", str(tmp_path / "train"), "--model_size",
                       "tiny", "--max_seq_length", "16", "--per_gpu_batch_size", "2",
                       "--total_steps", "2", "--warmup_steps", "0", "--checkpoint_dir",
                       str(ckpt), "--log_dir", str(tmp_path / "logs"), "--progress", "false"])
        err = capsys.readouterr().err
        assert rc == 2, err
        (line,) = [x for x in err.splitlines() if "error:" in x]
        assert line.startswith("keras-electra pretrain: error: --checkpoint_dir ")
        assert "is in use by another run" in line
        assert f"pid {holder.pid} on host " in line and "--a-flag" in line  # names the other
        assert "pass another --checkpoint_dir" in line
        assert in_flight.is_dir()  # the other run's half-written save was not cleaned up
        assert not any(n.startswith("ckpt-") for n in os.listdir(ckpt / "worker-0"))
        # another worker index of the same job locks its own file
        with checkpoint_dir_lock(str(ckpt), worker_index=1):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # kill -9 released it: no stale lock
    with checkpoint_dir_lock(str(ckpt), 0) as path:
        assert f"pid {os.getpid()} on host" in open(path).read()


def test_the_python_api_raises_checkpoint_error(tmp_path):
    holder = _hold_lock(tmp_path)
    try:
        started = time.time()
        try:
            with checkpoint_dir_lock(str(tmp_path), 0):
                raise AssertionError("two holders of one lock")
        except CheckpointError as error:
            assert f"pid {holder.pid}" in str(error)
        assert time.time() - started < 5  # refused at once, not after waiting
    finally:
        holder.kill()
        holder.wait()
