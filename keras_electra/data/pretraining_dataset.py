"""tf.data reader for pretraining shards -> ElectraBackbone inputs.

Reads G's schema (`input_ids`, `input_mask`, `segment_ids`; written by `prepare` and by
google-research/electra's `build_pretraining_dataset.py`) and the AWS scripts' schema
(`input_ids`, `token_type_ids`, `attention_mask`), detected from the first record. Yields dicts
`{"token_ids", "segment_ids", "padding_mask"}` of int32 `(batch, sequence_length)`, the input
names of `ElectraBackbone`.
"""

import os

from keras_electra.utils.errors import UserError

G_SCHEMA = {"token_ids": "input_ids", "padding_mask": "input_mask", "segment_ids": "segment_ids"}
AWS_SCHEMA = {
    "token_ids": "input_ids", "padding_mask": "attention_mask", "segment_ids": "token_type_ids",
}
SCHEMAS = {"google": G_SCHEMA, "aws": AWS_SCHEMA}


class CorruptRecordError(UserError, ValueError):
    """A TFRecord file is corrupt or truncated (the message names the file)."""


class TokenIdError(UserError, ValueError):
    """A shard holds token ids outside the model's vocabulary (the message names the file)."""


# The in-pipeline check's message starts with this, so a driver can turn TensorFlow's
# InvalidArgumentError into a `TokenIdError` (`token_id_error`).
TOKEN_ID_MARKER = "keras-electra token id check:"


def _out_of_vocabulary(where, token_id, vocabulary_size):
    return TokenIdError(
        f"{where}: token id {token_id} is outside the vocabulary of {vocabulary_size} ids "
        f"(0..{vocabulary_size - 1}): the shards were tokenized with another (larger) "
        "vocabulary. Pass the vocabulary the shards were built with (--vocab_file), or rebuild "
        "them with this one: keras-electra prepare ... --vocab_file VOCAB --overwrite")


def check_token_ids(path, record, schema_name, vocabulary_size, number=1):
    """Raise `TokenIdError` naming `path` if a token id of the serialized record is outside
    `[0, vocabulary_size)` (XLA's gather would clamp it silently)."""
    from tensorflow.core.example import example_pb2

    values = example_pb2.Example.FromString(record).features.feature[
        SCHEMAS[schema_name]["token_ids"]].int64_list.value
    bad = [v for v in values if v < 0 or v >= vocabulary_size]
    if bad:
        raise _out_of_vocabulary(f"{path}: record {number}", bad[0], vocabulary_size)


def token_id_error(error, file_pattern, vocabulary_size):
    """The `TokenIdError` for TensorFlow's error from the in-pipeline check, else None."""
    message = getattr(error, "message", str(error))
    if TOKEN_ID_MARKER not in message:
        return None
    return _out_of_vocabulary(f"shards {file_pattern}: a record read during training",
                              "out of range", vocabulary_size)


def list_shard_files(file_pattern):
    """Sorted shard files for a glob, a comma-separated list of globs, a list, or a directory.

    A `prepare` output directory resolves to its `train/` shards; any other directory to the
    `*.tfrecord*` files in it. Temporary (`.tmp-`) and hidden files are left out. The one
    shard lister: `pretrain`'s flag checks (`training/config.py`) use it too.
    """
    import tensorflow as tf

    patterns = file_pattern
    if isinstance(patterns, (str, os.PathLike)):
        patterns = [p for p in str(patterns).split(",") if p.strip()]
    files = []
    for pattern in patterns:
        pattern = str(pattern).strip()
        if tf.io.gfile.isdir(pattern):
            train_dir = os.path.join(pattern, "train")
            if tf.io.gfile.isdir(train_dir):
                pattern = train_dir
            pattern = os.path.join(pattern, "*.tfrecord*")
        matches = [
            m for m in tf.io.gfile.glob(pattern)
            if ".tmp-" not in os.path.basename(m) and not os.path.basename(m).startswith(".")
            and not tf.io.gfile.isdir(m)
        ]
        if not matches:
            raise FileNotFoundError(
                f"no TFRecord files match {pattern!r}; run `keras-electra prepare` first or "
                "check the path (quote globs so the shell does not expand them)"
            )
        files.extend(matches)
    return sorted(set(files))


