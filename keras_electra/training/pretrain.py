"""The pretraining driver behind `keras-electra pretrain` (and SageMaker, and notebooks).

One screen of logic, in order: config -> strategy -> resume decision -> model +
optimizer -> restore -> data (skipping the consumed batches) -> callbacks ->
`fit` -> final checkpoint + presets.

Resume is step-exact: a checkpoint holds the model weights (including the
pretrainer's step counter, from which masking and sampling noise derive),
the dropout random-generator states, the optimizer variables and the number of
global batches consumed. The training stream is deterministic for a given
seed (sequential shard reading, seeded shuffle), so skipping the consumed
batches puts the data exactly where it was. The global batches are built by
`--data_readers` independent readers (`keras_electra.data.pretraining_dataset`);
each process (MWMS worker, JAX process) runs only its readers, reads only their
files and yields its rows of every global batch, so 1 process and N processes
see the same global batches (see `pretraining_input`).

Example:
```python
from keras_electra.training.pretrain import pretrain

result = pretrain(train_dir="shards/train", model_size="tiny", total_steps=20,
                  warmup_steps=2, per_gpu_batch_size=8, max_seq_length=128,
                  checkpoint_dir="ckpt", log_dir="logs", checkpoint_frequency=10)
print(result.step, result.discriminator_preset)
```
"""

import dataclasses
import logging
import os
import time
from datetime import datetime

from keras_electra.training.config import ConfigError, PretrainConfig
from keras_electra.utils import preset_dirs

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class PretrainResult:
    run_name: str
    step: int
    resumed_from_step: int
    checkpoint_path: str
    discriminator_preset: str
    generator_preset: str
    log_dir: str
    logs: dict
    validation: list
    seconds: float


def _coerce_config(config, overrides):
    if config is None:
        config = PretrainConfig.from_dict(overrides)
    elif isinstance(config, dict):
        config = PretrainConfig.from_dict({**config, **overrides})
    elif isinstance(config, PretrainConfig):
        config = dataclasses.replace(config, **overrides) if overrides else config
    else:
        raise TypeError(f"config must be a PretrainConfig, a dict or None; got {type(config)}")
    return config


def default_run_name(config, num_replicas, timestamp):
    """A's run name: `{YYYYmmdd-HHMMSS}-electra-{n}gpus-{global}globalbatch-{total}steps-{name}`."""
    stamp = datetime.fromtimestamp(timestamp).strftime("%Y%m%d-%H%M%S")
    global_batch = config.per_gpu_batch_size * num_replicas * config.gradient_accumulation_steps
    name = f"{stamp}-electra-{num_replicas}gpus-{global_batch}globalbatch-{config.total_steps}steps"
    return f"{name}-{config.name}" if config.name else name


def find_vocab_file(config):
    return config.vocab_file or preset_dirs.find_vocab_file(config.train_path)


def _build_pretrainer(config, tokenizer):
    import keras

    from keras_electra.models.electra_pretrainer import ElectraPretrainer

    kwargs = dict(
        dropout=config.hidden_dropout_prob,
        attention_dropout=config.attention_probs_dropout_prob,
        seed=config.seed,
        xla=not config.skip_xla,
        gen_weight=config.gen_weight,
        disc_weight=config.disc_weight,
    )
    if config.mask_prob is not None:
        kwargs["mask_prob"] = config.mask_prob
    if config.generator_hidden_size is not None:
        kwargs["generator_hidden_size"] = config.generator_hidden_size
    if tokenizer is not None:
        # No preprocessor on the model: Task.fit would map it over our id batches.
        # The tokenizer is saved next to the exported presets instead.
        kwargs["vocabulary_size"] = tokenizer.vocabulary_size()
        for key in ("cls", "sep", "mask", "pad"):
            kwargs[f"{key}_token_id"] = int(getattr(tokenizer, f"{key}_token_id"))
    keras.utils.set_random_seed(config.seed)
    return ElectraPretrainer.from_preset(f"electra_{config.model_size}", **kwargs)


def _make_optimizer(config):
    from keras_electra.optimizers import create_optimizer

    return create_optimizer(
        config.learning_rate, config.total_steps, config.warmup_steps,
        config.end_learning_rate, config.learning_rate_decay_power, config.weight_decay,
        config.beta_1, config.beta_2, config.epsilon, config.max_grad_norm,
        optimizer=config.optimizer,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        schedule=config.resolved_schedule,
    )


