"""Atomic, step-exact training checkpoints (and the AWS-named preset exports).

Layout (one sub-directory per worker, so workers never write the same file)::

    checkpoint_dir/
      worker-0/
        ckpt-0000001000/        <- complete checkpoint (appears atomically)
          model.weights.h5      <- all model weights (incl. the pretrainer's
                                   rng step counter) + optimizer variables
          rng_state.npz         <- keras SeedGenerator states (dropout streams;
                                   `save_weights` leaves them out)
          state.json            <- step, batches consumed, seed, config hash,
                                   run name, sha256 of the two files above
                                   (written last)
        .tmp-ckpt-0000002000-<pid>/   <- a write in progress (or left by a crash)
      worker-1/ ...

Atomicity: a checkpoint is written into a hidden temporary directory in the
same parent, files are fsync'ed, `state.json` is written last, then the
directory is renamed into place (`utils/output_dirs.replace_dir`, atomic on POSIX within one
file system). A crash at any point leaves either the old set of checkpoints or
the old set plus the new one, never a half-written `ckpt-*`. Leftover `.tmp-*`
directories are ignored and removed on the next start.

Integrity: `state.json` records the sha256 of every other file of the checkpoint,
computed from the fsync'ed files before the rename. `visible_checkpoints` checks
the newest checkpoint(s) against these sums and skips a damaged one (bit rot, a
bad copy, a partial overwrite) with a warning naming it, so that a resume uses the
newest intact checkpoint; if every checkpoint is damaged it refuses to start.
`load_checkpoint` checks again before loading. Checkpoints written before the
sums existed (no `checksums` in `state.json`) load as before.

Multi-worker (MWMS) choice: **every worker writes its own complete copy** into
`worker-<index>/` (the weights are identical on all workers, and Keras 3's
`save_weights` needs no collective). This is safe on a shared file system (no
two processes touch the same path; Keras' BackupAndRestore races there, see
docs/STACK_FACTS.md section 3) and on node-local disks such as SageMaker's
`/opt/ml/checkpoints` (each node keeps what it needs to resume). On resume each
worker lists the steps it can see (its own dir first, then other workers'
dirs on a shared file system), the workers all-gather these lists and load
the newest step available to all of them (`distribute.agree_on_resume_step`); if
there is none they refuse to start, and after loading they compare a weight
checksum and the step (`distribute.verify_workers_agree`) and refuse to continue
if any worker differs.

Example:
```python
from keras_electra.training.checkpointing import CheckpointManager

manager = CheckpointManager("ckpts", max_to_keep=3)
manager.save(model, step=100, batches_consumed=100, seed=0, config_hash="abc")
state = manager.restore(model)       # -> {"step": 100, ...}
```
"""

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import time
import warnings

from keras_electra.utils.errors import UserError
from keras_electra.utils.output_dirs import fsync_dir, fsync_file, replace_dir

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "model.weights.h5"
STATE_FILE = "state.json"
# keras.random.SeedGenerator states (dropout streams) are variables but not weights,
# so `save_weights` drops them; saved here so dropout continues step-exactly.
RNG_FILE = "rng_state.npz"
_CKPT_RE = re.compile(r"^ckpt-(\d{10})$")
_WORKER_RE = re.compile(r"^worker-(\d+)$")
FORMAT_VERSION = 1


class CheckpointError(UserError, RuntimeError):
    """A checkpoint cannot be used to resume (mismatch, missing, disagreement)."""


LOCK_FILE_PREFIX = ".lock-worker-"


