"""The pretraining driver's input: `data.pretraining_dataset` laid out over processes.

`data/pretraining_dataset.py` is the one pretraining reader; this module only decides, for the
running job, how many readers there are, which ones this process runs, and how the batches
reach the engine:

- JAX (one or many processes): a plain `tf.data.Dataset` of this process's local rows of every
  global batch; Keras' `DataParallel(auto_shard_dataset=False)` assembles the global batch.
- TensorFlow with a strategy over several replicas (MirroredStrategy, MWMS):
  `strategy.distribute_datasets_from_function`, one input pipeline per worker, each local batch
  split into consecutive per-replica pieces, so replica `i` holds global rows `i*b..(i+1)*b-1`
  (where the pretrainer's per-row noise expects them).
- TensorFlow on one device: the plain dataset.

In every case the global batches equal those of one device reading with the same number of
readers (`--data_readers`).
"""

from keras_electra.training.config import ConfigError


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


def check_shards(path, sequence_length, flag):
    """Schema and length of every shard's first record; ConfigError naming the file if wrong."""
    from keras_electra.data.pretraining_dataset import check_shards as check

    try:
        return check(path, sequence_length)
    except (ValueError, FileNotFoundError) as error:
        raise ConfigError(f"{flag}: {error}") from None


def _build(strategy, make):
    """`make(input_context or None)` as the engine wants it (see module docstring)."""
    import keras

    if keras.backend.backend() == "tensorflow" and strategy is not None \
            and strategy.num_replicas_in_sync > 1:
        return strategy.distribute_datasets_from_function(make)
    return make(None)


def train_dataset(config, strategy, global_batch, num_readers, num_processes, process_index,
                  skip_batches=0):
    """The training stream (repeated, seeded shuffle), `skip_batches` global batches in."""
    from keras_electra.data.pretraining_dataset import pretraining_dataset

    def make(context):
        return pretraining_dataset(
            config.train_path, global_batch, config.max_seq_length, shuffle=True, repeat=True,
            seed=config.seed, num_readers=num_readers, num_processes=num_processes,
            process_index=process_index, input_context=context, skip_batches=skip_batches,
            shuffle_buffer=max(1, config.shuffle_buffer), verify=False)

    try:
        return _build(strategy, make)
    except (ValueError, FileNotFoundError) as error:
        raise ConfigError(f"--train_dir {config.train_path}: {error}") from None


def validation_batches(config, global_batch, num_readers):
    """Validation batches per validation: `--validation_steps`, or fewer if the set is small.

    Every process counts the same files, so all agree. ConfigError (before any training) when
    the validation set does not fill one global batch.
    """
    from keras_electra.data.pretraining_dataset import count_examples, count_global_batches

    try:
        available = count_global_batches(config.val_path, global_batch, num_readers)
    except (ValueError, FileNotFoundError) as error:
        raise ConfigError(f"--val_dir {config.val_path}: {error}") from None
    if available == 0:
        raise ConfigError(
            f"--val_dir {config.val_path}: {count_examples(config.val_path)} example(s) do not "
            f"fill one global batch of {global_batch} rows over {num_readers} reader(s); "
            "prepare a larger validation split (--val-fraction), lower --per_gpu_batch_size, "
            "or drop --val_dir.")
    return min(int(config.validation_steps), available)


def validation_dataset(config, strategy, global_batch, num_readers, num_processes,
                       process_index, num_batches):
    """The first `num_batches` global batches of the validation shards, in file order, cached."""
    from keras_electra.data.pretraining_dataset import pretraining_dataset

    def make(context):
        return pretraining_dataset(
            config.val_path, global_batch, config.max_seq_length, shuffle=False, repeat=False,
            num_readers=num_readers, num_processes=num_processes, process_index=process_index,
            input_context=context, num_batches=num_batches, verify=True).cache()

    try:
        return _build(strategy, make)
    except (ValueError, FileNotFoundError) as error:
        raise ConfigError(f"--val_dir {config.val_path}: {error}") from None
