"""The pretraining driver behind `keras-electra pretrain` (and SageMaker, and notebooks).

`pretrain()` checks the inputs, locks the checkpoint dir and calls `_train()`, which reads
top to bottom: runtime (`distribute.set_up_runtime`) -> where to start (`resume`) -> model +
optimizer -> restore -> data (skipping the consumed batches) -> callbacks -> `fit` -> final
checkpoint + presets.

Resume is step-exact; `keras_electra.training.resume` states the contract (what a checkpoint
holds, where a run starts, how the data position follows, the order of the callbacks). The
global batches are built by `--data_readers` independent readers
(`keras_electra.data.pretraining_dataset`); each process (MWMS worker, JAX process) runs only
its readers, reads only their files and yields its rows of every global batch, so 1 process
and N processes see the same global batches (see `pretraining_input`).

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


def build_pretrainer(config, tokenizer, architecture=None):
    """The `ElectraPretrainer` a `PretrainConfig` describes (preset size, dropout, seed, loss
    weights, generator size; special-token ids and vocabulary size from `tokenizer` if given),
    with Keras seeded by `config.seed` first, as `keras-electra pretrain` builds it.

    With `--init_from`: the source's weights (`training.init_from.build_pretrainer`), or, when
    resuming, the `architecture` the checkpoint recorded."""
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
    if config.generator_layers is not None:
        kwargs["generator_layers"] = config.generator_layers
    for switch in ("disallow_correct", "untied_generator_embeddings", "uniform_generator",
                   "gdes", "electric"):
        kwargs[switch] = bool(getattr(config, switch))
    if config.unigram_generator:
        from keras_electra.data.pretraining_builder import read_token_counts
        from keras_electra.training.config import ConfigError, token_counts_path

        path = token_counts_path(config.train_path)
        if not os.path.isfile(path):
            raise ConfigError(f"--unigram_generator: {path} not found (the train split's token "
                              "counts); re-run `keras-electra prepare` (--overwrite for data "
                              "prepared by an older version).")
        vocabulary_size = (tokenizer.vocabulary_size() if tokenizer is not None
                           else model_vocabulary_size(config, None))
        kwargs["unigram_generator"] = read_token_counts(path, vocabulary_size)
    if tokenizer is not None:
        # No preprocessor on the model: Task.fit would map it over our id batches.
        # The tokenizer is saved next to the exported presets instead.
        kwargs["vocabulary_size"] = tokenizer.vocabulary_size()
        for key in ("cls", "sep", "mask", "pad"):
            kwargs[f"{key}_token_id"] = int(getattr(tokenizer, f"{key}_token_id"))
    if config.init_from:
        from keras_electra.training import init_from

        return init_from.build_pretrainer(config, tokenizer, kwargs, architecture)
    keras.utils.set_random_seed(config.seed)
    return ElectraPretrainer.from_preset(f"electra_{config.model_size}", **kwargs)


def make_optimizer(config):
    """The optimizer (with its warm-up + decay schedule and clipping) a `PretrainConfig`
    describes, as `keras-electra pretrain` compiles the model with."""
    from keras_electra.optimizers import create_optimizer

    return create_optimizer(
        config.learning_rate, total_steps=config.total_steps, warmup_steps=config.warmup_steps,
        end_learning_rate=config.end_learning_rate,
        decay_power=config.learning_rate_decay_power, weight_decay=config.weight_decay,
        beta_1=config.beta_1, beta_2=config.beta_2, epsilon=config.epsilon,
        max_grad_norm=config.max_grad_norm, optimizer=config.optimizer,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        schedule=config.resolved_schedule,
    )


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


def _check_output_dir(path, flag):
    """Fail now, not at the first write hours later, if `path` cannot become a writable dir.

    Creates nothing: the path must be a writable directory, or its nearest existing ancestor
    must be one (so `os.makedirs` will succeed later).
    """
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

    from keras_electra.training import checkpointing, distribute

    # The runtime first: MWMS and logical devices must exist before any TF op runs.
    runtime = distribute.set_up_runtime(jax_prng=config.jax_prng)
    vocab_file = find_vocab_file(config)
    if config.init_from:  # the source's vocabulary against the data, before any work
        from keras_electra.training import init_from

        vocab_file = init_from.check_vocabulary(config, vocab_file)
    _check_inputs(config, vocab_file, runtime.is_chief)
    # one run per checkpoint dir (and worker): before anything in it is cleaned up or read
    with checkpointing.checkpoint_dir_lock(config.checkpoint_root, runtime.process_index):
        return _train(config, runtime, vocab_file, list(callbacks or []), started)


def model_vocabulary_size(config, vocab_file):
    """The vocabulary size the model will have: `--vocab_file`'s, else the preset's."""
    if vocab_file:
        from keras_electra.utils.vocab_file import read_vocabulary_file

        return len(read_vocabulary_file(vocab_file))
    from keras_electra.models.electra_presets import ARCHITECTURE_PRESETS

    return ARCHITECTURE_PRESETS[f"electra_{config.model_size}"]["backbone"]["vocabulary_size"]


def _check_inputs(config, vocab_file, is_chief):
    """Shards (prepare manifest, schema, sequence length) and output dirs, before any work."""
    from keras_electra.training import pretraining_input as inputs

    vocabulary_size = model_vocabulary_size(config, vocab_file)
    inputs.check_manifest(config.train_path, "--train_dir", vocab_file, config.max_seq_length)
    inputs.check_shards(config.train_path, config.max_seq_length, "--train_dir", vocabulary_size)
    if config.val_dir:
        inputs.check_manifest(config.val_path, "--val_dir", vocab_file, config.max_seq_length)
        inputs.check_shards(config.val_path, config.max_seq_length, "--val_dir", vocabulary_size)
    if config.unigram_generator:  # its counts, before any model is built
        from keras_electra.data.pretraining_builder import read_token_counts
        from keras_electra.training.config import token_counts_path

        read_token_counts(token_counts_path(config.train_path), vocabulary_size)
    from keras_electra.utils.output_dirs import check_output_not_input

    inputs = [("--train_dir", config.train_path), ("--val_dir", config.val_path),
              ("--vocab_file", vocab_file), ("--checkpoint_path", config.checkpoint_path)]
    for path, flag in ((config.checkpoint_root, "--checkpoint_dir"),
                       (config.log_path, "--log_dir"), (config.export_root, "--export_dir")):
        try:
            check_output_not_input(path, inputs, flag, "checkpoints, logs and presets",
                                   refuse=("is", "is inside"))
        except ValueError as error:
            raise ConfigError(str(error)) from None
    _check_output_dir(config.checkpoint_root, "--checkpoint_dir")
    if is_chief:
        _check_output_dir(config.log_path, "--log_dir")
        _check_output_dir(config.export_root, "--export_dir")


def _train(config, runtime, vocab_file, user_callbacks, started):
    """`pretrain` once the inputs are checked and the checkpoint dir is locked."""
    import keras

    from keras_electra.training import callbacks as cb
    from keras_electra.training import checkpointing, resume
    from keras_electra.training.metrics_sink import MetricsSink

    _warn_precision(config)
    keras.config.set_dtype_policy(config.precision)
    logger.info("strategy: %s, %d replica(s), process %d of %d",
                type(runtime.strategy).__name__, runtime.num_replicas, runtime.process_index,
                runtime.num_processes)
    manager = checkpointing.CheckpointManager(config.checkpoint_root, config.keep_checkpoints,
                                              runtime.process_index)
    manager.cleanup_partial()
    resume_path, resume_state = resume.find_resume_point(config, manager, runtime.strategy)
    inputs = resume.input_fingerprints(config, vocab_file)
    # a resume of this run (its own --checkpoint_dir) must see the same input files; a start
    # from another run's checkpoint (--load_from checkpoint) may bring new data
    own = resume_path is not None and os.path.abspath(resume_path).startswith(
        os.path.abspath(config.checkpoint_root) + os.sep)
    config = resume.settle_config(config, runtime.num_processes, resume_state,
                                  inputs if own else None)
    global_batch = config.per_gpu_batch_size * runtime.num_replicas
    val_batches = _validation_batches(config, global_batch)
    run_name = _run_name(config, runtime, resume_state)
    tokenizer = _make_tokenizer(vocab_file)
    model = _build_model(config, runtime, tokenizer, (resume_state or {}).get("architecture"))
    resumed_from, consumed = resume.restore(model, resume_path, runtime.strategy,
                                            runtime.process_index, run_name)
    remaining = resume.remaining_updates(config, resumed_from)
    train_ds, val_ds = _make_datasets(config, runtime, global_batch, consumed, val_batches,
                                      int(model.backbone.vocabulary_size))

    sink = MetricsSink(config.log_path, run_name, is_chief=runtime.is_chief)
    counter = resume.BatchCounter(consumed)
    saver = _Saver(config, manager, model, run_name, tokenizer, runtime.is_chief, counter,
                   resume_path, resumed_from)
    saver.inputs = inputs
    fit_callbacks, logger_cb, validation_cb, watchdog = _make_callbacks(
        config, runtime, global_batch, sink, counter, saver, val_ds, val_batches, tokenizer,
        resumed_from, user_callbacks)
    try:
        logs = _fit(model, train_ds, config, fit_callbacks, logger_cb, watchdog, remaining,
                    resumed_from, consumed)
    except Exception as error:  # the in-pipeline token id check: one line naming the shards
        from keras_electra.data.pretraining_dataset import token_id_error

        converted = token_id_error(error, config.train_path, model.backbone.vocabulary_size)
        if converted is None:
            raise
        raise converted from None
    final_step = cb.to_int(model.optimizer.iterations)
    saver.final(final_step)
    sink.close()
    if runtime.is_chief:
        print(f"keras-electra: {run_name} finished at step {final_step}; checkpoint "
              f"{saver.last_checkpoint['path']}; discriminator preset "
              f"{saver.presets['discriminator']}", flush=True)
    return PretrainResult(
        run_name=run_name, step=final_step, resumed_from_step=resumed_from,
        checkpoint_path=saver.last_checkpoint["path"],
        discriminator_preset=saver.presets["discriminator"],
        generator_preset=saver.presets["generator"],
        log_dir=os.path.join(config.log_path, run_name), logs=logs,
        validation=list(validation_cb.history) if validation_cb else [],
        seconds=time.time() - started,
    )


def _validation_batches(config, global_batch):
    """Validation batches per validation (0: no validation)."""
    from keras_electra.training import pretraining_input as inputs

    if not (config.val_dir and config.validation_frequency):
        return 0
    return inputs.validation_batches(config, global_batch, config.data_readers)


def _run_name(config, runtime, resume_state):
    """--run_name, else the resumed checkpoint's, else `default_run_name` (worker 0's clock)."""
    from keras_electra.training import distribute

    timestamp = distribute.agree_on_int(runtime.strategy, int(time.time()))
    return (config.run_name or (resume_state or {}).get("run_name")
            or default_run_name(config, runtime.num_replicas, timestamp))


def _make_tokenizer(vocab_file):
    if not vocab_file:
        return None
    from keras_electra.models.electra_tokenizer import ElectraTokenizer

    return ElectraTokenizer(vocabulary=vocab_file, lowercase=True, strip_accents=True)


def _build_model(config, runtime, tokenizer, architecture=None):
    """The compiled pretrainer, its optimizer variables created (so a checkpoint can load)."""
    from keras_electra.training import checkpointing

    with runtime.scope():
        model = build_pretrainer(config, tokenizer, architecture)
        model.compile(optimizer=make_optimizer(config),
                      steps_per_execution=config.steps_per_execution)
        checkpointing.build_optimizer_for(model)
    logger.info("model and optimizer built")
    return model


def _make_datasets(config, runtime, global_batch, consumed, val_batches, vocabulary_size=None):
    """(training stream `consumed` global batches in, validation batches or None)."""
    from keras_electra.training import pretraining_input as inputs

    layout = (global_batch, config.data_readers, runtime.num_processes, runtime.process_index)
    train_ds = inputs.train_dataset(config, runtime.strategy, *layout, skip_batches=consumed,
                                    vocabulary_size=vocabulary_size)
    val_ds = None
    if val_batches:
        val_ds = inputs.validation_dataset(config, runtime.strategy, *layout, val_batches,
                                           vocabulary_size=vocabulary_size)
    return train_ds, val_ds


class _Saver:
    """The run's checkpoints (every worker) and preset exports (the chief); remembers the newest
    of each (`last_checkpoint` is shared with `StopOnNonFiniteLoss`, which names it)."""

    def __init__(self, config, manager, model, run_name, tokenizer, is_chief, counter,
                 resume_path, resumed_from):
        self.config, self.manager, self.model, self.run_name = config, manager, model, run_name
        self.tokenizer, self.is_chief, self.counter = tokenizer, is_chief, counter
        self.last_checkpoint = {"path": resume_path,
                                "step": resumed_from if resume_path else None}
        self.presets = {"discriminator": None, "generator": None}

    def save(self, step):
        from keras_electra.training import resume

        path = resume.save(self.manager, self.model, step, self.counter.consumed, self.config,
                           self.run_name, getattr(self, "inputs", None))
        self.last_checkpoint.update(path=path, step=step)
        if self.is_chief:
            logger.info("checkpoint %s; presets %s", path, self.export(step))

    def export(self, step):
        from keras_electra.training import checkpointing

        paths = checkpointing.export_presets(self.model, self.config.export_root, self.run_name,
                                             step, max_to_keep=self.config.keep_checkpoints,
                                             tokenizer=self.tokenizer)
        self.presets.update(discriminator=paths[0], generator=paths[1])
        return paths

    def final(self, step):
        """After `fit`: checkpoint `step` unless it is saved, presets unless exported."""
        if self.last_checkpoint["step"] != step:
            self.save(step)
        elif self.presets["discriminator"] is None and self.is_chief:
            self.export(step)


def _make_callbacks(config, runtime, global_batch, sink, counter, saver, val_ds, val_batches,
                    tokenizer, resumed_from, user_callbacks):
    """(the `fit` callbacks in `resume.ordered_callbacks` order, logger, validation or None,
    watchdog). They count batches on the host and work between two executions: no model read
    between their frequencies (see callbacks.py)."""
    from math import gcd

    from keras_electra.training import callbacks as cb
    from keras_electra.training import resume

    logger_cb = cb.TrainingLogger(
        sink, config.log_frequency, global_batch * config.max_seq_length, config.total_steps,
        initial_step=resumed_from, is_chief=runtime.is_chief, progress=config.progress)
    # the guard checks wherever the metrics are reset or a checkpoint is written
    check_every = gcd(config.log_frequency, config.checkpoint_frequency,
                      config.validation_frequency if val_ds is not None else 0)
    guard = cb.StopOnNonFiniteLoss(saver.last_checkpoint, check_every,
                                   config.checkpoint_frequency)
    validation_cb = None
    if val_ds is not None:
        validation_cb = cb.ValidationCallback(
            val_ds, val_batches, config.validation_frequency, sink, tokenizer, runtime.is_chief,
            cue_free=_cue_free_evaluator(config, runtime))
    watchdog = cb.StepWatchdog(config.step_timeout_s)
    ordered = resume.ordered_callbacks(
        guard, counter, logger_cb, validation_cb,
        cb.CheckpointCallback(config.checkpoint_frequency, saver.save), user_callbacks, watchdog)
    return ordered, logger_cb, validation_cb, watchdog


def _cue_free_evaluator(config, runtime):
    """callable(model) -> `rtd_cues.cue_free_evaluation` on fixed host batches (read once, on
    first use), or None when `--cue_free_batches 0` or the run has several processes (the
    forward passes run outside the distributed step, on this process's devices only)."""
    if not config.cue_free_batches:
        return None
    if runtime.num_processes > 1:
        logger.info("--cue_free_batches: skipped (%d processes); evaluate a checkpoint with "
                    "keras_electra.evaluation.rtd_cues instead", runtime.num_processes)
        return None
    from keras_electra.data.pretraining_dataset import pretraining_dataset
    from keras_electra.evaluation.rtd_cues import cue_free_evaluation

    batches = {}
    # the first count x per_gpu_batch_size rows in file order, read (and run eagerly) in
    # chunks of up to 32k tokens: a few large forward passes instead of many small ones
    chunk = max(1, 32768 // (config.per_gpu_batch_size * config.max_seq_length))

    def host_batches(path, count):
        import numpy as np

        dataset = pretraining_dataset(path, config.per_gpu_batch_size, config.max_seq_length,
                                      shuffle=False, repeat=False, num_batches=count,
                                      verify=False)
        read = list(dataset.as_numpy_iterator())
        if not read:
            raise ConfigError(f"--cue_free_batches: {path} holds less than one batch of "
                              f"{config.per_gpu_batch_size} rows; use --cue_free_batches 0")
        return [{key: np.concatenate([b[key] for b in read[i:i + chunk]])
                 for key in read[0]} for i in range(0, len(read), chunk)]

    def evaluate(model):
        if not batches:
            batches["eval"] = host_batches(config.val_path, config.cue_free_batches)
            batches["fit"] = host_batches(config.train_path, 4 * config.cue_free_batches)
        return cue_free_evaluation(model, batches["eval"], batches["fit"])

    return evaluate


def _fit(model, train_ds, config, fit_callbacks, logger_cb, watchdog, remaining, resumed_from,
         consumed):
    """`model.fit` over the `remaining` updates; returns the last logged metrics ({} if none)."""
    logger.info("training steps %d..%d (%d batches already consumed)", resumed_from + 1,
                config.stop_after_steps or config.total_steps, consumed)
    if not remaining:
        return {}
    try:
        history = model.fit(
            train_ds, epochs=1, steps_per_epoch=remaining * config.gradient_accumulation_steps,
            verbose=0, shuffle=False, callbacks=fit_callbacks)
    finally:  # also when fit raises (non-finite loss, Ctrl-C): no timer left behind
        watchdog.on_train_end()
    del history  # its epoch-end values can include the last validation's
    return dict(logger_cb.last_logs)
