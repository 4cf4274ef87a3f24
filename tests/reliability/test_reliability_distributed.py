"""MWMS: a worker that never starts makes the others fail with a clear timeout, not hang."""

import subprocess
import sys
import time

import pytest

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/training")
import training_procs as procs  # noqa: E402  (tests/training helper)

SCRIPT = """
from keras_electra.training.distribute import create_strategy
create_strategy()
print("CLUSTER FORMED", flush=True)
"""


@pytest.mark.mwms
def test_lone_worker_times_out_with_a_clear_message(tmp_path):
    ports = procs.free_ports(2)
    env = procs.base_env(TF_CONFIG=procs.tf_config(ports, 0), KERAS_ELECTRA_CLUSTER_TIMEOUT_S="10")
    log = tmp_path / "worker0.log"
    started = time.monotonic()
    proc = procs.start(["-c", SCRIPT], env, str(log))  # worker 1 is never started
    try:
        rc = proc.wait(240)
    except subprocess.TimeoutExpired:
        procs.kill(proc)
        raise AssertionError("the lone worker hung: " + procs.tail(log))
    finally:
        procs.kill(proc)
    elapsed = time.monotonic() - started
    text = procs.read(log)
    assert rc == 1, text[-3000:]
    assert "CLUSTER FORMED" not in text
    assert ("forming the MWMS cluster (worker 0 of 2): waiting for every worker in TF_CONFIG; "
            "if this does not complete within 10 s the process exits") in text
    assert "never started" in text and "KERAS_ELECTRA_CLUSTER_TIMEOUT_S" in text
    assert "Timeout (0:00:10)!" in text and "in create_strategy" in text
    assert elapsed < 240


FORMS = """
import os, time
import tensorflow as tf
from keras_electra.training.distribute import create_strategy
strategy = create_strategy()
total = strategy.reduce("SUM", strategy.run(lambda: tf.constant(1.0)), axis=None)
print("CLUSTER FORMED", float(total), flush=True)
time.sleep(float(os.environ["SLEEP_AFTER"]))  # longer than the watchdog: it must be off
print("STILL ALIVE", flush=True)
"""


@pytest.mark.mwms
@pytest.mark.slow
def test_watchdog_is_disarmed_once_the_cluster_forms(tmp_path):
    workers = procs.start_workers(["-c", FORMS], 2, str(tmp_path),
                                  {"KERAS_ELECTRA_CLUSTER_TIMEOUT_S": "30",
                                   "SLEEP_AFTER": "35"})
    rcs = procs.wait_all(workers, timeout=400)
    logs = [procs.read(w._log_path) for w in workers]
    assert rcs == [0, 0], "\n".join(procs.tail(w._log_path) for w in workers)
    for text in logs:
        assert "CLUSTER FORMED 2.0" in text and "STILL ALIVE" in text
        assert "Timeout (" not in text