@contextlib.contextmanager
def checkpoint_dir_lock(directory, worker_index=0):
    """Hold an exclusive lock on `directory` for worker `worker_index` while a run uses it.

    Two runs started on one `--checkpoint_dir` (a command run twice, a second notebook) would
    interleave their checkpoints, prune each other's and resume from a mix. The lock is an
    `flock` on `<directory>/.lock-worker-<i>` holding the owner's pid, host, start time and
    command line; the kernel releases it when the process ends in any way (also `kill -9`), so
    a crashed run never leaves a stale lock. Workers of one multi-worker job lock different
    files. (`flock` is per host: on a network file system shared by several hosts it protects
    only against runs on the same host.)

    Raises:
        CheckpointError: another live process holds the lock (the message names it).
    """
    import fcntl
    import socket

    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{LOCK_FILE_PREFIX}{int(worker_index)}")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # the umask decides, as for any file
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
            raise CheckpointError(
                f"--checkpoint_dir {directory} is in use by another run "
                f"({holder or 'a process that has not written its name yet'}; lock {path}). "
                "Two runs writing one checkpoint directory would interleave and prune each "
                "other's checkpoints. Wait for that run to end (or stop it), or pass another "
                "--checkpoint_dir.") from None
        command = " ".join(sys.argv).replace("\n", " ")[:500]
        owner = (f"pid {os.getpid()} on host {socket.gethostname()}, started "
                 f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {command}")
        os.ftruncate(fd, 0)
        os.pwrite(fd, owner.encode("utf-8"), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock


def config_hash(config):
    """Stable short hash of a JSON-serializable dict (sorted keys)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def file_sha256(path, chunk_bytes=8 * 1024 * 1024):
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


# Checkpoint dirs verified intact in this process: path -> (name, inode, size, mtime, ctime)
# of each checked file, so that `visible_checkpoints` + `load_checkpoint` hash a file only once.
_verified = {}


def _signature(path, names):
    signature = []
    for name in sorted(names):
        info = os.stat(os.path.join(path, name))
        signature.append((name, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns))
    return tuple(signature)


def checkpoint_problem(path):
    """None if the checkpoint dir `path` is intact, else what is wrong with it (a phrase).

    Intact: `state.json` is readable JSON and every file it has a sha256 for exists with that
    sha256. A checkpoint without recorded sums (written by an older version) counts as intact.
    """
    try:
        with open(os.path.join(path, STATE_FILE), encoding="utf-8") as f:
            state = json.load(f)
        if not isinstance(state, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as error:
        return f"{STATE_FILE} is unreadable ({error})"
    checksums = state.get("checksums")
    if not checksums:
        return None
    if not isinstance(checksums, dict):
        return f"{STATE_FILE} has a malformed 'checksums' entry"
    try:
        signature = _signature(path, checksums)
        if _verified.get(path) == signature:
            return None
        for name, expected in sorted(checksums.items()):
            actual = file_sha256(os.path.join(path, name))
            if actual != expected:
                return (f"{name} has sha256 {actual[:12]}…, but {STATE_FILE} recorded "
                        f"{str(expected)[:12]}… when it was saved")
    except OSError as error:
        return f"cannot read {error.filename} ({error.strerror})"
    _verified[path] = signature
    return None


def _warn_damaged(path, problem, intact_path):
    print(f"keras-electra: warning: checkpoint {path} is damaged: {problem} (bit rot, a bad "
          f"copy or an overwrite). Skipping it: the newest intact checkpoint is {intact_path}. "
          "Move the damaged one aside or delete it to silence this warning.",
          file=sys.stderr, flush=True)


def close_hdf5_files_under(directory):
    """Close every HDF5 file h5py holds open under `directory` (errors ignored: the disk may
    be full, and the file is about to be deleted)."""
    try:
        import h5py
    except ImportError:
        return
    directory = os.path.abspath(directory) + os.sep
    for file_id in h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE):
        try:
            name = h5py.h5f.get_name(file_id)
            name = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
            if os.path.abspath(name).startswith(directory):
                # HDF5 cannot close a file whose metadata it cannot flush (a full disk): it
                # keeps it open and crashes at exit. Emptying the file first frees its space,
                # so the close (a few KB of metadata) succeeds; the file is deleted next.
                os.truncate(name, 0)
                while file_id.valid:
                    file_id.close()
        except Exception:  # noqa: BLE001 - best effort on a failing disk
            pass


class CheckpointManager:
    """Save / list / restore step checkpoints of one worker.

    Args:
        directory: the run's checkpoint root (`--checkpoint_dir`).
        max_to_keep: keep this many newest checkpoints of this worker (>= 1).
        worker_index: this worker's index (0 when not multi-worker).
    """

    def __init__(self, directory, max_to_keep=5, worker_index=0):
        if int(max_to_keep) < 1:
            raise ValueError(f"max_to_keep={max_to_keep}: must be >= 1.")
        self.directory = os.path.abspath(directory)
        self.max_to_keep = int(max_to_keep)
        self.worker_index = int(worker_index)
        self.worker_dir = os.path.join(self.directory, f"worker-{self.worker_index}")

    # ------------------------------------------------------------------ listing
    @staticmethod
    def _steps_in(worker_dir):
        steps = {}
        try:
            names = os.listdir(worker_dir)
        except FileNotFoundError:
            return steps
        for name in names:
            match = _CKPT_RE.match(name)
            path = os.path.join(worker_dir, name)
            if match and os.path.isfile(os.path.join(path, STATE_FILE)) \
                    and os.path.isfile(os.path.join(path, WEIGHTS_FILE)):
                steps[int(match.group(1))] = path
        return steps

    def own_steps(self):
        """Steps of this worker's complete checkpoints, ascending."""
        return sorted(self._steps_in(self.worker_dir))

    def visible_checkpoints(self):
        """`{step: path}` over this worker's dir, then every other `worker-*` dir.

        Integrity: the newest checkpoints are checked against the sha256 sums in their
        `state.json`, newest first, until an intact one is found (a copy of the same step in
        another worker's dir may stand in for a damaged one); each damaged checkpoint is left
        out with a warning naming it. Older steps are listed unchecked (`load_checkpoint`
        checks whichever is loaded).

        Raises:
            CheckpointError: there are checkpoints, but every one of them is damaged.
        """
        candidates = {}
        dirs = [self.worker_dir]
        try:
            dirs += sorted(os.path.join(self.directory, n) for n in os.listdir(self.directory)
                           if _WORKER_RE.match(n) and n != f"worker-{self.worker_index}")
        except FileNotFoundError:
            return {}
        for worker_dir in dirs:
            for step, path in self._steps_in(worker_dir).items():
                candidates.setdefault(step, []).append(path)
        found, damaged = {}, []
        for step in sorted(candidates, reverse=True):
            if found:  # an intact newer one exists: list the older ones unchecked
                found[step] = candidates[step][0]
                continue
            for path in candidates[step]:
                problem = checkpoint_problem(path)
                if problem is None:
                    found[step] = path
                    break
                damaged.append((path, problem))
        if found:
            for path, problem in damaged:
                _warn_damaged(path, problem, found[max(found)])
        elif damaged:
            listing = "; ".join(f"{path}: {problem}" for path, problem in damaged)
            raise CheckpointError(
                f"every checkpoint under {self.directory} is damaged ({listing}). Restore a "
                "ckpt-* directory from a backup (or copy one from another worker), or move "
                "them aside / use a new --checkpoint_dir to start from scratch.")
        return dict(sorted(found.items()))

    def latest_step(self):
        steps = self.visible_checkpoints()
        return max(steps) if steps else None

    # ------------------------------------------------------------------- saving
    def cleanup_partial(self):
        """Remove this worker's `.tmp-*` directories left by an interrupted save."""
        try:
            names = os.listdir(self.worker_dir)
        except FileNotFoundError:
            return []
        removed = []
        for name in names:
            if name.startswith(".tmp-") or name.startswith(".old-"):
                shutil.rmtree(os.path.join(self.worker_dir, name), ignore_errors=True)
                removed.append(name)
        return removed

    def save(self, model, step, batches_consumed, seed, config_hash=None, extra=None):
        """Write checkpoint `step` atomically, then drop the oldest beyond `max_to_keep`.

        Returns the path of the new checkpoint directory.
        """
        step = int(step)
        os.makedirs(self.worker_dir, exist_ok=True)
        final = os.path.join(self.worker_dir, f"ckpt-{step:010d}")
        tmp = os.path.join(self.worker_dir, f".tmp-ckpt-{step:010d}-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        try:
            return self._write(model, step, tmp, final, batches_consumed, seed, config_hash,
                               extra)
        except BaseException:
            # A failed write (a full disk) leaves Keras' HDF5 file open in the traceback; HDF5
            # closing it at interpreter exit crashed the process (exit 139) after the one-line
            # error. Close it now, and free the space of the partial checkpoint.
            close_hdf5_files_under(tmp)
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _write(self, model, step, tmp, final, batches_consumed, seed, config_hash, extra):
        build_optimizer_for(model)  # so optimizer variables are always in the file
        weights_path = os.path.join(tmp, WEIGHTS_FILE)
        model.save_weights(weights_path)
        fsync_file(weights_path)
        rng_path = os.path.join(tmp, RNG_FILE)
        save_seed_generator_states(model, rng_path)
        fsync_file(rng_path)
        # sha256 of the files as they are on disk, checked on resume (`checkpoint_problem`)
        checksums = {name: file_sha256(os.path.join(tmp, name))
                     for name in (WEIGHTS_FILE, RNG_FILE)}
        state = {
            "format_version": FORMAT_VERSION,
            "step": step,
            "batches_consumed": int(batches_consumed),
            "seed": int(seed),
            "config_hash": config_hash,
            "worker_index": self.worker_index,
            "time": time.time(),
            **(extra or {}),
            "checksums": checksums,
        }
        state_path = os.path.join(tmp, STATE_FILE)
        with open(state_path, "w", encoding="utf-8") as f:
            json.dump(state, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        fsync_dir(tmp)
        self._commit(tmp, final)
        self._prune()
        return final

    def _commit(self, tmp, final):
        # re-saving the same step (e.g. final == last periodic) swaps the old one out
        old = os.path.join(self.worker_dir, f".old-{os.path.basename(final)}-{os.getpid()}")
        replace_dir(tmp, final, old)
        fsync_dir(self.worker_dir)

    def _prune(self):
        steps = self.own_steps()
        for step in steps[:-self.max_to_keep]:
            shutil.rmtree(os.path.join(self.worker_dir, f"ckpt-{step:010d}"), ignore_errors=True)

    # ---------------------------------------------------------------- restoring
    @staticmethod
    def read_state(path):
        with open(os.path.join(path, STATE_FILE), encoding="utf-8") as f:
            return json.load(f)

    def path_for(self, step):
        path = self.visible_checkpoints().get(int(step))
        if path is None:
            raise CheckpointError(
                f"no complete checkpoint for step {step} under {self.directory} "
                f"(visible steps: {sorted(self.visible_checkpoints())})"
            )
        return path

    def restore(self, model, step=None, path=None):
        """Load weights + optimizer state of `step` (default newest) or of `path`.

        The model must be compiled; its optimizer is built first so that the
        optimizer variables in the file have somewhere to go.
        """
        if path is None:
            visible = self.visible_checkpoints()
            if step is None:
                if not visible:
                    raise CheckpointError(f"no checkpoint under {self.directory}")
                step = max(visible)
            if int(step) not in visible:
                raise CheckpointError(
                    f"no complete, intact checkpoint for step {step} under {self.directory} "
                    f"(visible steps: {sorted(visible)})")
            path = visible[int(step)]
        return load_checkpoint(model, path)


def resolve_checkpoint_path(path):
    """A `ckpt-*` dir from `--checkpoint_path`: the dir itself, or the newest under a root."""
    path = os.path.abspath(path)
    if os.path.isfile(os.path.join(path, STATE_FILE)):
        return path
    candidates = {}
    roots = []
    if os.path.isdir(path):
        roots = [path] + [os.path.join(path, n) for n in sorted(os.listdir(path))
                          if _WORKER_RE.match(n)]
    for root in roots:
        for step, ckpt in CheckpointManager._steps_in(root).items():
            candidates.setdefault(step, ckpt)
    if not candidates:
        raise CheckpointError(
            f"--checkpoint_path {path}: no checkpoint there (expected a ckpt-NNNNNNNNNN "
            f"directory with {STATE_FILE} and {WEIGHTS_FILE}, or a checkpoint_dir)"
        )
    return candidates[max(candidates)]


def build_optimizer_for(model):
    """Create the optimizer variables so `load_weights` can restore them."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise CheckpointError("compile the model before restoring a checkpoint")
    if not optimizer.built:
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            strategy = tf.distribute.get_strategy()
            if hasattr(model, "distribute_strategy"):
                strategy = model.distribute_strategy
            with strategy.scope():
                optimizer.build(model.trainable_variables)
        else:
            optimizer.build(model.trainable_variables)


def load_checkpoint(model, path):
    """Restore `path` (a `ckpt-*` dir) into `model`; returns its state dict.

    Raises:
        CheckpointError: the files do not match the sha256 sums recorded in `state.json`
            (the checkpoint is damaged), or they do not fit the model.
    """
    problem = checkpoint_problem(path)
    if problem is not None:
        raise CheckpointError(
            f"checkpoint {path} is damaged: {problem}. Refusing to load it; move it aside "
            "(or delete it) to resume from the previous checkpoint, or restore it from a "
            "backup.")
    build_optimizer_for(model)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_weights(os.path.join(path, WEIGHTS_FILE))
    except Exception as error:
        raise CheckpointError(
            f"{path}: cannot load {WEIGHTS_FILE} into this model ({error}). Was the "
            "checkpoint written with a different --model_size, vocabulary or optimizer?"
        ) from error
    # the text keras 3.15 `saving_lib` warns with (tests/training/test_training_keras_patches.py)
    skipped = [str(w.message) for w in caught if "Skipping variable loading" in str(w.message)]
    if skipped:
        # Keras only warns when a layer/optimizer's variable count differs; a resume
        # that silently resets the optimizer is not step-exact, so refuse.
        raise CheckpointError(f"{path}: incomplete restore: {skipped[0]}")
    rng_path = os.path.join(path, RNG_FILE)
    if os.path.isfile(rng_path):
        load_seed_generator_states(model, rng_path)
    state = CheckpointManager.read_state(path)
    state["path"] = path
    return state


def seed_generator_states(model):
    """The model's `SeedGenerator` state variables, in structural (build) order."""
    return [v for v in model.non_trainable_variables
            if v.path.endswith("seed_generator_state")]


def save_seed_generator_states(model, path):
    import numpy as np

    states = seed_generator_states(model)
    with open(path, "wb") as f:
        np.savez(f, **{f"s{i}": np.asarray(v) for i, v in enumerate(states)})


def load_seed_generator_states(model, path):
    import numpy as np

    states = seed_generator_states(model)
    with np.load(path) as data:
        if len(data.files) != len(states):
            raise CheckpointError(
                f"{path}: {len(data.files)} random-generator states saved, the model has "
                f"{len(states)}; the checkpoint is from a different architecture.")
        for i, variable in enumerate(states):
            variable.assign(data[f"s{i}"])


def weights_checksum(model):
    """sha256 over every model + optimizer variable (bit-level comparison)."""
    import numpy as np

    digest = hashlib.sha256()
    variables = list(model.weights) + seed_generator_states(model)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and optimizer.built:
        variables += list(optimizer.variables)
    for variable in variables:
        value = variable.numpy() if hasattr(variable, "numpy") else variable
        digest.update(np.ascontiguousarray(np.asarray(value)).tobytes())
    return digest.hexdigest()


# ------------------------------------------------------------------ preset exports
def export_presets(model, export_dir, run_name, step, max_to_keep=None, tokenizer=None):
    """Write `{run_name}-step{N}-discriminator` / `-generator` presets (A's naming).

    Uses `model.export_discriminator` / `export_generator` (ElectraPretrainer),
    which include the tokenizer when the pretrainer has one (else `tokenizer`). Written to a
    temporary name and renamed, like checkpoints. Returns the two paths.
    """
    os.makedirs(export_dir, exist_ok=True)
    paths = []
    for part, exporter in (("discriminator", model.export_discriminator),
                           ("generator", model.export_generator)):
        final = os.path.join(export_dir, f"{run_name}-step{int(step)}-{part}")
        tmp = os.path.join(export_dir, f".tmp-{run_name}-step{int(step)}-{part}-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        exporter(tmp)
        if tokenizer is not None and getattr(model, "tokenizer", None) is None:
            tokenizer.save_to_preset(tmp)
        replace_dir(tmp, final, os.path.join(
            export_dir, f".old-{run_name}-step{int(step)}-{part}-{os.getpid()}"))
        paths.append(final)
    if max_to_keep:
        _prune_presets(export_dir, run_name, max_to_keep)
    return paths


def _prune_presets(export_dir, run_name, max_to_keep):
    pattern = re.compile(rf"^{re.escape(run_name)}-step(\d+)-(discriminator|generator)$")
    steps = sorted({int(m.group(1)) for n in os.listdir(export_dir)
                    if (m := pattern.match(n))})
    for step in steps[:-max_to_keep]:
        for part in ("discriminator", "generator"):
            shutil.rmtree(os.path.join(export_dir, f"{run_name}-step{step}-{part}"),
                          ignore_errors=True)
