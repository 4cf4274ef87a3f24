"""tf.data reader for pretraining shards -> ElectraBackbone inputs.

Reads G's schema (`input_ids`, `input_mask`, `segment_ids`; written by `prepare` and by
google-research/electra's `build_pretraining_dataset.py`) and the AWS scripts' schema
(`input_ids`, `token_type_ids`, `attention_mask`), detected from the first record. Yields dicts
`{"token_ids", "segment_ids", "padding_mask"}` of int32 `(batch, sequence_length)`, the input
names of `ElectraBackbone`.
"""

import os

G_SCHEMA = {"token_ids": "input_ids", "padding_mask": "input_mask", "segment_ids": "segment_ids"}
AWS_SCHEMA = {
    "token_ids": "input_ids", "padding_mask": "attention_mask", "segment_ids": "token_type_ids",
}
SCHEMAS = {"google": G_SCHEMA, "aws": AWS_SCHEMA}


class CorruptRecordError(ValueError):
    """A TFRecord file is corrupt or truncated (the message names the file)."""


def list_shard_files(file_pattern):
    """Sorted shard files for a glob, a comma-separated list of globs, a list, or a directory.

    A `prepare` output directory resolves to its `train/` shards; any other directory to the
    `*.tfrecord*` files in it.
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
            if ".tmp-" not in os.path.basename(m) and not tf.io.gfile.isdir(m)
        ]
        if not matches:
            raise FileNotFoundError(
                f"no TFRecord files match {pattern!r}; run `keras-electra prepare` first or "
                "check the path (quote globs so the shell does not expand them)"
            )
        files.extend(matches)
    return sorted(set(files))


def _records(path):
    import tensorflow as tf

    try:
        for record in tf.compat.v1.io.tf_record_iterator(path):
            yield record
    except tf.errors.DataLossError as error:
        raise CorruptRecordError(
            f"{path}: corrupt or truncated TFRecord file ({error.message.strip()}). Re-create it "
            "(`keras-electra prepare ... --overwrite`) or remove it from the file pattern."
        ) from None


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


def _check_files(files, sequence_length, verify):
    """Schema and sequence length of the files; with `verify`, read every record (CRC check)."""
    schema = None
    for path in files:
        first = None
        records = _records(path)
        for record in records:
            first = record
            if not verify:
                break
        if first is None:
            continue  # an empty shard
        name, length = inspect_record(path, first)
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
            f"{sequence_length} was requested; prepare the data with --max-seq-len "
            f"{sequence_length} or pass sequence_length={schema[1]}"
        )
    return schema[0], schema[1]


def pretraining_dataset(
    file_pattern,
    batch_size,
    sequence_length=None,
    shuffle=True,
    repeat=True,
    seed=None,
    input_context=None,
    num_workers=None,
    worker_index=None,
    shuffle_buffer=1000,
    cycle_length=None,
    drop_remainder=True,
    verify=True,
):
    """A `tf.data.Dataset` of ElectraBackbone inputs from pretraining TFRecord shards.

    Pipeline: file list -> (worker's files) -> shuffle files -> repeat -> interleave
    `TFRecordDataset`s -> shuffle examples -> batch -> parse -> int32 dict -> prefetch.

    Files are sharded per worker explicitly (`Dataset.shard` on the file list, then the
    auto-shard policy is set to OFF, so `tf.distribute` does not shard again): worker `i` of
    `n` reads files `i, i + n, ...`, a disjoint subset.

    Args:
        file_pattern: glob / list / directory of shards (a `prepare` output dir means its
            `train/` shards).
        batch_size: int. Per-pipeline batch size.
        sequence_length: int or None. If given, must equal the examples' length.
        shuffle: shuffle files and examples (G: file shuffle + buffer 100; default 1000).
        repeat: repeat forever (training); False for one pass (evaluation).
        seed: int or None, for the shuffles (deterministic order with a seed).
        input_context: a `tf.distribute.InputContext` (from
            `strategy.distribute_datasets_from_function`); sets the two arguments below.
        num_workers, worker_index: explicit file sharding (e.g. one process per host).
        shuffle_buffer: examples in the shuffle buffer.
        cycle_length: files read concurrently (default `min(4, number of files)`, as G).
        drop_remainder: drop a last partial batch (fixed shapes for XLA/TPU).
        verify: read every record of this worker's files once up front (CRC check), so a
            corrupt or truncated file is reported by name; False only checks first records.

    Returns:
        A `tf.data.Dataset` of `{"token_ids", "segment_ids", "padding_mask"}`, int32
        `(batch_size, sequence_length)`.

    Example:
    ```python
    import keras_electra
    from keras_electra.data import pretraining_dataset

    dataset = pretraining_dataset("pretrain_data/train/*", batch_size=32)
    batch = next(iter(dataset))
    batch["token_ids"].shape  # (32, 128)
    ```
    """
    import tensorflow as tf

    files = list_shard_files(file_pattern)
    if input_context is not None:
        num_workers = input_context.num_input_pipelines
        worker_index = input_context.input_pipeline_id
    num_workers = num_workers or 1
    worker_index = worker_index or 0
    if not 0 <= worker_index < num_workers:
        raise ValueError(f"worker_index={worker_index} is not in [0, {num_workers})")
    if num_workers > 1:
        if len(files) < num_workers:
            raise ValueError(
                f"{len(files)} shard file(s) cannot be split across {num_workers} workers "
                f"(file-level sharding); prepare the data with --num-shards >= {num_workers}"
            )
        files = files[worker_index::num_workers]  # = Dataset.shard(num_workers, worker_index)
    schema_name, length = _check_files(files, sequence_length, verify)
    keys = SCHEMAS[schema_name]
    feature_spec = {key: tf.io.FixedLenFeature([length], tf.int64) for key in keys.values()}

    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    cycle = cycle_length or min(4, len(files))
    dataset = dataset.interleave(
        tf.data.TFRecordDataset,
        cycle_length=cycle,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=(not shuffle) or seed is not None,
    )
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)

    def parse(records):
        parsed = tf.io.parse_example(records, feature_spec)
        return {name: tf.cast(parsed[key], tf.int32) for name, key in keys.items()}

    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    # The files are sharded above; tf.distribute must not shard again.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    dataset = dataset.with_options(options)
    return dataset.prefetch(tf.data.AUTOTUNE)
