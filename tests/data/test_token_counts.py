"""`prepare` writes the train split's token frequencies (`token_counts.tsv`, the unigram
generator's distribution): checked against a numpy recount of the decoded train shards, for
one worker and for two workers sharing a file."""

import glob
import os

import numpy as np
import pytest

from keras_electra.data.pretraining_builder import prepare_pretraining_data, read_token_counts

FILE = "gutenberg_863_mysterious_affair_at_styles.txt"


def recount(train_dir, vocabulary_size):
    """np.bincount of the real tokens (input_mask 1) of every train example."""
    import tensorflow as tf
    from tensorflow.core.example import example_pb2

    counts = np.zeros(vocabulary_size, np.int64)
    for path in sorted(glob.glob(os.path.join(train_dir, "pretrain_data.tfrecord-*"))):
        for record in tf.compat.v1.io.tf_record_iterator(path):
            feature = example_pb2.Example.FromString(record).features.feature
            ids = np.array(feature["input_ids"].int64_list.value)
            mask = np.array(feature["input_mask"].int64_list.value)
            counts += np.bincount(ids[mask == 1], minlength=vocabulary_size)
    return counts


@pytest.mark.parametrize("workers", [1, 2])
def test_token_counts_match_a_recount_of_the_train_shards(corpus_dir, bert_vocab_path,
                                                          tmp_path, workers):
    with open(bert_vocab_path, encoding="utf-8") as f:
        vocabulary_size = sum(1 for _ in f)
    output = tmp_path / f"w{workers}"
    stats = prepare_pretraining_data(
        [str(corpus_dir / FILE)], bert_vocab_path, output, max_seq_length=64, num_shards=2,
        num_val_shards=1, val_fraction=0.1, seed=0, workers=workers, chunk_bytes=60_000,
        show_progress=False)
    assert stats["work_units"] >= 4  # several units: counts are summed over them
    counts = np.array(read_token_counts(output / "token_counts.tsv"))
    assert len(counts) == vocabulary_size  # one line per vocab.txt line
    np.testing.assert_array_equal(counts, recount(output / "train", vocabulary_size))
    # the train split only: [CLS] once per train example, the val examples not counted
    assert counts[101] == stats["train_examples"]
    assert not (output / ".work").exists()
