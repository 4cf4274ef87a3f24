"""tf.data reader: schemas, file sharding across workers, validation errors, backbone inputs."""

import numpy as np
import pytest

from keras_electra.data.example_packing import example_arrays, serialize_example
from keras_electra.data.pretraining_dataset import (
    CorruptRecordError,
    count_examples,
    count_global_batches,
    pretraining_dataset,
)

SEQ = 16
NUM_FILES = 4
PER_FILE = 25


def _example_rows():
    """Rows identifiable by file (token 1) and index (token 2)."""
    rows = {}
    for f in range(NUM_FILES):
        for i in range(PER_FILE):
            first = [1000 + f, 2000 + i] + [3000 + (i * 7 + j) % 500 for j in range(i % 5)]
            second = [4000 + i] * (i % 3)
            rows[(f, i)] = example_arrays(first, second, SEQ, 101, 102)
    return rows


def _write(path, rows, keys=("input_ids", "input_mask", "segment_ids")):
    import tensorflow as tf
    from tensorflow.core.example import example_pb2, feature_pb2

    with tf.io.TFRecordWriter(str(path)) as writer:
        for ids, mask, segments in rows:
            if keys[0] == "input_ids" and keys[1] == "input_mask":
                writer.write(serialize_example(ids, mask, segments))
                continue
            values = dict(zip(keys, (ids, mask, segments)))
            example = example_pb2.Example(features=feature_pb2.Features(feature={
                k: feature_pb2.Feature(int64_list=feature_pb2.Int64List(value=v.tolist()))
                for k, v in values.items()}))
            writer.write(example.SerializeToString())


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    directory = tmp_path_factory.mktemp("shards")
    rows = _example_rows()
    for f in range(NUM_FILES):
        _write(directory / f"pretrain_data.tfrecord-{f:05d}-of-{NUM_FILES:05d}",
               [rows[(f, i)] for i in range(PER_FILE)])
    return directory, rows


