"""Choosing the distribution strategy, and the isolated Keras fixes MWMS needs.

`create_strategy()` picks, in order:

1. `TF_CONFIG` in the environment (or SageMaker's `SM_HOSTS` + `SM_CURRENT_HOST`
   with more than one host, from which `TF_CONFIG` is built) ->
   `tf.distribute.MultiWorkerMirroredStrategy` (MWMS), after
   `apply_keras_mwms_fixes()`;
2. more than one visible GPU -> `tf.distribute.MirroredStrategy`;
3. otherwise the default strategy (one device).

Testing aid: `KERAS_ELECTRA_CPU_REPLICAS=N` (no cluster set) gives a
MirroredStrategy over N logical CPUs in one process: the same replica ids and
batch split as N one-replica MWMS workers, so a multi-worker run can be
compared with a single process step by step.

On the JAX backend use `setup_jax_data_parallel()` instead: it connects the
processes (`JAX_COORDINATOR_ADDRESS`, `JAX_NUM_PROCESSES`, `JAX_PROCESS_ID`; the
SageMaker entry point sets them from the host list) through `keras.distribution.initialize(...)` and installs
`keras.distribution.DataParallel(auto_shard_dataset=False)` over all devices;
each process feeds its own rows of every global batch (see
`keras_electra.data.pretraining_dataset`). Checkpointing and logging then use
`process_index() == 0` as the chief.

Keras 3.15 `fit()` does not run under MWMS at all; see `apply_keras_mwms_fixes`.
"""

import json
import logging
import os

logger = logging.getLogger(__name__)

# SageMaker: port the MWMS gRPC servers listen on when TF_CONFIG is built from SM_HOSTS.
DEFAULT_MWMS_PORT = int(os.environ.get("KERAS_ELECTRA_MWMS_PORT", "2222"))

# How long MWMS may take to form (every worker in TF_CONFIG connected) before this process
# gives up with a clear message instead of hanging (a worker that never started).
CLUSTER_TIMEOUT_ENV = "KERAS_ELECTRA_CLUSTER_TIMEOUT_S"
DEFAULT_CLUSTER_TIMEOUT_S = 600.0

_APPLIED = set()
# The versions the two patches were written and verified against.
PATCHED_KERAS_VERSIONS = ("3.15.",)


def tf_config_from_sagemaker(environ=None, port=DEFAULT_MWMS_PORT):
    """Build a `TF_CONFIG` dict from SageMaker's `SM_HOSTS`/`SM_CURRENT_HOST`.

    Returns None when the variables are absent or there is a single host.
    Hosts are sorted (SageMaker's `SM_CURRENT_HOST_RANK` order), so every
    worker derives the same cluster and its own index.

    Example:
    ```python
    env = {"SM_HOSTS": '["algo-2", "algo-1"]', "SM_CURRENT_HOST": "algo-2"}
    tf_config_from_sagemaker(env)["task"]  # {'type': 'worker', 'index': 1}
    ```
    """
    environ = os.environ if environ is None else environ
    hosts = environ.get("SM_HOSTS")
    current = environ.get("SM_CURRENT_HOST")
    if not hosts or not current:
        return None
    try:
        hosts = sorted(json.loads(hosts))
    except json.JSONDecodeError as error:
        raise ValueError(f"SM_HOSTS={environ.get('SM_HOSTS')!r} is not a JSON list") from error
    if len(hosts) < 2:
        return None
    if current not in hosts:
        raise ValueError(f"SM_CURRENT_HOST={current!r} is not one of SM_HOSTS={hosts}")
    return {
        "cluster": {"worker": [f"{host}:{port}" for host in hosts]},
        "task": {"type": "worker", "index": hosts.index(current)},
    }


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


KERAS_MWMS_FIXES = ("symbolic_build", "reduce_per_replica")


