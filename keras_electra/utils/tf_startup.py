"""Import TensorFlow without its known-harmless start-up lines on stderr.

TensorFlow 2.21's C++ side logs through absl before absl logging is initialized, so
`TF_CPP_MIN_LOG_LEVEL` does not silence these lines, printed on every CPU-only start:

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 ... port.cc:153] oneDNN custom operations are on. You may see slightly ...
    I0000 ... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will ...
    E0000 ... cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: ...

`import_tensorflow_quietly()` imports TensorFlow (and lists its devices, which is when the
cuInit line comes) with the process' stderr (file descriptor 2) sent to a temporary file,
then writes back every captured line except those four kinds. The CUDA lines are dropped
only on a machine without an NVIDIA driver (`/dev/nvidiactl` absent): there they say
nothing but "this is a CPU machine". Everything else, and every line on a GPU machine,
is passed through. `KERAS_ELECTRA_TF_STARTUP_LOGS=1` turns the filter off.

One more line comes later, on CPUs without AVX-512 (e.g. AMD EPYC before Zen 4), once per
process, from the first oneDNN-eligible op on an int64 or bool tensor (a Transpose inside
`keras.ops.take_along_axis`, for one):

    E0000 ... util.cc:131] oneDNN supports DT_INT64 only on platforms with AVX-512. Falling
    back to the default Eigen-based implementation if present.

Harmless: TensorFlow runs its Eigen kernel instead, with the same result. TensorFlow logs it
only once per process, so `absorb_onednn_fallback_notice()` (called by
`training.distribute.set_up_runtime` once the strategy exists: an op before that would fix
the device configuration too early) runs one int64 Transpose with stderr captured, and the
line never reaches the user.

Example:
```python
from keras_electra.utils.tf_startup import import_tensorflow_quietly

tf = import_tensorflow_quietly()
```
"""

import os
import re
import sys
import tempfile

_ALWAYS_HARMLESS = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are "
               r"written to STDERR$"),
    re.compile(r"^I\d{4} [\d:. ]+\d+ port\.cc:\d+\] oneDNN custom operations are on\."),
)
_ONEDNN_FALLBACK = re.compile(
    r"^E\d{4} [\d:. ]+\d+ util\.cc:\d+\] oneDNN supports DT_\w+ only on platforms with "
    r"AVX-512\. Falling back to the default Eigen-based implementation")
_ALWAYS_HARMLESS += (_ONEDNN_FALLBACK,)
_HARMLESS_WITHOUT_GPU = (
    re.compile(r"^I\d{4} [\d:. ]+\d+ cudart_stub\.cc:\d+\] Could not find cuda drivers"),
    re.compile(r"^E\d{4} [\d:. ]+\d+ cuda_platform\.cc:\d+\] failed call to cuInit"),
)


def harmless_startup_lines(has_nvidia_driver):
    """The patterns `import_tensorflow_quietly` drops."""
    return _ALWAYS_HARMLESS + (() if has_nvidia_driver else _HARMLESS_WITHOUT_GPU)


def filter_startup_log(text, has_nvidia_driver):
    """`text` without the known-harmless start-up lines (see the module docstring)."""
    patterns = harmless_startup_lines(has_nvidia_driver)
    return "".join(line for line in text.splitlines(keepends=True)
                   if not any(p.search(line.rstrip("\n")) for p in patterns))


def _run_with_stderr_filtered(fn):
    """`fn()` with file descriptor 2 captured; the captured text minus the known-harmless
    lines is written back to stderr afterwards (also when `fn` raises)."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (some notebooks): as is
        return fn()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as capture:
        saved = os.dup(fd)
        os.dup2(capture.fileno(), fd)
        try:
            return fn()
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            rest = filter_startup_log(text, os.path.exists("/dev/nvidiactl"))
            if rest:
                sys.stderr.write(rest)
                sys.stderr.flush()


def _filter_off():
    return os.environ.get("KERAS_ELECTRA_TF_STARTUP_LOGS") == "1"


def import_tensorflow_quietly():
    """`import tensorflow` (and device discovery) minus the known-harmless stderr lines."""
    if "tensorflow" in sys.modules or _filter_off():
        import tensorflow as tf

        return tf

    def load():
        import tensorflow as tf

        tf.config.list_physical_devices()
        return tf

    return _run_with_stderr_filtered(load)


def absorb_onednn_fallback_notice():
    """Trigger TensorFlow's once-per-process "oneDNN supports DT_INT64 only on platforms
    with AVX-512" line (CPUs without AVX-512 only) with stderr captured, so it is not printed
    later. Runs one TensorFlow op: call it after the device configuration is final."""
    if _filter_off():
        return

    def transpose():
        import tensorflow as tf

        with tf.device("/cpu:0"):
            tf.transpose(tf.zeros((1, 2), tf.int64))

    _run_with_stderr_filtered(transpose)