def _set_up_backend(config):
    """(strategy or None, num_replicas, num_processes, process_index).

    TensorFlow: the strategy from `distribute.create_strategy()` (MWMS workers are the
    processes). JAX: `jax.distributed` + `DataParallel` over every device of every process.
    Process 0 is the chief.
    """
    import keras

    from keras_electra.training import distribute

    if keras.backend.backend() == "tensorflow":
        if config.jax_prng != "threefry2x32":
            raise ConfigError(f"--jax_prng {config.jax_prng} needs the JAX backend "
                              "(KERAS_BACKEND=jax); drop it on TensorFlow.")
        strategy = distribute.create_strategy()
        num_processes, index = distribute.process_layout(strategy)
        return strategy, strategy.num_replicas_in_sync, num_processes, index
    if keras.backend.backend() == "jax":
        try:
            distribution = distribute.setup_jax_data_parallel()
        except ValueError as error:
            raise ConfigError(str(error)) from None
        num_processes, index = distribute.process_layout()
        if config.jax_prng != "threefry2x32":
            from keras_electra.models.electra_layers import use_jax_prng

            use_jax_prng(config.jax_prng)
            logger.info("JAX PRNG: %s", config.jax_prng)
        replicas = len(distribution.device_mesh.devices.flatten()) if distribution else 1
        return None, replicas, num_processes, index
    raise ConfigError(f"keras backend {keras.backend.backend()!r}: use tensorflow or jax.")


def _warn_precision(config):
    import keras

    if config.precision == "mixed_float16":
        has_gpu = False
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            has_gpu = bool(tf.config.list_physical_devices("GPU"))
        if not has_gpu:
            logger.warning("--precision mixed_float16 on CPU: allowed, but slow and without "
                           "benefit; use mixed_bfloat16 or float32 on CPU.")


def _resume_source(config, manager, strategy):
    """(checkpoint path or None, its state or None): checkpoint_dir first, then checkpoint_path."""
    from keras_electra.training import checkpointing

    visible = manager.visible_checkpoints()
    step = checkpointing.agree_on_resume_step(strategy, visible.keys())
    if step is not None:
        path = visible[step]
        return path, checkpointing.CheckpointManager.read_state(path)
    if config.load_from == "checkpoint":
        path = checkpointing.resolve_checkpoint_path(config.checkpoint_path)
        return path, checkpointing.CheckpointManager.read_state(path)
    return None, None


def _check_resume_compatible(config, state):
    saved = state.get("resume_critical") or {}
    current = config.resume_critical()
    changed = {k: (saved[k], current[k]) for k in saved if k in current and saved[k] != current[k]}
    if changed:
        details = ", ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, (a, b) in changed.items())
        raise ConfigError(
            f"cannot resume from {state.get('path', 'the checkpoint')}: {details}. Use the "
            "original settings, or a new --checkpoint_dir to start another run.")


def _check_output_dir(path, flag):
    """Fail now, not at the first write hours later, if `path` cannot become a writable dir.

    Creates nothing: the path must be a writable directory, or its nearest existing ancestor
    must be one (so `os.makedirs` will succeed later).
    """
    from keras_electra.training.config import ConfigError

    if "://" in path:  # gs://, s3:// ... are checked by TensorFlow's file system at first use
        return
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        raise ConfigError(f"{flag} {path}: {probe} exists and is not a directory; choose "
                          "another path or remove that file.")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {path}: no permission to write in {probe}; choose a "
                          "writable path (e.g. under $HOME or /opt/ml/output on SageMaker).")


