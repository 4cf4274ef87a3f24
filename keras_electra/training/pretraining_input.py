"""The pretraining driver's input: `data.pretraining_dataset` laid out over processes.

`data/pretraining_dataset.py` is the one pretraining reader; this module only decides, for the
running job, which readers this process runs (how many there are: `resume.resolve_data_readers`)
and how the batches reach the engine:

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
from keras_electra.utils.flag_checks import MAX_POSITIONS


def check_shards(path, sequence_length, flag, vocabulary_size=None):
    """Schema and length of every shard's first record (and its token ids against
    `vocabulary_size`, whatever metadata is present); ConfigError naming the file if wrong."""
    from keras_electra.data.pretraining_dataset import check_shards as check
    from keras_electra.data.pretraining_dataset import list_shard_files

    try:
        schema, length = check(path, None, vocabulary_size=vocabulary_size)
    except (ValueError, FileNotFoundError) as error:
        raise ConfigError(f"{flag}: {error}") from None
    if length > MAX_POSITIONS:
        raise ConfigError(
            f"{flag}: {list_shard_files(path)[0]}: examples have length {length}, more than "
            f"the {MAX_POSITIONS} positions of any ELECTRA model; no model can train on them. "
            f"Prepare the data again with --max_seq_length <= {MAX_POSITIONS} (G: 128 for "
            "Small, 512 for Base/Large).")
    if length != sequence_length:
        raise ConfigError(
            f"{flag}: {list_shard_files(path)[0]}: examples have length {length}, but "
            f"--max_seq_length is {sequence_length}; pass --max_seq_length {length} (or "
            f"prepare the data with --max_seq_length {sequence_length}).")
    return schema, length


def rebuild_command(inputs, vocab_file, folder, sequence_length):
    """The `prepare` command that rebuilds `folder` (one `--input` per file: the flag takes
    one value and is repeated; many files of one directory as one quoted glob)."""
    import os
    import shlex

    files = [entry[0] if isinstance(entry, (list, tuple)) else entry for entry in inputs]
    if len(files) > 4 and len({os.path.dirname(f) for f in files}) == 1:
        files = [os.path.join(os.path.dirname(files[0]), "*")]
    given = " ".join(f"--input {shlex.quote(f)}" for f in files) or "--input CORPUS"
    if sequence_length is None or int(sequence_length) > MAX_POSITIONS:
        sequence_length = 128
    return (f"keras-electra prepare {given} --vocab_file {shlex.quote(vocab_file or 'VOCAB')} "
            f"--output_dir {shlex.quote(folder)} --max_seq_length {sequence_length} "
            "--overwrite")


def check_manifest(path, flag, vocab_file, sequence_length):
    """Refuse shards whose `prepare` manifest disagrees with this run (before any model).

    `prepare` writes `manifest.json` beside `train/` and `val/` with the vocabulary's sha256 and
    the sequence length. Shards tokenized with another vocabulary would train silently on ids
    that mean other tokens, and presets would ship the wrong tokenizer. Shards without a
    manifest (other tools) are not checked. Raises ConfigError naming both sides and the
    command that rebuilds the shards.
    """
    import json
    import os

    from keras_electra.data.pretraining_dataset import shard_manifest_path

    manifest_path = shard_manifest_path(path)
    folder = os.path.dirname(manifest_path)
    if not os.path.isfile(manifest_path):
        return None
    try:
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
        config = manifest["config"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{flag}: {manifest_path} is not a readable prepare manifest "
                          f"({error}); re-create the shards with `keras-electra prepare`.") from None
    rebuild = rebuild_command(config.get("inputs", []), vocab_file, folder, sequence_length)
    if not manifest.get("complete", False):
        raise ConfigError(f"{flag}: {manifest_path} says `prepare` did not finish; its shards may "
                          f"be partial. Run it again: {rebuild}")
    # shard sizes recorded by `prepare`: a copy cut between two records passes every
    # framing and CRC check, but not this
    inside = os.path.abspath(path) + os.sep
    for name, expected in sorted((manifest.get("shard_bytes") or {}).items()):
        shard = os.path.abspath(os.path.join(folder, name))
        if not shard.startswith(inside):
            continue
        actual = os.path.getsize(shard) if os.path.isfile(shard) else None
        if actual != expected:
            state = "is missing" if actual is None else f"has {actual} bytes"
            raise ConfigError(
                f"{flag}: {shard} {state}, but {manifest_path} recorded {expected} bytes when "
                f"`prepare` wrote it (truncated or modified copy?). Copy the shards again, or "
                f"rebuild them: {rebuild}")
    if vocab_file and config.get("vocab_sha256"):
        from keras_electra.data.vocab import load_vocabulary, vocabulary_fingerprint

        try:
            ours = vocabulary_fingerprint(load_vocabulary(vocab_file))
        except (ValueError, OSError) as error:
            raise ConfigError(f"--vocab_file {vocab_file}: {error}") from None
        if ours != config["vocab_sha256"]:
            raise ConfigError(
                f"{flag}: the shards were tokenized with another vocabulary than --vocab_file "
                f"{vocab_file} (manifest {manifest_path}: vocab sha256 "
                f"{config['vocab_sha256'][:12]}..., {vocab_file}: {ours[:12]}...). Pass the "
                f"vocabulary the shards were built with, or rebuild them: {rebuild}")
    saved_length = config.get("max_seq_length")
    if saved_length is not None and int(saved_length) > MAX_POSITIONS:
        raise ConfigError(
            f"{flag}: the shards were built with --max_seq_length {saved_length} "
            f"({manifest_path}), more than the {MAX_POSITIONS} positions of any ELECTRA model; "
            f"no model can train on them. Rebuild them: {rebuild}")
    if saved_length is not None and int(saved_length) != int(sequence_length):
        raise ConfigError(
            f"{flag}: the shards were built with --max_seq_length {saved_length} ({manifest_path}) "
            f"but --max_seq_length is {sequence_length}; pass --max_seq_length {saved_length}, "
            f"or rebuild them: {rebuild}")
    return config


def _build(strategy, make):
    """`make(input_context or None)` as the engine wants it (see module docstring)."""
    import keras

    if keras.backend.backend() == "tensorflow" and strategy is not None \
            and strategy.num_replicas_in_sync > 1:
        return strategy.distribute_datasets_from_function(make)
    return make(None)


def train_dataset(config, strategy, global_batch, num_readers, num_processes, process_index,
                  skip_batches=0, vocabulary_size=None):
    """The training stream (repeated, seeded shuffle), `skip_batches` global batches in; with
    `vocabulary_size`, every batch's token ids are checked in the pipeline."""
    from keras_electra.data.pretraining_dataset import pretraining_dataset

    def make(context):
        return pretraining_dataset(
            config.train_path, global_batch, config.max_seq_length, shuffle=True, repeat=True,
            seed=config.seed, num_readers=num_readers, num_processes=num_processes,
            process_index=process_index, input_context=context, skip_batches=skip_batches,
            shuffle_buffer=max(1, config.shuffle_buffer), verify=False,
            vocabulary_size=vocabulary_size)

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
            "prepare a larger validation split (--val_fraction), lower --per_gpu_batch_size, "
            "or drop --val_dir.")
    return min(int(config.validation_steps), available)


def validation_dataset(config, strategy, global_batch, num_readers, num_processes,
                       process_index, num_batches, vocabulary_size=None):
    """The first `num_batches` global batches of the validation shards, in file order, cached.

    No CRC pass here: `validation_batches` has just read every record to count them.
    """
    from keras_electra.data.pretraining_dataset import pretraining_dataset

    def make(context):
        return pretraining_dataset(
            config.val_path, global_batch, config.max_seq_length, shuffle=False, repeat=False,
            num_readers=num_readers, num_processes=num_processes, process_index=process_index,
            input_context=context, num_batches=num_batches, verify=False,
            vocabulary_size=vocabulary_size).cache()

    try:
        return _build(strategy, make)
    except (ValueError, FileNotFoundError) as error:
        raise ConfigError(f"--val_dir {config.val_path}: {error}") from None
