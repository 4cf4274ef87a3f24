"""Runtime setup, one home: the strategy (TF) or distribution (JAX), TF_CONFIG, watchdogs.

`set_up_runtime()` is what every driver calls first (pretraining, SQuAD fine-tuning; the
SageMaker entry point builds `TF_CONFIG` / `JAX_*` from the host list with
`tf_config_from_sagemaker` / `jax_env_from_sagemaker` and the CLI then gets here). It returns
a `Runtime`: the strategy (None on JAX), replicas, processes, this process's index (0 is the
chief) and `scope()` to build models in.

On TensorFlow, `create_strategy()` picks, in order:

1. `TF_CONFIG` in the environment (or SageMaker's `SM_HOSTS` + `SM_CURRENT_HOST`
   with more than one host, from which `TF_CONFIG` is built) ->
   `tf.distribute.MultiWorkerMirroredStrategy` (MWMS), after
   `keras_patches.apply_keras_mwms_fixes()` (Keras 3.15 `fit()` does not run under MWMS
   at all) and under a `StartupWatchdog` (a worker that never starts);
2. more than one visible GPU -> `tf.distribute.MirroredStrategy`;
3. otherwise the default strategy (one device).

Testing aid: `KERAS_ELECTRA_CPU_REPLICAS=N` (no cluster set) gives a
MirroredStrategy over N logical CPUs in one process: the same replica ids and
batch split as N one-replica MWMS workers, so a multi-worker run can be
compared with a single process step by step.

On the JAX backend `setup_jax_data_parallel()` connects the
processes (`JAX_COORDINATOR_ADDRESS`, `JAX_NUM_PROCESSES`, `JAX_PROCESS_ID`; the
SageMaker entry point sets them from the host list) through `keras.distribution.initialize(...)` and installs
`keras.distribution.DataParallel(auto_shard_dataset=False)` over all devices;
each process feeds its own rows of every global batch (see
`keras_electra.data.pretraining_dataset`). Checkpointing and logging then use
`process_index() == 0` as the chief.

Cross-worker agreement (the one home): `agree_on_resume_step` (the newest checkpoint every
worker can load), `verify_workers_agree` (same step and weights after a restore) and
`agree_on_int` (worker 0's value), over `_all_gather_int64` (an MWMS all-gather or JAX's
`process_allgather`).
"""

import contextlib
import dataclasses
import json
import logging
import os

from keras_electra.training.checkpointing import CheckpointError
from keras_electra.training.config import ConfigError

logger = logging.getLogger(__name__)

# The port every host's MWMS gRPC server listens on when TF_CONFIG is built from SageMaker's
# host list; `KERAS_ELECTRA_MWMS_PORT` overrides it.
DEFAULT_MWMS_PORT = 2222
# The jax.distributed coordinator port on the first host; `KERAS_ELECTRA_JAX_PORT` overrides.
DEFAULT_JAX_PORT = 12345

# How long MWMS may take to form (every worker in TF_CONFIG connected) before this process
# gives up with a clear message instead of hanging (a worker that never started).
CLUSTER_TIMEOUT_ENV = "KERAS_ELECTRA_CLUSTER_TIMEOUT_S"
DEFAULT_CLUSTER_TIMEOUT_S = 600.0


def build_tf_config(hosts, current_host, port=DEFAULT_MWMS_PORT, host_ports=None):
    """TF_CONFIG for MultiWorkerMirroredStrategy, or None for a single host.

    Workers are the hosts sorted by name (the order SageMaker uses for ranks),
    each at `host:port`, or at the address `host_ports[host]` when given; the
    task index is the current host's position in that order.

    Example:

    >>> build_tf_config(["algo-2", "algo-1"], "algo-1", 12345)
    {'cluster': {'worker': ['algo-1:12345', 'algo-2:12345']}, 'task': {'type': 'worker', 'index': 0}}
    """
    hosts = sorted(set(hosts))
    if current_host not in hosts:
        raise ValueError(
            f"SM_CURRENT_HOST={current_host!r} is not among the job's hosts {hosts}; "
            "check SM_CURRENT_HOST and SM_HOSTS"
        )
    if len(hosts) < 2:
        return None
    host_ports = host_ports or {}
    missing = [host for host in hosts if host_ports and host not in host_ports]
    if missing:
        raise ValueError(f"no address for hosts {missing} in the host:port map {host_ports}")
    workers = [host_ports.get(host, f"{host}:{int(port)}") for host in hosts]
    return {
        "cluster": {"worker": workers},
        "task": {"type": "worker", "index": hosts.index(current_host)},
    }