def pretrain(config=None, callbacks=None, **overrides):
    """Pretrain ELECTRA (generator + discriminator) with `model.fit`.

    Args:
        config: a `PretrainConfig`, a dict of its fields, or None (use kwargs).
        callbacks: extra Keras callbacks.
        **overrides: `PretrainConfig` fields.

    Returns:
        `PretrainResult` (run name, final step, checkpoint and preset paths,
        last logs, validation history, seconds).
    """
    started = time.time()
    config = _coerce_config(config, overrides)
    config.validate()

    from keras_electra.training import checkpointing
    from keras_electra.training import pretraining_input as inputs

    # The strategy first: MWMS and logical devices must exist before any TF op runs.
    strategy, num_replicas, num_processes, worker_index = _set_up_backend(config)
    is_chief = worker_index == 0
    vocab_file = find_vocab_file(config)
    inputs.check_manifest(config.train_path, "--train_dir", vocab_file, config.max_seq_length)
    inputs.check_shards(config.train_path, config.max_seq_length, "--train_dir")
    if config.val_dir:
        inputs.check_manifest(config.val_path, "--val_dir", vocab_file, config.max_seq_length)
        inputs.check_shards(config.val_path, config.max_seq_length, "--val_dir")
    _check_output_dir(config.checkpoint_root, "--checkpoint_dir")
    if is_chief:
        _check_output_dir(config.log_path, "--log_dir")
        _check_output_dir(config.export_root, "--export_dir")
    # one run per checkpoint dir (and worker): before anything in it is cleaned up or read
    with checkpointing.checkpoint_dir_lock(config.checkpoint_root, worker_index):
        return _train(config, strategy, num_replicas, num_processes, worker_index, vocab_file,
                      callbacks, started)