def shard_manifest_path(shard_dir):
    """Where `prepare` records a shard folder's manifest: `manifest.json` beside `train/` and
    `val/` (whether or not it exists)."""
    return os.path.join(os.path.dirname(os.path.abspath(shard_dir)), "manifest.json")


def _corrupt(path, what):
    return CorruptRecordError(
        f"{path}: {what}. Re-create it (`keras-electra prepare ... --overwrite`) or remove it "
        "from the file pattern.")


def check_framing(path):
    """Walk the TFRecord framing of `path` (the 12-byte headers only, not the data) and raise
    `CorruptRecordError` if it is not a TFRecord file or is cut short.

    A TFRecord is `uint64 length, uint32 crc(length), data[length], uint32 crc(data)`, repeated
    to the end of the file. A file cut inside a record, or a file of another kind (whose first
    "length" points far beyond its end), fails here in about a microsecond per record, without
    reading the data. (A file cut exactly between two records is caught by `prepare`'s manifest,
    which records every shard's size; the CRCs are checked when the data is read.)

    Returns:
        The number of records.
    """
    import mmap
    import struct

    size = os.path.getsize(path)
    if size == 0:
        return 0
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        position, records, unpack = 0, 0, struct.Struct("<Q").unpack_from
        while position < size:
            if position + 12 > size:
                raise _corrupt(path, f"truncated TFRecord file: {size} bytes end inside the "
                                     f"header of record {records + 1} (at byte {position})")
            end = position + 16 + unpack(data, position)[0]
            if end > size:
                what = ("not a TFRecord file: its first record header is not one"
                        if records == 0 else
                        f"truncated TFRecord file: record {records + 1} (at byte {position}) "
                        f"needs {end} bytes but the file has {size}")
                raise _corrupt(path, what)
            position, records = end, records + 1
    return records


def _records(path, first_only=False):
    """The serialized records of `path` (CRC-checked by TensorFlow); `CorruptRecordError`
    naming the file if it is corrupt or truncated."""
    import tensorflow as tf

    check_framing(path)
    dataset = tf.data.TFRecordDataset(path)
    try:
        for record in (dataset.take(1) if first_only else dataset):
            yield record.numpy()
    except tf.errors.DataLossError as error:
        raise _corrupt(path, f"corrupt or truncated TFRecord file ({error.message.strip()})") \
            from None


def count_examples(file_pattern):
    """Number of records in the matching files (reads them all; names a corrupt file).

    Example:
    ```python
    from keras_electra.data import count_examples

    count_examples("pretrain_data/train/*")  # e.g. 15628
    ```
    """
    return sum(sum(1 for _ in _records(path)) for path in list_shard_files(file_pattern))


def inspect_record(path, record):
    """`(schema_name, sequence_length)` of one serialized `tf.train.Example` from `path`."""
    from tensorflow.core.example import example_pb2

    try:
        example = example_pb2.Example.FromString(record)
    except Exception:
        raise CorruptRecordError(f"{path}: a record is not a serialized tf.train.Example") from None
    features = example.features.feature
    for name, schema in SCHEMAS.items():
        if all(key in features for key in schema.values()):
            lengths = {key: len(features[key].int64_list.value) for key in schema.values()}
            if len(set(lengths.values())) != 1 or not all(
                features[key].HasField("int64_list") for key in schema.values()
            ):
                raise ValueError(
                    f"{path}: features {sorted(schema.values())} must be int64 lists of one "
                    f"length; got lengths {lengths}"
                )
            return name, next(iter(lengths.values()))
    raise ValueError(
        f"{path}: unknown pretraining schema, features {sorted(features)}. Expected G's "
        f"{sorted(G_SCHEMA.values())} (keras-electra prepare, google-research/electra) or the "
        f"AWS scripts' {sorted(AWS_SCHEMA.values())}."
    )


