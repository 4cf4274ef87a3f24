"""ElectraQuestionAnswerer's DEFAULT optimizer (`compile()`) takes the same step on one device
and on 2 replicas when the global-norm clip is active: it clips the all-reduced gradient.

Stock `keras.optimizers.AdamW(global_clipnorm=1.0)` (the old default) clips each replica's
partial gradient under tf.distribute; on this script it is off by ~2e-4 (one Adam step is
~1e-4 per weight, so that is a different step, not round-off).
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest
from jax_env import jax_env

SCRIPT = pathlib.Path(__file__).resolve().parent / "qa_default_optimizer_script.py"


def _run(**env):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env}
    proc = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    match = re.search(r"GRAD_NORM=(\S+) MOVED=(\S+) DIFF=(\S+)", proc.stdout)
    assert match, proc.stdout[-3000:]
    return [float(v) for v in match.groups()]


def _check(norm, moved, diff):
    assert norm > 10.0  # global-norm clip at 1.0 is active
    assert moved > 5e-5  # the step happened (Adam's first step moves weights by ~lr = 1e-4)
    assert diff < 1e-5, f"1 vs 2 replicas differ by {diff:.3e} (grad norm {norm:.3e})"


def test_default_compile_same_step_on_one_and_two_mirrored_replicas():
    """TF: no strategy vs MirroredStrategy over 2 logical CPUs, same global batch of 8."""
    _check(*_run(KERAS_BACKEND="tensorflow"))


@pytest.mark.jax
def test_default_compile_same_step_on_one_and_two_jax_devices():
    """JAX: one device vs `DataParallel` over 2 host devices, same global batch of 8."""
    _check(*_run(**jax_env(XLA_FLAGS="--xla_force_host_platform_device_count=2")))