def _train(config, strategy, num_replicas, num_processes, worker_index, vocab_file, callbacks,
           started):
    """`pretrain` once the inputs are checked and the checkpoint dir is locked."""
    import keras

    from keras_electra.training import callbacks as cb
    from keras_electra.training import checkpointing
    from keras_electra.training import pretraining_input as inputs

    is_chief = worker_index == 0
    _warn_precision(config)
    keras.config.set_dtype_policy(config.precision)
    global_batch = config.per_gpu_batch_size * num_replicas

    logger.info("strategy: %s, %d replica(s), process %d of %d", type(strategy).__name__,
                num_replicas, worker_index, num_processes)
    manager = checkpointing.CheckpointManager(config.checkpoint_root, config.keep_checkpoints,
                                              worker_index)
    manager.cleanup_partial()
    resume_path, resume_state = _resume_source(config, manager, strategy)
    config = dataclasses.replace(config, data_readers=inputs.resolve_data_readers(
        config, num_processes, resume_state))
    if resume_state is not None:
        _check_resume_compatible(config, resume_state)
    val_batches = 0
    if config.val_dir and config.validation_frequency:
        val_batches = inputs.validation_batches(config, global_batch, config.data_readers)
    timestamp = checkpointing.agree_on_int(strategy, int(time.time()))
    run_name = (config.run_name or (resume_state or {}).get("run_name")
                or default_run_name(config, num_replicas, timestamp))

    tokenizer = None
    if vocab_file:
        from keras_electra.models.electra_tokenizer import ElectraTokenizer

        tokenizer = ElectraTokenizer(vocabulary=vocab_file, lowercase=True, strip_accents=True)

    scope = strategy.scope() if strategy is not None else _null_scope()
    with scope:
        model = _build_pretrainer(config, tokenizer)
        model.compile(optimizer=_make_optimizer(config),
                      steps_per_execution=config.steps_per_execution)
        checkpointing.build_optimizer_for(model)

    logger.info("model and optimizer built")
    consumed = 0
    resumed_from = 0
    if resume_path is not None:
        state = checkpointing.load_checkpoint(model, resume_path)
        consumed = int(state["batches_consumed"])
        resumed_from = int(state["step"])
        if cb.to_int(model.optimizer.iterations) != resumed_from:
            raise checkpointing.CheckpointError(
                f"{resume_path}: state.json says step {resumed_from} but the optimizer "
                f"restored {cb.to_int(model.optimizer.iterations)} updates.")
        logger.info("resumed from %s (step %d, %d batches consumed)", resume_path,
                    resumed_from, consumed)
        print(f"keras-electra: worker {worker_index}: resuming {run_name} from step "
              f"{resumed_from} ({resume_path})", flush=True)
    checkpointing.verify_workers_agree(strategy, resumed_from,
                                       checkpointing.weights_checksum(model))

    layout = (global_batch, config.data_readers, num_processes, worker_index)
    train_ds = inputs.train_dataset(config, strategy, *layout, skip_batches=consumed)
    val_ds = None
    if val_batches:
        val_ds = inputs.validation_dataset(config, strategy, *layout, val_batches)

    log_dir = os.path.join(config.log_path, run_name)
    sink = cb._Sink(config.log_path, run_name, is_chief=is_chief)
    counter = cb.BatchCounter(consumed)
    exports = {"discriminator": None, "generator": None}
    last_checkpoint = {"path": resume_path, "step": resumed_from if resume_path else None}
    state_extra = {"run_name": run_name, "resume_critical": config.resume_critical(),
                   "config": config.to_dict()}
    config_digest = checkpointing.config_hash(config.resume_critical())

    def save(step):
        path = manager.save(model, step, counter.consumed, config.seed, config_digest,
                            extra=state_extra)
        last_checkpoint.update(path=path, step=step)
        if is_chief:
            paths = checkpointing.export_presets(model, config.export_root, run_name, step,
                                                 max_to_keep=config.keep_checkpoints,
                                                 tokenizer=tokenizer)
            exports.update(discriminator=paths[0], generator=paths[1])
            logger.info("checkpoint %s; presets %s", path, paths)

    stop_step = config.stop_after_steps or config.total_steps
    remaining_updates = max(0, stop_step - resumed_from)
    if (remaining_updates * config.gradient_accumulation_steps) % config.steps_per_execution:
        raise ConfigError(
            f"resuming at step {resumed_from} with --steps_per_execution "
            f"{config.steps_per_execution}: the {remaining_updates} remaining update(s) are "
            "not a whole number of executions; use a --steps_per_execution that divides "
            f"{remaining_updates * config.gradient_accumulation_steps} (e.g. 1).")
    # The callbacks count batches on the host and do their work between two executions:
    # no model read between their frequencies (see callbacks.py).
    logger_cb = cb.TrainingLogger(
        sink, config.log_frequency, global_batch * config.max_seq_length, config.total_steps,
        initial_step=resumed_from, is_chief=is_chief, progress=config.progress)
    # first: a NaN/Inf loss (or weight) raises before anything else at that step, so it is
    # never checkpointed; it checks wherever the metrics are reset or a checkpoint is written
    from math import gcd

    check_every = gcd(config.log_frequency, config.checkpoint_frequency,
                      config.validation_frequency if val_ds is not None else 0)
    guard = cb.StopOnNonFiniteLoss(last_checkpoint, check_every, config.checkpoint_frequency)
    fit_callbacks = [guard, counter, logger_cb]
    validation_cb = None
    if val_ds is not None:
        validation_cb = cb.ValidationCallback(val_ds, val_batches,
                                              config.validation_frequency, sink, tokenizer,
                                              is_chief)
        fit_callbacks.append(validation_cb)  # before checkpointing: eval state is saved
    fit_callbacks.append(cb.CheckpointCallback(config.checkpoint_frequency, save))
    watchdog = cb.StepWatchdog(config.step_timeout_s)
    fit_callbacks += list(callbacks or [])
    fit_callbacks.append(watchdog)  # last: re-armed after this batch's other callbacks

    logs = {}
    logger.info("training steps %d..%d (%d batches already consumed)", resumed_from + 1,
                stop_step, consumed)
    if remaining_updates:
        try:
            history = model.fit(
                train_ds, epochs=1,
                steps_per_epoch=remaining_updates * config.gradient_accumulation_steps,
                verbose=0, shuffle=False, callbacks=fit_callbacks)
        finally:  # also when fit raises (non-finite loss, Ctrl-C): no timer left behind
            watchdog.on_train_end()
        del history  # its epoch-end values can include the last validation's
        logs = dict(logger_cb.last_logs)
    final_step = cb.to_int(model.optimizer.iterations)
    if last_checkpoint["step"] != final_step or exports["discriminator"] is None:
        if last_checkpoint["step"] != final_step:
            save(final_step)
        elif is_chief:
            paths = checkpointing.export_presets(model, config.export_root, run_name,
                                                 final_step, max_to_keep=config.keep_checkpoints,
                                                 tokenizer=tokenizer)
            exports.update(discriminator=paths[0], generator=paths[1])
    sink.close()
    if is_chief:
        print(f"keras-electra: {run_name} finished at step {final_step}; checkpoint "
              f"{last_checkpoint['path']}; discriminator preset {exports['discriminator']}",
              flush=True)
    return PretrainResult(
        run_name=run_name, step=final_step, resumed_from_step=resumed_from,
        checkpoint_path=last_checkpoint["path"],
        discriminator_preset=exports["discriminator"], generator_preset=exports["generator"],
        log_dir=log_dir, logs=logs,
        validation=list(validation_cb.history) if validation_cb else [],
        seconds=time.time() - started,
    )


class _null_scope:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
