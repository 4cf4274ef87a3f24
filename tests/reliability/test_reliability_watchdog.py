"""StepWatchdog: a step that blocks (e.g. on a lost MWMS peer) ends the process instead of
hanging it; normal steps, the untimed first step and the time after fit are left alone."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys, time
    import numpy as np
    import keras
    from keras_electra.training.callbacks import StepWatchdog

    slow_batch, slow_s, after_s = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])

    class Slow(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            time.sleep(slow_s if batch == slow_batch else 0.05)

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.zeros((40, 3), "float32")
    model.fit(x, x[:, :1], batch_size=4, epochs=1, verbose=0,
              callbacks=[Slow(), StepWatchdog(2.0)])
    print("fit returned", flush=True)
    time.sleep(after_s)  # the timer must be gone once fit has returned
    print("done", flush=True)
""")


def _run(tmp_path, slow_batch, slow_s, after_s):
    script = tmp_path / "watchdog_fit.py"
    script.write_text(SCRIPT)
    return subprocess.run([sys.executable, str(script), str(slow_batch), str(slow_s),
                           str(after_s)], capture_output=True, text=True, timeout=300)


def test_blocked_step_exits_with_stacks(tmp_path):
    result = _run(tmp_path, slow_batch=4, slow_s=60, after_s=0)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "fit returned" not in result.stdout
    assert "keras-electra: step watchdog: a step" in result.stderr
    assert "Timeout (0:00:02)!" in result.stderr
    assert "on_train_batch_begin" in result.stderr  # the stack shows where it was blocked


def test_normal_steps_untimed_first_step_and_after_fit_are_left_alone(tmp_path):
    # batch 0 (tracing/compilation in real runs) may exceed the limit: it is not timed
    result = _run(tmp_path, slow_batch=0, slow_s=3, after_s=3)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "done" in result.stdout and "Timeout" not in result.stderr


def test_arms_when_stderr_has_no_file_descriptor(monkeypatch):
    # pytest's capture and Jupyter replace sys.stderr by objects without fileno(); the timer
    # must then write to the process's real stderr instead of crashing fit.
    import io

    from keras_electra.training.callbacks import StepWatchdog

    fake = io.StringIO()
    monkeypatch.setattr(sys, "stderr", fake)
    watchdog = StepWatchdog(600)
    watchdog.on_train_batch_end(0)
    try:
        assert watchdog._armed
        assert "step watchdog" in fake.getvalue()
    finally:
        watchdog.on_train_end()
    assert not watchdog._armed

    # no descriptor anywhere: the watchdog switches itself off and says so
    monkeypatch.setattr(sys, "__stderr__", io.StringIO())
    lonely = StepWatchdog(600)
    lonely.on_train_batch_end(0)
    assert not lonely._armed and "step watchdog off" in fake.getvalue()