def _parse_hosts(text, variable):
    try:
        hosts = json.loads(text)
    except ValueError:
        hosts = [host.strip() for host in text.split(",") if host.strip()]
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise ValueError(f"{variable} must be a JSON list of host names, got {text!r}")
    return hosts


def tf_config_from_sagemaker(environ=None, port=None):
    """`build_tf_config` from SageMaker's `SM_HOSTS`/`SM_CURRENT_HOST`; None without them.

    `SM_HOSTS` is a JSON list (or comma-separated names). The port is `port`, else
    `KERAS_ELECTRA_MWMS_PORT`, else `DEFAULT_MWMS_PORT`; test hook:
    `KERAS_ELECTRA_SM_HOST_PORTS`, a JSON object `{"algo-1": "127.0.0.1:23456", ...}`, gives
    each host its own address (two "hosts" on one machine). Hosts are sorted
    (SageMaker's `SM_CURRENT_HOST_RANK` order), so every worker derives the same cluster and
    its own index.

    Example:

    >>> env = {"SM_HOSTS": '["algo-2", "algo-1"]', "SM_CURRENT_HOST": "algo-2"}
    >>> tf_config_from_sagemaker(env)["task"]
    {'type': 'worker', 'index': 1}
    """
    environ = os.environ if environ is None else environ
    if not environ.get("SM_HOSTS") or not environ.get("SM_CURRENT_HOST"):
        return None
    hosts = _parse_hosts(environ["SM_HOSTS"], "SM_HOSTS")
    host_ports = None
    if environ.get("KERAS_ELECTRA_SM_HOST_PORTS"):
        host_ports = json.loads(environ["KERAS_ELECTRA_SM_HOST_PORTS"])
        if not isinstance(host_ports, dict):
            raise ValueError("KERAS_ELECTRA_SM_HOST_PORTS must be a JSON object host -> 'addr:port'")
    if port is None:
        port = int(environ.get("KERAS_ELECTRA_MWMS_PORT", DEFAULT_MWMS_PORT))
    return build_tf_config(hosts, environ["SM_CURRENT_HOST"], port, host_ports)


def jax_env_from_sagemaker(environ):
    """`JAX_COORDINATOR_ADDRESS/NUM_PROCESSES/PROCESS_ID` for `jax.distributed`, or None.

    From the same sorted host list as `tf_config_from_sagemaker` (so host `i` is process `i`
    on either engine); the coordinator is process 0's host on `KERAS_ELECTRA_JAX_PORT`
    (default `DEFAULT_JAX_PORT`), or its entry in `KERAS_ELECTRA_SM_HOST_PORTS`.

    >>> jax_env_from_sagemaker({"SM_HOSTS": '["algo-2", "algo-1"]', "SM_CURRENT_HOST": "algo-2"})
    {'JAX_COORDINATOR_ADDRESS': 'algo-1:12345', 'JAX_NUM_PROCESSES': '2', 'JAX_PROCESS_ID': '1'}
    """
    port = int(environ.get("KERAS_ELECTRA_JAX_PORT", DEFAULT_JAX_PORT))
    cluster = tf_config_from_sagemaker(environ, port=port)
    if cluster is None:
        return None
    workers = cluster["cluster"]["worker"]
    return {"JAX_COORDINATOR_ADDRESS": workers[0], "JAX_NUM_PROCESSES": str(len(workers)),
            "JAX_PROCESS_ID": str(cluster["task"]["index"])}


def cluster_spec(environ=None):
    """The parsed `TF_CONFIG` (built from SageMaker variables if needed), or None."""
    environ = os.environ if environ is None else environ
    raw = environ.get("TF_CONFIG")
    if raw:
        try:
            config = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ValueError(f"TF_CONFIG is not valid JSON: {raw[:200]!r}") from error
        workers = config.get("cluster", {}).get("worker", [])
        if not workers:
            raise ValueError(f"TF_CONFIG has no cluster.worker list: {raw[:200]!r}")
        return config
    return tf_config_from_sagemaker(environ)


