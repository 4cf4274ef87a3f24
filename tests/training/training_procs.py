"""Helpers for tests that start worker processes: ports, TF_CONFIG, kill by PID.

Every process is ended by its PID: SIGTERM first, then SIGKILL after a grace
period (an MWMS worker whose peer died ignores SIGTERM). Worker scripts also
arm `faulthandler.dump_traceback_later(..., exit=True)` so they exit on their
own even if the test process is gone.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_ports(count):
    sockets, ports = [], []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
        ports.append(s.getsockname()[1])
    for s in sockets:
        s.close()
    return ports


def tf_config(ports, index):
    return json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
        "task": {"type": "worker", "index": index},
    })


def base_env(**extra):
    env = dict(os.environ)
    env.update(TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow", HF_HUB_OFFLINE="1",
               CUDA_VISIBLE_DEVICES="", PYTHONPATH=PROJECT_ROOT,
               )
    env.pop("TF_CONFIG", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _sigint_not_ignored():
    """A test run launched in the background (`cmd &` in a non-interactive shell, nohup) has
    SIGINT ignored; children inherit an ignored signal across exec, and Python then installs
    no KeyboardInterrupt handler, so the Ctrl-C tests would fail for the wrong reason. Give
    this process Python's handler back: children then start with the default disposition, as
    a terminal user's do (no preexec_fn, which is unsafe in a threaded parent)."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def start(argv, env, log_path):
    _sigint_not_ignored()
    log = open(log_path, "ab")
    proc = subprocess.Popen([sys.executable, *argv], env=env, stdout=log,
                            stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
    proc._log_file = log
    proc._log_path = log_path
    return proc


def start_workers(argv, num_workers, log_dir, env_extra=None, tag="worker"):
    ports = free_ports(num_workers)
    procs = []
    for i in range(num_workers):
        env = base_env(TF_CONFIG=tf_config(ports, i), **(env_extra or {}))
        procs.append(start(argv, env, os.path.join(log_dir, f"{tag}{i}.log")))
    return procs


def kill(proc, grace=5.0):
    """End one process by PID: SIGTERM, then SIGKILL after `grace` seconds."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        except ProcessLookupError:
            pass
    proc._log_file.close()


def kill_all(procs, grace=5.0):
    for proc in procs:
        kill(proc, grace)


def wait_all(procs, timeout):
    """Wait for every process; on timeout kill them all and raise."""
    deadline = time.monotonic() + timeout
    try:
        for proc in procs:
            remaining = deadline - time.monotonic()
            proc.wait(max(remaining, 0.01))
    except subprocess.TimeoutExpired:
        kill_all(procs)
        raise AssertionError(
            f"workers still running after {timeout}s; logs:\n"
            + "\n".join(tail(p._log_path) for p in procs))
    for proc in procs:
        proc._log_file.close()
    return [p.returncode for p in procs]


def tail(path, chars=3000):
    try:
        with open(path, errors="replace") as f:
            return f"--- {path} ---\n" + f.read()[-chars:]
    except OSError:
        return f"--- {path} (missing) ---"


def read(path):
    with open(path, errors="replace") as f:
        return f.read()