def _check_files(files, sequence_length, verify, vocabulary_size=None):
    """Schema and sequence length of the files; with `verify`, read every record (CRC check).
    With `vocabulary_size`, the token ids of the records read are checked against it."""
    schema = None
    for path in files:
        first = None
        records = _records(path, first_only=not verify)
        for number, record in enumerate(records, start=1):
            if first is None:
                first = record
                name, length = inspect_record(path, first)
            if vocabulary_size is not None:
                check_token_ids(path, record, name, vocabulary_size, number)
            if not verify:
                break
        if first is None:
            continue  # an empty shard
        if schema is None:
            schema = (name, length, path)
        elif (name, length) != schema[:2]:
            raise ValueError(
                f"{path}: schema {name!r} with sequence length {length}, but {schema[2]} has "
                f"{schema[0]!r} with length {schema[1]}; all files must match"
            )
    if schema is None:
        raise ValueError(f"all {len(files)} TFRecord files are empty (first: {files[0]})")
    if sequence_length is not None and schema[1] != sequence_length:
        raise ValueError(
            f"{schema[2]}: examples have sequence length {schema[1]} but sequence_length="
            f"{sequence_length} was requested; prepare the data with --max_seq_length "
            f"{sequence_length} or pass sequence_length={schema[1]}"
        )
    return schema[0], schema[1]


def check_shards(file_pattern, sequence_length=None, verify=False, vocabulary_size=None):
    """`(schema_name, sequence_length)` of the shards; ValueError naming the file if they differ.

    Checks the first record of every file (all records with `verify`), so a driver can refuse
    mismatched shards before it builds a model; with `vocabulary_size`, also their token ids
    (`TokenIdError` naming the file and record).
    """
    return _check_files(list_shard_files(file_pattern), sequence_length, verify,
                        vocabulary_size)


def _reader_seed(seed, reader):
    """Reader `reader`'s shuffle seed: independent streams, a pure function of (seed, reader)."""
    return None if seed is None else int(seed) * 1_000_003 + 7_919 * int(reader)


