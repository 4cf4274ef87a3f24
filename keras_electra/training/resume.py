"""Step-exact resume, one home: what a checkpoint holds, where a run starts, how the data follows.

A pretraining run that is stopped (a crash, a spot interruption, `--stop_after_steps`) and
started again with the same command continues as if it had never stopped: the same weights,
optimizer state, random streams and data, step for step. The contract:

1. **What is saved** (`save`, through `checkpointing.CheckpointManager.save`, which owns the
   on-disk format and its atomicity): the model weights, which include the pretrainer's
   `rng_step` counter (`ElectraPretrainer` derives its masking and sampling noise from it, so
   restoring it restores those streams); the `SeedGenerator` states of dropout; the optimizer
   variables; and in `state.json` the step, the global batches consumed (the data position,
   counted by `BatchCounter`), the seed, the run name, the `RESUME_CRITICAL` settings and the
   whole config.
2. **Where a run starts** (`find_resume_point`, then `settle_config`): the newest checkpoint
   in `--checkpoint_dir` that every worker can load (`distribute.agree_on_resume_step`)
   comes first, so a restarted job resumes itself; else `--load_from checkpoint
   --checkpoint_path`; else step 0. `--data_readers 0` takes the checkpoint's value, and every
   `RESUME_CRITICAL` setting must equal the checkpoint's (`ConfigError` otherwise: the data
   position or the weights would mean something else). `restore` loads the checkpoint, checks
   that the optimizer restored the step `state.json` names, and has all workers compare
   step and weights (`distribute.verify_workers_agree`). `remaining_updates` refuses a
   resume whose remaining batches are not whole `--steps_per_execution` executions.
3. **How the data follows**: the training stream is deterministic for a seed (sequential
   shard reading, seeded shuffle, `--data_readers` readers), so skipping the batches consumed
   (`pretraining_input.train_dataset(..., skip_batches=consumed)`) puts it exactly where it
   was.
4. **Callback order** (`ordered_callbacks`): guard, counter, logger, validation, checkpoint,
   the user's callbacks, watchdog. The periodic callbacks do their work at the same points
   (between two executions, `callbacks.PeriodicCallback`), in list order, so:

   * `StopOnNonFiniteLoss` first: a NaN/Inf loss or weight raises before any other callback
     acts at that step, so a diverged model is never logged as good, nor checkpointed;
   * `BatchCounter` before any callback that saves: `consumed` must already count the
     batches of the step being checkpointed;
   * `TrainingLogger` before validation: it logs and then resets the training metric
     accumulators; `model.evaluate` overwrites them, so logging after it would report
     validation values as training ones;
   * `ValidationCallback` before `CheckpointCallback`: a checkpoint of a step is written
     only after that step's validation ran (and reset the metric accumulators), so a run
     resumed from it neither skips nor repeats a validation and continues from the state
     the uninterrupted run went on training with;
   * the user's callbacks after the checkpoint: they see a step that is already saved, and
     one that stops or raises cannot lose it;
   * `StepWatchdog` last: it re-arms its timer at every batch end, after every other
     callback's work for that batch, so that work is never charged to the next step.
"""

import dataclasses
import logging

from keras_electra.training import checkpointing, distribute
from keras_electra.training.callbacks import PeriodicCallback, to_int
from keras_electra.training.config import ConfigError

logger = logging.getLogger(__name__)

# Settings that must not change across a resume: they define the data position (what the
# batches consumed mean) and what the weights and optimizer state are.
RESUME_CRITICAL = ("model_type", "model_size", "max_seq_length", "per_gpu_batch_size",
                   "gradient_accumulation_steps", "seed", "optimizer", "precision", "train_dir",
                   "shuffle_buffer", "data_readers", "jax_prng",
                   # the objective: a resumed run must optimise what it started with
                   "mask_prob", "generator_hidden_size", "generator_layers", "disallow_correct",
                   "untied_generator_embeddings", "uniform_generator", "gdes",
                   "unigram_generator", "electric",
                   # where the weights of step 0 came from (`init_from`)
                   "init_from", "init_generator_from")


def resume_critical(config):
    """`{setting: value}` of the `RESUME_CRITICAL` settings of `config`."""
    return {k: getattr(config, k) for k in RESUME_CRITICAL}


class BatchCounter(PeriodicCallback):
    """Counts global batches consumed (the data position), without reading the device.

    `consumed` is current whenever another callback's periodic work runs (this one comes
    before them in `ordered_callbacks`).
    """

    def __init__(self, initial=0):
        super().__init__(0, initial_batches=initial)

    @property
    def consumed(self):
        return self.position


def ordered_callbacks(guard, counter, logger_cb, validation, checkpoint, user, watchdog):
    """The callbacks of a pretraining `fit`, in the order the module docstring explains.

    `validation` may be None; `user` is a list (possibly empty).
    """
    ordered = [guard, counter, logger_cb]
    if validation is not None:
        ordered.append(validation)
    return ordered + [checkpoint, *user, watchdog]