def worker_info(environ=None):
    """`(num_workers, worker_index)` from the cluster environment ((1, 0) if none)."""
    config = cluster_spec(environ)
    if not config:
        return 1, 0
    workers = config["cluster"].get("worker", []) + config["cluster"].get("chief", [])
    task = config.get("task", {})
    index = task.get("index", 0)
    if task.get("type") == "worker" and config["cluster"].get("chief"):
        index += 1
    return len(workers), index


def arm_fault_timer(seconds, what):
    """`faulthandler.dump_traceback_later(seconds, exit=True)` on a stream that has a file
    descriptor. Returns False (after saying so) when there is none.

    `faulthandler` writes from outside Python, so it needs `fileno()`. Under pytest's capture
    or in Jupyter `sys.stderr` has none; the process's original stderr (`sys.__stderr__`)
    usually does. `what` names the watchdog in the message.
    """
    import faulthandler
    import io
    import sys

    for stream in (sys.stderr, sys.__stderr__):
        try:
            stream.fileno()
        except (AttributeError, ValueError, io.UnsupportedOperation):
            continue
        faulthandler.dump_traceback_later(seconds, exit=True, file=stream)
        return True
    print(f"keras-electra: {what} off: no stderr file descriptor to write the stacks to.",
          file=sys.stderr, flush=True)
    return False


class StartupWatchdog:
    """End the process with a message if a blocking step does not finish within `seconds`.

    MWMS construction waits for every worker in `TF_CONFIG` inside TensorFlow's C++ runtime
    (`context.ensure_initialized`) while holding the GIL: with a worker that never starts it
    blocks forever, Python threads stop running, SIGTERM is ignored, and TF's own
    coordination-service register timeout does not end it (measured, TF 2.21). Only a timer
    outside the interpreter works: `faulthandler.dump_traceback_later(exit=True)` prints the
    stacks and exits with code 1. The reason is announced on stderr before waiting.
    `seconds <= 0` disables it. Note: this replaces any earlier `dump_traceback_later` timer.

    Example:
    ```python
    from keras_electra.training.distribute import StartupWatchdog
    with StartupWatchdog(600, "forming the cluster"):
        pass  # a call that may block forever
    ```
    """

    def __init__(self, seconds, what):
        self.seconds = float(seconds)
        self.what = what

    def __enter__(self):
        import sys

        if self.seconds > 0:
            print(f"keras-electra: {self.what}: waiting for every worker in TF_CONFIG; if this "
                  f"does not complete within {self.seconds:.0f} s the process exits (a worker "
                  "never started or is unreachable: start every worker with the same "
                  f"TF_CONFIG cluster and its own task index, or raise {CLUSTER_TIMEOUT_ENV}).",
                  file=sys.stderr, flush=True)
            if not arm_fault_timer(self.seconds, "startup watchdog"):
                self.seconds = 0
        return self

    def __exit__(self, *exc):
        import faulthandler

        if self.seconds > 0:
            faulthandler.cancel_dump_traceback_later()
        return False


def cluster_timeout_seconds(environ=None):
    """`KERAS_ELECTRA_CLUSTER_TIMEOUT_S` (default 600; 0 disables the watchdog)."""
    environ = os.environ if environ is None else environ
    raw = environ.get(CLUSTER_TIMEOUT_ENV, "")
    try:
        return float(raw) if raw.strip() else DEFAULT_CLUSTER_TIMEOUT_S
    except ValueError:
        raise ValueError(f"{CLUSTER_TIMEOUT_ENV}={raw!r}: expected a number of seconds.") from None