def _reader_dataset(tf, files, rows, shuffle, repeat, seed, shuffle_buffer, cycle_length):
    """One reader: its files -> (shuffled) serialized examples -> batches of `rows` strings."""
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.interleave(
        tf.data.TFRecordDataset,
        cycle_length=cycle_length or min(4, len(files)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=(not shuffle) or seed is not None,
    )
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(rows, drop_remainder=True)


def reader_layout(batch_size, num_readers, num_processes=1, process_index=0, num_files=None):
    """Which readers process `process_index` runs, and the rows each gives a global batch.

    The global batch is `num_readers` equal blocks of `batch_size // num_readers` rows, block
    `r` from reader `r`; process `p` of `P` runs readers `p * R / P ... (p + 1) * R / P - 1`,
    so its local batch is rows `p * B / P ... (p + 1) * B / P - 1` of the global batch.
    Raises ValueError (what, and how to fix it) when the numbers do not divide.

    Returns:
        `(readers, rows_per_reader)`: a `range` of reader indices and an int.
    """
    B, R, P = int(batch_size), int(num_readers), int(num_processes)
    if R < 1 or P < 1:
        raise ValueError(f"num_readers={R} and num_processes={P} must be >= 1")
    if not 0 <= process_index < P:
        raise ValueError(f"process_index={process_index} is not in [0, {P})")
    if R % P:
        raise ValueError(
            f"{R} data reader(s) cannot be split across {P} processes: --data_readers must be "
            f"a multiple of the number of processes (e.g. --data_readers {P * max(1, R // P)})")
    if B % R:
        raise ValueError(
            f"the global batch of {B} cannot be split into {R} equal reader blocks: make the "
            f"global batch a multiple of --data_readers {R}, or choose --data_readers dividing "
            f"{B}")
    if num_files is not None and num_files < R:
        raise ValueError(
            f"{num_files} shard file(s) cannot feed {R} data readers (each reader reads its own "
            f"files): prepare the data with --num_shards >= {R}, or use --data_readers "
            f"<= {num_files}")
    per_process = R // P
    return range(process_index * per_process, (process_index + 1) * per_process), B // R


def count_global_batches(file_pattern, batch_size, num_readers=1):
    """Full global batches in one unshuffled pass: `min_r floor(examples of reader r / rows)`.

    Every process computes the same number (it reads every file's record count), so all of them
    can `take` the same number of validation batches.
    """
    files = list_shard_files(file_pattern)
    _, rows = reader_layout(batch_size, num_readers, num_files=len(files))
    counts = [sum(1 for _ in _records(path)) for path in files]
    return min(sum(counts[r::num_readers]) // rows for r in range(num_readers))


def pretraining_dataset(
    file_pattern, batch_size, sequence_length=None, shuffle=True, repeat=True, seed=None,
    num_readers=1, num_processes=1, process_index=0, input_context=None, skip_batches=0,
    num_batches=None, shuffle_buffer=1000, cycle_length=None, verify=True,
    vocabulary_size=None,
):
    """A `tf.data.Dataset` of ElectraBackbone inputs from pretraining TFRecord shards.

    The one pretraining reader: `keras-electra pretrain`, the demo, the benchmarks and the
    notebooks all read through it.

    **One global stream, any number of processes.** The stream of *global* batches is a pure
    function of (files, `batch_size`, `seed`, `num_readers`, `shuffle_buffer`) and never of the
    number of processes or devices. It is built from `num_readers` independent readers: reader
    `r` reads files `r, r + R, ...` (file shuffle -> repeat -> interleave -> example shuffle,
    seeded per reader) and gives each global batch a block of `batch_size / R` rows; global
    batch `k` is the concatenation of every reader's batch `k`. Process `p` of `P` runs only
    readers `p R/P ... (p+1) R/P - 1` and yields its *local* batches: rows
    `p B/P ... (p+1) B/P - 1` of each global batch, which is how Keras' JAX trainer
    (`jax.make_array_from_process_local_data`) and tf.distribute lay a global batch over
    processes. So processes read disjoint files, no example is read twice per epoch across
    processes, and 1, 2 or R processes train on the same global batches.

    Pipeline per process: readers -> zip -> concatenate rows -> skip -> take -> parse ->
    int32 dict -> (split among local replicas) -> prefetch. The auto-shard policy is OFF:
    `tf.distribute` must not shard again.

    Args:
        file_pattern: glob / list / directory of shards (a `prepare` output dir means its
            `train/` shards).
        batch_size: int. The *global* batch size (all processes together).
        sequence_length: int or None. If given, must equal the examples' length.
        shuffle: shuffle files and examples (G: file shuffle + buffer; default 1000).
        repeat: repeat forever (training); False for one pass (evaluation): the stream then
            ends with the first reader that runs out of full blocks.
        seed: int or None, for the shuffles (deterministic order with a seed).
        num_readers: R, the readers the global batch is drawn from (>= 1; a multiple of the
            number of processes; at most the number of files; divides `batch_size`).
        num_processes, process_index: this process's place (JAX multi-process, or MWMS
            workers); local batches are `batch_size / num_processes` rows.
        input_context: a `tf.distribute.InputContext` (from
            `strategy.distribute_datasets_from_function`): sets the two arguments above, and
            splits each local batch into one consecutive piece per local replica, so replica
            `i` gets rows `i * b ... (i + 1) * b - 1` of the global batch (`b` = per-replica).
        skip_batches: global batches to skip (step-exact resume).
        num_batches: stop after this many global batches (None: no limit).
        shuffle_buffer: examples in each reader's shuffle buffer.
        cycle_length: files each reader reads concurrently (default `min(4, its files)`, as G).
        verify: read every record of this process's files once up front (CRC check), so a
            corrupt or truncated file is reported by name; False only checks first records.
        vocabulary_size: int or None. If given, the records checked up front are checked
            for token ids outside `[0, vocabulary_size)` (`TokenIdError` naming the file), and
            every batch is checked in the pipeline (a cheap `tf.debugging` assertion whose
            `InvalidArgumentError` message starts with `TOKEN_ID_MARKER`; `token_id_error`
            turns it into a `TokenIdError`): ids from another vocabulary never reach the
            model's embedding gather, which clamps them silently under XLA.

    Returns:
        A `tf.data.Dataset` of `{"token_ids", "segment_ids", "padding_mask"}`, int32
        `(local batch, sequence_length)`.

    Example:
    ```python
    from keras_electra.data import pretraining_dataset

    dataset = pretraining_dataset("pretrain_data/train/*", batch_size=32, seed=0)
    batch = next(iter(dataset))
    batch["token_ids"].shape  # (32, 128)
    # on host 1 of 2, the same global batches: rows 16..31 of each
    local = pretraining_dataset("pretrain_data/train/*", batch_size=32, seed=0,
                                num_readers=2, num_processes=2, process_index=1)
    ```
    """
    import tensorflow as tf

    files = list_shard_files(file_pattern)
    readers, rows, local_replicas = _local_layout(batch_size, num_readers, num_processes,
                                                  process_index, input_context, len(files))
    mine = [files[r::num_readers] for r in readers]
    schema_name, length = _check_files([f for group in mine for f in group], sequence_length,
                                       verify, vocabulary_size)
    streams = [
        _reader_dataset(tf, group, rows, shuffle, repeat, _reader_seed(seed, r),
                        shuffle_buffer, cycle_length)
        for r, group in zip(readers, mine)
    ]
    dataset = _global_batches(tf, streams, skip_batches, num_batches)
    dataset = dataset.map(_parser(tf, SCHEMAS[schema_name], length, vocabulary_size),
                          num_parallel_calls=tf.data.AUTOTUNE)
    return _finish_pipeline(tf, dataset, rows * len(readers), local_replicas)


def _local_layout(batch_size, num_readers, num_processes, process_index, input_context,
                  num_files):
    """`(this process's readers, rows per reader block, local replicas)`; `input_context`
    (tf.distribute) overrides the process arguments."""
    local_replicas = 1
    if input_context is not None:
        num_processes = input_context.num_input_pipelines
        process_index = input_context.input_pipeline_id
        local_replicas = input_context.num_replicas_in_sync // num_processes
    readers, rows = reader_layout(batch_size, num_readers, num_processes, process_index,
                                  num_files=num_files)
    local_batch = rows * len(readers)
    if local_batch % local_replicas:
        raise ValueError(f"a local batch of {local_batch} rows cannot be split among "
                         f"{local_replicas} local replicas")
    return readers, rows, local_replicas


def _global_batches(tf, streams, skip_batches, num_batches):
    """This process's rows of every global batch: the readers' blocks side by side, then
    `skip_batches` skipped and at most `num_batches` taken."""
    if len(streams) == 1:
        dataset = streams[0]
    else:
        dataset = tf.data.Dataset.zip(tuple(streams)).map(lambda *blocks: tf.concat(blocks, 0))
    if skip_batches:
        dataset = dataset.skip(int(skip_batches))
    if num_batches is not None:
        dataset = dataset.take(int(num_batches))
    return dataset


def _parser(tf, keys, length, vocabulary_size):
    """Serialized examples -> the int32 input dict (token ids checked in the graph against
    `vocabulary_size` when given)."""
    feature_spec = {key: tf.io.FixedLenFeature([length], tf.int64) for key in keys.values()}

    def parse(records):
        parsed = tf.io.parse_example(records, feature_spec)
        if vocabulary_size is not None:
            ids = parsed[keys["token_ids"]]
            checks = [
                tf.debugging.assert_less(ids, tf.constant(int(vocabulary_size), tf.int64),
                                         message=f"{TOKEN_ID_MARKER} id >= {vocabulary_size}"),
                tf.debugging.assert_non_negative(ids, message=f"{TOKEN_ID_MARKER} id < 0"),
            ]
            with tf.control_dependencies(checks):
                parsed[keys["token_ids"]] = tf.identity(ids)
        return {name: tf.cast(parsed[key], tf.int32) for name, key in keys.items()}

    return parse


def _finish_pipeline(tf, dataset, local_batch, local_replicas):
    """Split among local replicas, deterministic, no auto-sharding, prefetched."""
    if local_replicas > 1:
        dataset = dataset.rebatch(local_batch // local_replicas)
    options = tf.data.Options()
    options.deterministic = True
    # Each process reads only its readers' files; tf.distribute must not shard again.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    dataset = dataset.with_options(options)
    return dataset.prefetch(tf.data.AUTOTUNE)