# ------------------------------------------------------------------ what is saved
def save(manager, model, step, consumed, config, run_name, inputs=None):
    """Write checkpoint `step` (data position `consumed`) for `config`'s run; returns its path.
    `inputs` (`input_fingerprints`) is stored so a resume can check the files it depends on."""
    from keras_electra.training import init_from

    critical = resume_critical(config)
    extra = {"run_name": run_name, "resume_critical": critical, "config": config.to_dict()}
    if inputs:
        extra["inputs"] = inputs
    if config.init_from:  # a rerun builds this architecture, never reading the source again
        extra["architecture"] = init_from.architecture_of(model)
    return manager.save(model, step, consumed, config.seed, checkpointing.config_hash(critical),
                        extra=extra)


def input_fingerprints(config, vocab_file):
    """The input files a resume depends on, fingerprinted: the vocabulary and (with
    `--unigram_generator`) the token counts by sha256, the training shards by name and size
    (the data position `batches_consumed` counts batches of exactly these files)."""
    import os

    from keras_electra.data.pretraining_dataset import list_shard_files

    inputs = {"train_shards": {os.path.basename(path): os.path.getsize(path)
                               for path in list_shard_files(config.train_path)}}
    if vocab_file:
        inputs["vocab_sha256"] = checkpointing.file_sha256(vocab_file)
    if config.unigram_generator:
        from keras_electra.training.config import token_counts_path

        inputs["token_counts_sha256"] = checkpointing.file_sha256(
            token_counts_path(config.train_path))
    return inputs


def check_inputs_unchanged(state, inputs):
    """ConfigError when a file the checkpoint depends on differs from the one it was trained
    with (a checkpoint without fingerprints, from an older version, is not checked)."""
    saved = (state or {}).get("inputs") or {}
    where = state.get("path", "the checkpoint")
    names = {"vocab_sha256": "--vocab_file (its sha256)",
             "token_counts_sha256": "token_counts.tsv (its sha256; --unigram_generator)"}
    for key, label in names.items():
        if key in saved and key in inputs and saved[key] != inputs[key]:
            raise ConfigError(
                f"cannot resume from {where}: {label} differs from the one the checkpoint was "
                "trained with. Resume with the original file, or start a new --checkpoint_dir.")
    if "train_shards" in saved and saved["train_shards"] != inputs.get("train_shards"):
        ours, theirs = inputs.get("train_shards") or {}, saved["train_shards"]
        changed = sorted(set(ours) ^ set(theirs)) or sorted(
            k for k in ours if ours[k] != theirs.get(k))
        raise ConfigError(
            f"cannot resume from {where}: the --train_dir shards differ from those the "
            f"checkpoint was trained on (e.g. {changed[0]}: {theirs.get(changed[0])} bytes then, "
            f"{ours.get(changed[0])} now), so its data position would point at other examples. "
            "Resume with the original shards, or start a new --checkpoint_dir.")


# ------------------------------------------------------------- where a run starts
def find_resume_point(config, manager, strategy):
    """(checkpoint path or None, its state or None): checkpoint_dir first, then checkpoint_path."""
    visible = manager.visible_checkpoints()
    step = distribute.agree_on_resume_step(strategy, visible.keys())
    if step is not None:
        path = visible[step]
        return path, checkpointing.CheckpointManager.read_state(path)
    if config.load_from == "checkpoint":
        path = checkpointing.resolve_checkpoint_path(config.checkpoint_path)
        return path, checkpointing.CheckpointManager.read_state(path)
    return None, None


def resolve_data_readers(config, num_processes, resume_state=None):
    """`--data_readers`, with 0 meaning: the resumed checkpoint's value, else one per process.

    Raises ConfigError when the value cannot be split over `num_processes`.
    """
    readers = int(config.data_readers)
    if readers == 0:
        saved = ((resume_state or {}).get("resume_critical") or {}).get("data_readers")
        readers = int(saved) if saved else int(num_processes)
    if readers % num_processes:
        raise ConfigError(
            f"--data_readers {readers} cannot be split over {num_processes} processes: it must "
            f"be a multiple of the process count (the resumed run used {readers}; resume on a "
            f"process count dividing it, or start a new run with --data_readers "
            f"{num_processes})." if config.data_readers == 0 else
            f"--data_readers {readers} cannot be split over {num_processes} processes: use a "
            f"multiple of {num_processes}.")
    return readers


# settings whose None means "the preset's value": `--mask_prob 0.15` given explicitly equals
# the default it resolves to, and must not be refused as a change
PRESET_DEFAULTS = {"mask_prob": ("pretraining", "mask_prob"),
                   "generator_hidden_size": ("generator_hidden_size",),
                   "generator_layers": ("generator_layers",)}


def _effective(key, value, model_size):
    """`value` with None resolved to the preset's default for `key` (when it has one)."""
    if value is not None or key not in PRESET_DEFAULTS or not model_size:
        return value
    from keras_electra.models.electra_presets import ARCHITECTURE_PRESETS

    found = ARCHITECTURE_PRESETS.get(f"electra_{model_size}")
    for part in PRESET_DEFAULTS[key]:
        if not isinstance(found, dict) or part not in found:
            return value
        found = found[part]
    return found