def create_strategy(kind="auto", communication="auto"):
    """Return the `tf.distribute.Strategy` for this process.

    Args:
        kind: `"auto"` (see module docstring), `"mwms"`, `"mirrored"` or `"default"`.
        communication: MWMS collective implementation: `"auto"`, `"ring"`, `"nccl"`.

    Example:
    ```python
    from keras_electra.training.distribute import create_strategy
    strategy = create_strategy()
    with strategy.scope():
        ...  # build and compile the model
    ```
    """
    import tensorflow as tf

    if kind not in ("auto", "mwms", "mirrored", "default"):
        raise ValueError(f"strategy kind={kind!r}: expected auto, mwms, mirrored or default.")
    if kind in ("auto", "mwms"):
        if "TF_CONFIG" not in os.environ:
            sagemaker_config = tf_config_from_sagemaker()
            if sagemaker_config:
                os.environ["TF_CONFIG"] = json.dumps(sagemaker_config)
                logger.info("TF_CONFIG built from SM_HOSTS: %s", os.environ["TF_CONFIG"])
        if kind == "mwms" or cluster_spec():
            cluster_spec()  # validate before TF parses it
            from keras_electra.training.keras_patches import apply_keras_mwms_fixes

            apply_keras_mwms_fixes()
            implementation = {
                "auto": tf.distribute.experimental.CommunicationImplementation.AUTO,
                "ring": tf.distribute.experimental.CommunicationImplementation.RING,
                "nccl": tf.distribute.experimental.CommunicationImplementation.NCCL,
            }[communication]
            options = tf.distribute.experimental.CommunicationOptions(
                implementation=implementation)
            num_workers, index = worker_info()
            with StartupWatchdog(cluster_timeout_seconds(),
                                 f"forming the MWMS cluster (worker {index} of {num_workers})"):
                return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    cpu_replicas = int(os.environ.get("KERAS_ELECTRA_CPU_REPLICAS", "0") or 0)
    if kind == "auto" and cpu_replicas > 1:
        # Testing aid: N logical CPUs under MirroredStrategy reproduce the replica
        # layout (replica ids, batch split) of N single-replica MWMS workers.
        cpus = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration()] * cpu_replicas)
        return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(cpu_replicas)])
    if kind in ("auto", "mirrored"):
        gpus = tf.config.list_logical_devices("GPU")
        if kind == "mirrored" or len(gpus) > 1:
            return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def is_multi_worker(strategy):
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    from keras_electra.utils.upstream import check_upstream

    # private read: TF 2.21 `CollectiveAllReduceExtended._in_multi_worker_mode`
    # (tests/training/test_training_keras_patches.py); raises on another TensorFlow
    check_upstream("is_multi_worker (TensorFlow's private _in_multi_worker_mode)",
                   tensorflow=True)
    return strategy.extended._in_multi_worker_mode()


def strategy_worker_info(strategy):
    """`(num_workers, worker_index, is_chief)` for a TF strategy."""
    if is_multi_worker(strategy):
        resolver = strategy.cluster_resolver
        num_workers = len(resolver.cluster_spec().as_dict().get("worker", []))
        index = resolver.task_id
        return num_workers, index, index == 0
    return 1, 0, True


JAX_CLUSTER_ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


def jax_cluster_from_env(environ=None):
    """`(coordinator_address, num_processes, process_id)` for `jax.distributed`, or None.

    Read from `JAX_COORDINATOR_ADDRESS` (host:port of process 0), `JAX_NUM_PROCESSES` and
    `JAX_PROCESS_ID` (all three, or none; on SageMaker the entry point sets them from the host
    list). None for a single process. Raises ValueError naming the variable to fix.

    Example:
    ```python
    env = {"JAX_COORDINATOR_ADDRESS": "10.0.0.1:12345", "JAX_NUM_PROCESSES": "2",
           "JAX_PROCESS_ID": "1"}
    jax_cluster_from_env(env)  # ('10.0.0.1:12345', 2, 1)
    ```
    """
    environ = os.environ if environ is None else environ
    present = [name for name in JAX_CLUSTER_ENV if environ.get(name, "").strip()]
    if not present:
        return None
    missing = [name for name in JAX_CLUSTER_ENV if name not in present]
    if missing:
        raise ValueError(
            f"JAX multi-process: {', '.join(present)} set but {', '.join(missing)} missing; set "
            "all three on every process (JAX_COORDINATOR_ADDRESS=host:port of process 0, "
            "JAX_NUM_PROCESSES=N, JAX_PROCESS_ID=0..N-1).")
    address = environ["JAX_COORDINATOR_ADDRESS"].strip()
    values = {}
    for name in ("JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        try:
            values[name] = int(environ[name])
        except ValueError:
            raise ValueError(f"{name}={environ[name]!r}: expected an integer.") from None
    count, index = values["JAX_NUM_PROCESSES"], values["JAX_PROCESS_ID"]
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"JAX_PROCESS_ID={index} must be in [0, JAX_NUM_PROCESSES={count}).")
    if ":" not in address:
        raise ValueError(f"JAX_COORDINATOR_ADDRESS={address!r}: expected host:port of "
                         "process 0 (e.g. 10.0.0.1:12345).")
    return address, count, index


