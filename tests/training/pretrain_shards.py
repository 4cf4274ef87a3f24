"""Tiny G-schema TFRecord shards for the pretraining tests (synthetic, deterministic)."""

import os

import numpy as np

VOCAB_SIZE = 120  # ids >= 104 are "words"; 0 pad, 101 [CLS], 102 [SEP], 103 [MASK]


def write_shards(directory, num_examples=64, sequence_length=32, num_shards=2, seed=0):
    """Write `num_shards` files of `[CLS] A [SEP] B [SEP] pad...` examples; returns the dir."""
    import tensorflow as tf

    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    writers = [tf.io.TFRecordWriter(os.path.join(
        directory, f"pretrain_data.tfrecord-{i:05d}-of-{num_shards:05d}"))
        for i in range(num_shards)]
    for n in range(num_examples):
        length = int(rng.integers(sequence_length // 2, sequence_length + 1))
        ids = np.zeros(sequence_length, np.int64)
        mask = np.zeros(sequence_length, np.int64)
        segments = np.zeros(sequence_length, np.int64)
        split = int(rng.integers(2, length - 2))
        ids[:length] = rng.integers(104, VOCAB_SIZE, length)
        ids[0], ids[split], ids[length - 1] = 101, 102, 102
        mask[:length] = 1
        segments[split + 1:length] = 1
        example = tf.train.Example(features=tf.train.Features(feature={
            "input_ids": tf.train.Feature(int64_list=tf.train.Int64List(value=ids)),
            "input_mask": tf.train.Feature(int64_list=tf.train.Int64List(value=mask)),
            "segment_ids": tf.train.Feature(int64_list=tf.train.Int64List(value=segments)),
        }))
        writers[n % num_shards].write(example.SerializeToString())
    for writer in writers:
        writer.close()
    return directory


def write_vocab(path):
    """A vocab of VOCAB_SIZE entries with BERT's special ids (0, 100-103)."""
    tokens = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]",
                                                                 "[MASK]"]
    tokens += [f"w{i}" for i in range(VOCAB_SIZE - len(tokens))]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(tokens) + "\n")
    return path