def check_compatible(config, state):
    """ConfigError naming each `RESUME_CRITICAL` setting that differs from the checkpoint's."""
    saved = state.get("resume_critical") or {}
    current = resume_critical(config)
    size = current.get("model_size")
    changed = {k: (saved[k], current[k]) for k in saved if k in current
               and _effective(k, saved[k], saved.get("model_size", size))
               != _effective(k, current[k], size)}
    if changed:
        details = ", ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, (a, b) in changed.items())
        raise ConfigError(
            f"cannot resume from {state.get('path', 'the checkpoint')}: {details}. Use the "
            "original settings, or a new --checkpoint_dir to start another run.")


# settings that define the learning-rate schedule: changing them on resume moves the lr
SCHEDULE_SETTINGS = ("total_steps", "warmup_steps", "learning_rate", "end_learning_rate",
                     "learning_rate_decay_power", "schedule")


def schedule_change_message(config, state):
    """A one-line notice when the resumed run's learning-rate schedule differs from the
    checkpoint's (e.g. a larger --total_steps), with the lr before and after at the resumed
    step; None when it is the same."""
    saved = (state or {}).get("config") or {}
    changed = [k for k in SCHEDULE_SETTINGS
               if k in saved and hasattr(config, k) and saved[k] != getattr(config, k)]
    if not changed:
        return None
    step = int(state.get("step", 0))
    details = ", ".join(f"--{k} {saved[k]} -> {getattr(config, k)}" for k in changed)
    try:
        before, after = (_learning_rate_at(c, step) for c in (
            dataclasses.replace(config, **{k: saved[k] for k in changed}), config))
        jump = f"; the learning rate at step {step} goes from {before:.3g} to {after:.3g}"
    except Exception:  # noqa: BLE001 - the notice must not stop a resume
        jump = ""
    return (f"keras-electra: resuming at step {step} with another learning-rate schedule "
            f"than the checkpoint's ({details}){jump}. To continue the original schedule, "
            "pass the original values.")


def _learning_rate_at(config, step):
    from keras_electra.optimizers import create_optimizer

    optimizer = create_optimizer(
        config.learning_rate, total_steps=config.total_steps, warmup_steps=config.warmup_steps,
        end_learning_rate=config.end_learning_rate,
        decay_power=config.learning_rate_decay_power, weight_decay=config.weight_decay,
        optimizer=config.optimizer, schedule=config.resolved_schedule,
        gradient_accumulation_steps=config.gradient_accumulation_steps)
    schedule = getattr(optimizer, "learning_rate_schedule", None)
    return float(schedule(step)) if callable(schedule) else float(optimizer.learning_rate)


def settle_config(config, num_processes, resume_state, inputs=None):
    """`config` with `data_readers` resolved, checked against the checkpoint it resumes; a
    changed learning-rate schedule is said on stderr (and in the log)."""
    config = dataclasses.replace(config, data_readers=resolve_data_readers(
        config, num_processes, resume_state))
    if resume_state is not None:
        check_compatible(config, resume_state)
        if inputs is not None:
            check_inputs_unchanged(resume_state, inputs)
        notice = schedule_change_message(config, resume_state)
        if notice:
            import sys

            logger.warning(notice)
            print(notice, file=sys.stderr, flush=True)
    return config


def restore(model, path, strategy, worker_index, run_name):
    """Load checkpoint `path` (None: start at step 0) -> (step, global batches consumed).

    Every worker then compares step and weights with the others (`verify_workers_agree`).
    """
    step = consumed = 0
    if path is not None:
        state = checkpointing.load_checkpoint(model, path)
        consumed, step = int(state["batches_consumed"]), int(state["step"])
        restored = to_int(model.optimizer.iterations)
        if restored != step:
            raise checkpointing.CheckpointError(
                f"{path}: state.json says step {step} but the optimizer restored "
                f"{restored} updates.")
        logger.info("resumed from %s (step %d, %d batches consumed)", path, step, consumed)
        print(f"keras-electra: worker {worker_index}: resuming {run_name} from step "
              f"{step} ({path})", flush=True)
    distribute.verify_workers_agree(strategy, step, checkpointing.weights_checksum(model))
    return step, consumed


def remaining_updates(config, resumed_from):
    """Optimizer updates left to `--stop_after_steps` / `--total_steps` from `resumed_from`.

    Raises ConfigError when their fit batches are not whole `--steps_per_execution`
    executions (Keras could only stop at an execution end).
    """
    stop_step = config.stop_after_steps or config.total_steps
    remaining = max(0, stop_step - resumed_from)
    if (remaining * config.gradient_accumulation_steps) % config.steps_per_execution:
        raise ConfigError(
            f"resuming at step {resumed_from} with --steps_per_execution "
            f"{config.steps_per_execution}: the {remaining} remaining update(s) are "
            "not a whole number of executions; use a --steps_per_execution that divides "
            f"{remaining * config.gradient_accumulation_steps} (e.g. 1).")
    return remaining