def setup_jax_data_parallel(environ=None, auto_shard_dataset=False):
    """JAX backend: connect the processes, then `keras.distribution.DataParallel` over all devices.

    With a cluster (`jax_cluster_from_env`: `JAX_COORDINATOR_ADDRESS`, `JAX_NUM_PROCESSES`,
    `JAX_PROCESS_ID`), calls `keras.distribution.initialize` with
    those values explicitly (`jax.distributed.initialize` does not read `JAX_NUM_PROCESSES`
    itself). With `auto_shard_dataset=False` (pretraining) each process feeds its *local* rows
    of every global batch, as `pretraining_dataset(..., num_processes=, process_index=)`
    yields them, and Keras assembles the global batch with
    `jax.make_array_from_process_local_data`; with True (fine-tuning, whose tf.data pipeline
    yields global batches) Keras cuts each global batch into per-process rows itself. On CPU,
    processes talk over gloo collectives.

    Returns the distribution, or None for one device in one process. Call before any JAX
    computation.
    """
    import keras

    cluster = jax_cluster_from_env(environ)
    if cluster:
        address, count, index = cluster
        logger.info("jax.distributed: process %d of %d, coordinator %s", index, count, address)
        keras.distribution.initialize(job_addresses=address, num_processes=count,
                                      process_id=index)
    devices = keras.distribution.list_devices()
    if len(devices) <= 1 and not cluster:
        return None
    distribution = keras.distribution.DataParallel(devices=devices,
                                                   auto_shard_dataset=auto_shard_dataset)
    keras.distribution.set_distribution(distribution)
    return distribution


def process_layout(strategy=None):
    """`(num_processes, process_index)` of the running job, for either engine.

    TensorFlow: MWMS workers (one process each), else (1, 0). JAX: `jax.process_count()` and
    `jax.process_index()` (call after `setup_jax_data_parallel`).
    """
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.process_count(), jax.process_index()
    if strategy is not None and is_multi_worker(strategy):
        num_workers, index, _ = strategy_worker_info(strategy)
        return num_workers, index
    return 1, 0


@dataclasses.dataclass(frozen=True)
class Runtime:
    """Where this process trains: see `set_up_runtime`."""

    strategy: object  # the tf.distribute.Strategy on TensorFlow; None on JAX
    num_replicas: int  # devices that split each global batch, over all processes
    num_processes: int  # MWMS workers or JAX processes
    process_index: int  # this process; 0 is the chief

    @property
    def is_chief(self):
        return self.process_index == 0

    def scope(self):
        """The strategy's scope (TF), else a no-op context: build models inside it."""
        return strategy_scope(self.strategy)