def _collect(dataset):
    out = {"token_ids": [], "segment_ids": [], "padding_mask": []}
    for batch in dataset:
        for key in out:
            out[key].append(batch[key].numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def test_reads_every_example_as_backbone_inputs(shards):
    import tensorflow as tf

    directory, rows = shards
    dataset = pretraining_dataset(str(directory / "*"), batch_size=10, shuffle=False,
                                  repeat=False)
    spec = dataset.element_spec
    assert set(spec) == {"token_ids", "segment_ids", "padding_mask"}
    assert all(s.dtype == tf.int32 for s in spec.values())
    data = _collect(dataset)
    assert data["token_ids"].shape == (NUM_FILES * PER_FILE, SEQ)
    seen = set()
    for ids, segments, mask in zip(data["token_ids"], data["segment_ids"],
                                   data["padding_mask"]):
        key = (int(ids[1]) - 1000, int(ids[2]) - 2000)
        expected = rows[key]
        np.testing.assert_array_equal(ids, expected[0])
        np.testing.assert_array_equal(mask, expected[1])
        np.testing.assert_array_equal(segments, expected[2])
        seen.add(key)
    assert len(seen) == NUM_FILES * PER_FILE
    assert count_examples(str(directory / "*")) == NUM_FILES * PER_FILE


def test_shuffle_repeat_fixed_batches_and_seed(shards):
    directory, _ = shards
    dataset = pretraining_dataset(str(directory), batch_size=32, seed=3, shuffle_buffer=50)
    batches = [b["token_ids"].numpy() for b in dataset.take(5)]  # 160 > 100 examples: repeats
    assert all(b.shape == (32, SEQ) for b in batches)
    again = [b["token_ids"].numpy() for b in pretraining_dataset(
        str(directory), batch_size=32, seed=3, shuffle_buffer=50).take(5)]
    np.testing.assert_array_equal(np.stack(batches), np.stack(again))
    files_in_first_batch = set(batches[0][:, 1].tolist())
    assert len(files_in_first_batch) > 1  # interleaved and shuffled across files


def _rows_as_keys(batch):
    """(file, index) of every row: tokens 1 and 2 identify an example (see _example_rows)."""
    ids = batch["token_ids"].numpy()
    return [(int(f) - 1000, int(i) - 2000) for f, i in zip(ids[:, 1], ids[:, 2])]


@pytest.mark.parametrize("readers, processes", [(2, 2), (4, 2), (4, 4)])
def test_processes_split_each_global_batch_and_read_disjoint_files(shards, readers, processes):
    """Local batches of P processes, concatenated in process order, are the one-process global
    batches (same readers), shuffled and repeated; processes read disjoint files."""
    import tensorflow as tf

    directory, _ = shards
    args = dict(batch_size=8, seed=5, shuffle_buffer=20, num_readers=readers)
    steps = 30  # 240 rows: more than two epochs of the 100 examples
    single = [_rows_as_keys(b) for b in pretraining_dataset(str(directory), **args).take(steps)]
    local = []
    for p in range(processes):
        dataset = pretraining_dataset(str(directory), num_processes=processes, process_index=p,
                                      **args)
        policy = dataset.options().experimental_distribute.auto_shard_policy
        assert policy == tf.data.experimental.AutoShardPolicy.OFF  # no second sharding
        local.append([_rows_as_keys(b) for b in dataset.take(steps)])
    for step in range(steps):
        assert sum((local[p][step] for p in range(processes)), []) == single[step]
        assert all(len(local[p][step]) == 8 // processes for p in range(processes))
    files = [{f for batch in rows for f, _ in batch} for rows in local]
    for p in range(processes):
        mine = {r % NUM_FILES for r in range(readers) if r // (readers // processes) == p}
        assert files[p] == {f for f in range(NUM_FILES) if f % readers in mine}
        assert not files[p] & set().union(*(files[q] for q in range(processes) if q != p))
    # one pass: every example at most once across processes, and as many as fit full blocks
    seen = []
    for p in range(processes):
        seen += [key for b in pretraining_dataset(
            str(directory), batch_size=4 * readers, num_readers=readers, shuffle=False,
            repeat=False, num_processes=processes, process_index=p) for key in _rows_as_keys(b)]
    assert len(seen) == len(set(seen))
    per_reader = NUM_FILES // readers * PER_FILE
    assert len(seen) == readers * (per_reader // 4 * 4)


def test_input_context_splits_the_local_batch_among_replicas(shards):
    import tensorflow as tf

    directory, _ = shards
    args = dict(batch_size=8, seed=1, num_readers=2, shuffle_buffer=10)
    single = [_rows_as_keys(b) for b in pretraining_dataset(str(directory), **args).take(4)]
    # worker 1 of 2, two replicas per worker: pieces 2 and 3 of each global batch, in order
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1,
                                         num_replicas_in_sync=4)
    pieces = [_rows_as_keys(b) for b in pretraining_dataset(
        str(directory), input_context=context, **args).take(8)]
    for step in range(4):
        assert pieces[2 * step] == single[step][4:6]
        assert pieces[2 * step + 1] == single[step][6:8]


def test_skip_and_num_batches_follow_the_global_stream(shards):
    directory, _ = shards
    args = dict(batch_size=4, seed=2, num_readers=2, shuffle_buffer=10)
    full = [_rows_as_keys(b) for b in pretraining_dataset(str(directory), **args).take(7)]
    part = [_rows_as_keys(b) for b in pretraining_dataset(
        str(directory), skip_batches=3, num_batches=2, **args)]
    assert part == full[3:5]
    assert count_global_batches(str(directory), batch_size=8, num_readers=2) == 50 // 4


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_readers=3, num_processes=2), "multiple of the number of processes"),
    (dict(num_readers=3), "cannot be split into 3 equal reader blocks"),
    (dict(num_readers=6, batch_size=12), "4 shard file\\(s\\) cannot feed 6 data readers"),
    (dict(num_readers=2, num_processes=2, process_index=2), "process_index=2 is not in"),
])
def test_layout_errors_say_how_to_fix(shards, kwargs, message):
    directory, _ = shards
    kwargs = {"batch_size": 8, **kwargs}
    with pytest.raises(ValueError, match=message):
        pretraining_dataset(str(directory), **kwargs)


