"""TensorFlow's known-harmless start-up lines are dropped, nothing else (issue 17)."""

import os
import pathlib
import subprocess
import sys

from keras_electra.utils.tf_startup import filter_startup_log

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[2]

STARTUP = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1796323051.230107   19071 port.cc:153] oneDNN custom operations are on. You "
    "may see slightly different numerical results due to floating-point round-off errors.\n"
    "I0000 00:00:1796323051.234967   19071 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.\n"
    "E0000 00:00:1796323056.579777   19071 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
    "E0000 00:00:1796325739.035183     704 util.cc:131] oneDNN supports DT_INT64 only on "
    "platforms with AVX-512. Falling back to the default Eigen-based implementation if "
    "present.\n"
)
OTHER = ("E0000 00:00:1796323056.579777   19071 some_kernel.cc:12] a real problem\n"
         "Traceback (most recent call last):\n")


def test_only_the_known_lines_are_dropped():
    assert filter_startup_log(STARTUP + OTHER, has_nvidia_driver=False) == OTHER
    # with an NVIDIA driver the CUDA lines are news: kept
    kept = filter_startup_log(STARTUP + OTHER, has_nvidia_driver=True)
    assert "cudart_stub.cc" in kept and "failed call to cuInit" in kept
    assert "oneDNN custom operations" not in kept and "InitializeLog" not in kept
    assert "DT_INT64" not in kept
    assert kept.endswith(OTHER)


def test_a_cli_command_starts_without_them(tmp_path):
    """A real process: no start-up noise on stderr, but TensorFlow's own messages and the
    command's output come through (KERAS_ELECTRA_TF_STARTUP_LOGS=1 shows the lines again)."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat .\nthe dog sat on the log .\n" * 50)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow",
               PYTHONPATH=str(PROJECT_ROOT))
    argv = [sys.executable, "-m", "keras_electra", "build-vocab", "--input", str(corpus),
            "--vocab_size", "120", "--output", str(tmp_path / "vocab.txt")]
    quiet = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0, quiet.stderr
    assert "wrote 120 tokens" in quiet.stdout
    for text in ("InitializeLog", "oneDNN custom operations", "cudart_stub", "cuInit"):
        assert text not in quiet.stderr, quiet.stderr
    if not os.path.exists("/dev/nvidiactl"):  # the lines this filter exists for do occur
        loud = subprocess.run(argv, env=dict(env, KERAS_ELECTRA_TF_STARTUP_LOGS="1"),
                              capture_output=True, text=True, timeout=300)
        assert loud.returncode == 0 and "InitializeLog" in loud.stderr


def _has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return "avx512f" in f.read()
    except OSError:
        return True  # unknown: do not expect the line


def test_the_once_per_process_onednn_fallback_line_is_absorbed():
    """TF prints "oneDNN supports DT_INT64 only on platforms with AVX-512" once per process,
    at the first such op; after absorb_onednn_fallback_notice() int64 and bool transposes
    print nothing."""
    code = ("import sys; from keras_electra.utils import tf_startup as t; "
            "tf = t.import_tensorflow_quietly(); t.absorb_onednn_fallback_notice(); "
            "print('ops', file=sys.stderr, flush=True); "
            "tf.transpose(tf.zeros((1, 2), tf.int64)); tf.transpose(tf.zeros((1, 2), tf.bool))")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="1", PYTHONPATH=str(PROJECT_ROOT))
    quiet = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=300)
    assert quiet.returncode == 0, quiet.stderr
    assert "oneDNN supports" not in quiet.stderr, quiet.stderr
    if not _has_avx512():  # the line this exists for does occur here
        loud = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=dict(env, KERAS_ELECTRA_TF_STARTUP_LOGS="1"), timeout=300)
        assert "oneDNN supports DT_INT64 only on platforms with AVX-512" in loud.stderr