def apply_keras_mwms_fixes(fixes=KERAS_MWMS_FIXES):
    """Patch Keras 3.15's TensorFlow trainer so `fit()` runs under MWMS.

    Upstream: keras-team/keras#20585 ("Does Keras 3 work with
    MultiWorkerMirroredStrategy?"), keras-team/keras#20329 (MWMS with dict
    inputs), tensorflow/tensorflow#72388 (scalar reduce with axis=0). Both are
    multi-worker-only code paths, so `MirroredStrategy` never hits them.

    1. `"symbolic_build"`: `TensorFlowTrainer._maybe_symbolic_build` calls
       `strategy.reduce("MEAN", batch, axis=None)` on the first (PerReplica)
       batch -> "Attempt to convert a value (PerReplica...) to a Tensor". The
       patch builds from the first local replica's batch instead.
    2. `"reduce_per_replica"`: `reduce_per_replica(..., "auto")` reduces scalar
       logs with `strategy.reduce("MEAN", v, axis=0)` -> "Invalid reduction
       dimension 0 for input with 0 dimensions". The patch uses `axis=None`
       under MWMS, for every tensor (also the plain local tensors that a
       one-replica worker returns; filtering on PerReplica, as the workaround in
       stack_notes.md does, silently logs worker-local metrics).

    Idempotent. Applied only on Keras 3.15.x (the patched code was read and
    tested there); on another version it logs a warning and does nothing, and
    `tests/training/test_mwms_fixes.py` tells whether the patches are still
    needed and still work. `create_strategy()` calls this only when it creates
    an MWMS strategy.

    Args:
        fixes: which patches to install (both by default; tests pass one to
            show that each is needed).

    Returns:
        True if the patches are (now) installed.
    """
    import keras

    if not keras.__version__.startswith(PATCHED_KERAS_VERSIONS):
        logger.warning(
            "keras %s: the MWMS fixes were written for keras %s and are not applied; "
            "run tests/training/test_mwms_fixes.py to see whether fit() works under MWMS.",
            keras.__version__, "/".join(v + "x" for v in PATCHED_KERAS_VERSIONS),
        )
        return False
    unknown = set(fixes) - set(KERAS_MWMS_FIXES)
    if unknown:
        raise ValueError(f"unknown MWMS fixes {sorted(unknown)}; known: {KERAS_MWMS_FIXES}")
    import tensorflow as tf
    from keras import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = tree.map_structure(
                    lambda v: self.distribute_strategy.experimental_local_results(v)[0]
                    if isinstance(v, tf.distribute.DistributedValues) else v,
                    next(it),
                )
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    if "symbolic_build" in fixes and "symbolic_build" not in _APPLIED:
        tf_trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
        _APPLIED.add("symbolic_build")

    if "reduce_per_replica" in fixes and "reduce_per_replica" not in _APPLIED:
        original_reduce = tf_trainer.reduce_per_replica

        def reduce_per_replica(values, strategy, reduction):
            if (tf_trainer._collective_all_reduce_multi_worker(strategy)
                    and reduction in ("auto", "mean")):
                # Reduce *every* tensor: with one replica per worker, strategy.run
                # returns plain local tensors, not PerReplica values, and skipping
                # them would log worker-local metrics instead of the global mean.
                return tree.map_structure(
                    lambda v: strategy.reduce("MEAN", v, axis=None)
                    if isinstance(v, (tf.distribute.DistributedValues, tf.Tensor)) else v,
                    values,
                )
            return original_reduce(values, strategy, reduction)

        tf_trainer.reduce_per_replica = reduce_per_replica
        _APPLIED.add("reduce_per_replica")
    logger.info("Keras MWMS fixes installed: %s (keras-team/keras#20585, #20329).",
                sorted(_APPLIED))
    return True


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

    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode())


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


def jax_process_info():
    """`(num_processes, process_index, is_chief)` on JAX."""
    import jax

    return jax.process_count(), jax.process_index(), jax.process_index() == 0