def test_reads_aws_schema(shards, tmp_path):
    directory, rows = shards
    aws = tmp_path / "wiki_shard_0.tfrecord"
    _write(aws, [rows[(0, i)] for i in range(PER_FILE)],
           keys=("input_ids", "attention_mask", "token_type_ids"))
    from_aws = _collect(pretraining_dataset(str(aws), batch_size=5, shuffle=False,
                                            repeat=False))
    from_g = _collect(pretraining_dataset(str(directory / "*00000-of*"), batch_size=5,
                                          shuffle=False, repeat=False))
    for key in from_g:
        np.testing.assert_array_equal(from_aws[key], from_g[key])


def test_output_feeds_electra_backbone(shards):
    from keras_electra.models.electra_backbone import ElectraBackbone

    directory, _ = shards
    backbone = ElectraBackbone(vocabulary_size=5000, num_layers=1, num_heads=2, hidden_dim=16,
                               embedding_dim=8, intermediate_dim=32, max_sequence_length=SEQ)
    batch = next(iter(pretraining_dataset(str(directory), batch_size=4, seed=0)))
    output = backbone(batch)
    assert tuple(output["sequence_output"].shape) == (4, SEQ, 16)
    assert np.isfinite(np.asarray(output["sequence_output"])).all()


def test_validation_errors_name_the_file(shards, tmp_path):
    directory, rows = shards
    first = str(directory / f"pretrain_data.tfrecord-00000-of-{NUM_FILES:05d}")
    with pytest.raises(ValueError, match="sequence length 16 but sequence_length=128") as error:
        pretraining_dataset(str(directory / "*"), batch_size=2, sequence_length=128)
    assert first in str(error.value)

    odd = tmp_path / "odd.tfrecord"
    _write(odd, [rows[(0, 0)]], keys=("input_ids", "labels", "segment_ids"))
    with pytest.raises(ValueError, match="unknown pretraining schema") as error:
        pretraining_dataset(str(odd), batch_size=2)
    assert str(odd) in str(error.value)

    truncated = tmp_path / "truncated.tfrecord"
    truncated.write_bytes(open(first, "rb").read()[:-30])
    # found by walking the record headers, before any data is read
    with pytest.raises(CorruptRecordError,
                       match=r"truncated TFRecord file: record \d+ \(at byte \d+\) needs") as error:
        pretraining_dataset(str(truncated), batch_size=2)
    assert str(truncated) in str(error.value)
    with pytest.raises(CorruptRecordError) as error:
        count_examples(str(truncated))
    assert str(truncated) in str(error.value)
    png = tmp_path / "image.tfrecord"  # another kind of file picked up by the glob
    png.write_bytes(bytes.fromhex("89504e470d0a1a0a0000000d49484452") + bytes(300))
    with pytest.raises(CorruptRecordError, match="image.tfrecord: not a TFRecord file"):
        count_examples(str(png))

    flipped = bytearray(open(first, "rb").read())
    flipped[len(flipped) // 2] ^= 0xFF
    corrupt = tmp_path / "corrupt.tfrecord"
    corrupt.write_bytes(bytes(flipped))
    with pytest.raises(CorruptRecordError) as error:
        pretraining_dataset(str(corrupt), batch_size=2)
    assert str(corrupt) in str(error.value)

    with pytest.raises(FileNotFoundError, match="no TFRecord files match"):
        pretraining_dataset(str(tmp_path / "missing" / "*"), batch_size=2)