def strategy_scope(strategy):
    """`strategy.scope()`, or a no-op context for None (JAX)."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def set_up_runtime(auto_shard_dataset=False, jax_prng="threefry2x32"):
    """Strategy (TF) or `DataParallel` distribution (JAX) for this process -> `Runtime`.

    Call first, before any TensorFlow op or JAX computation (MWMS and logical devices must
    exist before). TensorFlow: `create_strategy()` (MWMS workers are the processes). JAX:
    `setup_jax_data_parallel(auto_shard_dataset=...)` over every device of every process
    (False: the input pipeline yields this process's rows, as pretraining's does; True: it
    yields global batches and Keras cuts them, as fine-tuning's does), then `jax_prng`
    (`use_jax_prng`) when it is not JAX's default.

    Raises:
        ConfigError: an unsupported backend, a bad JAX cluster environment, or `jax_prng`
            other than the default on TensorFlow.
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        if jax_prng != "threefry2x32":
            raise ConfigError(f"--jax_prng {jax_prng} needs the JAX backend "
                              "(KERAS_BACKEND=jax); drop it on TensorFlow.")
        strategy = create_strategy()
        num_processes, index = process_layout(strategy)
        # the device configuration is final now: TF's one "oneDNN supports DT_INT64 only on
        # platforms with AVX-512" line (harmless, see utils.tf_startup) is swallowed here
        from keras_electra.utils.tf_startup import absorb_onednn_fallback_notice

        absorb_onednn_fallback_notice()
        return Runtime(strategy, strategy.num_replicas_in_sync, num_processes, index)
    if backend == "jax":
        try:
            distribution = setup_jax_data_parallel(auto_shard_dataset=auto_shard_dataset)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        num_processes, index = process_layout()
        if jax_prng != "threefry2x32":
            from keras_electra.models.electra_layers import use_jax_prng

            use_jax_prng(jax_prng)
            logger.info("JAX PRNG: %s", jax_prng)
        replicas = len(distribution.device_mesh.devices.flatten()) if distribution else 1
        return Runtime(None, replicas, num_processes, index)
    raise ConfigError(f"keras backend {backend!r}: use tensorflow or jax.")


# ----------------------------------------------------------- cross-worker agreement
def _jax_multi_process():
    import keras

    if keras.backend.backend() != "jax":
        return False
    import jax

    return jax.process_count() > 1


def _is_multi_process(strategy):
    """True under MWMS with several workers, or on JAX with several processes."""
    if strategy is not None and is_multi_worker(strategy):
        return True
    return _jax_multi_process()


def _all_gather_int64(strategy, values):
    """All-gather a fixed-length int vector across workers/processes -> [workers, len].

    MWMS: a collective all-gather in the strategy. JAX: `process_allgather` (int32 without
    x64, so every value must lie in [-2**31, 2**31); the callers' values do: steps, 28-bit
    checksum slices, Unix seconds).
    """
    import numpy as np

    if _jax_multi_process():
        from jax.experimental import multihost_utils

        values = np.asarray(values, dtype=np.int64)
        if values.size and (values.min() < -2**31 or values.max() >= 2**31):
            raise ValueError(f"cannot all-gather {values.tolist()} as int32 on JAX")
        table = multihost_utils.process_allgather(values.astype(np.int32))
        return np.asarray(table, dtype=np.int64).reshape(-1, values.size)
    import tensorflow as tf

    local = tf.constant(np.asarray(values, dtype=np.int64)[None, :])

    @tf.function
    def gather():
        def fn():
            ctx = tf.distribute.get_replica_context()
            return ctx.all_gather(local, axis=0)

        return strategy.run(fn)

    result = gather()
    result = strategy.experimental_local_results(result)[0]
    return np.asarray(result)


def agree_on_resume_step(strategy, visible_steps, max_slots=64):
    """The newest checkpoint step that every worker can load, or None if none has any.

    Raises CheckpointError if some workers have checkpoints but no step is
    common to all of them (refusing to start beats silently diverging).
    Returns `visible_steps` max directly when not multi-worker.
    """
    steps = sorted(int(s) for s in visible_steps)[-max_slots:]
    if not _is_multi_process(strategy):
        return steps[-1] if steps else None
    padded = steps + [-1] * (max_slots - len(steps))
    table = _all_gather_int64(strategy, padded)
    per_worker = [set(int(s) for s in row if s >= 0) for row in table]
    if not any(per_worker):
        return None
    common = set.intersection(*per_worker)
    if not common:
        raise CheckpointError(
            "workers disagree on the checkpoints they can resume from: "
            + "; ".join(f"worker {i}: {sorted(s)[-5:] or 'none'}"
                        for i, s in enumerate(per_worker))
            + ". Copy a complete ckpt-* directory to every worker's checkpoint_dir, or "
            "start from scratch with a new --checkpoint_dir."
        )
    return max(common)


def verify_workers_agree(strategy, step, checksum_hex):
    """After a restore: every worker must hold the same step and bit-identical weights."""
    if not _is_multi_process(strategy):
        return
    # 7 hex digits per slot keep each value well inside int64.
    digits = [int(checksum_hex[i:i + 7], 16) for i in range(0, 28, 7)]
    table = _all_gather_int64(strategy, [int(step)] + digits)
    rows = {tuple(int(x) for x in row) for row in table}
    if len(rows) != 1:
        raise CheckpointError(
            "workers restored different states (step, checksum prefix per worker): "
            + "; ".join(f"worker {i}: step {row[0]}" for i, row in enumerate(table))
            + ". Refusing to train; delete the mismatching worker-* checkpoints."
        )


def agree_on_int(strategy, value):
    """Worker 0's value of an int on every worker (e.g. the run-name timestamp)."""
    if not _is_multi_process(strategy):
        return int(value)
    table = _all_gather_int64(strategy, [int(value)])
    return int(table[0][0])
