"""Issue 25 (reliability round 3): no silent wrong result, nothing of the user's destroyed,
every refusal early and exact. The CLI cases run the real command in a subprocess."""

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/training")
from pretrain_shards import write_shards, write_vocab  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cli(*argv, timeout=300, cwd=None):
    """`keras-electra ARGV` in a fresh process: (exit code, stdout, stderr)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "tensorflow"),
               TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("KERAS_ELECTRA_TRACEBACK", None)
    proc = subprocess.run([sys.executable, "-m", "keras_electra.cli", *map(str, argv)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


def one_error_line(err, *parts):
    lines = [line for line in err.strip().splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


def _small_vocab(path, size):
    write_vocab(path)
    tokens = open(path, encoding="utf-8").read().split("\n")[:size]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(tokens) + "\n")
    return path


def _pretrain_args(tmp_path, train_dir, *extra):
    return ("pretrain", "--train_dir", train_dir, "--model_size", "tiny", "--max_seq_length",
            "32", "--per_gpu_batch_size", "4", "--total_steps", "2", "--warmup_steps", "1",
            "--checkpoint_dir", tmp_path / "ckpt", "--log_dir", tmp_path / "logs",
            "--progress", "false", *extra)


def _shard_with_late_bad_ids(directory, good_max, bad_id, rows=16, length=32):
    import tensorflow as tf

    os.makedirs(directory)
    rng = np.random.default_rng(0)
    with tf.io.TFRecordWriter(str(directory / "pretrain_data.tfrecord-00000-of-00001")) as w:
        for n in range(rows):
            ids = rng.integers(104, good_max + 1, length)
            ids[0], ids[length // 2], ids[-1] = 101, 102, 102
            if n >= rows // 2:
                ids[3] = bad_id
            feature = {key: tf.train.Feature(int64_list=tf.train.Int64List(value=value))
                       for key, value in (("input_ids", ids), ("input_mask", [1] * length),
                                          ("segment_ids", [0] * length))}
            w.write(tf.train.Example(features=tf.train.Features(feature=feature))
                    .SerializeToString())
    return str(directory)


# ---- silent case 1: out-of-vocabulary ids without a manifest --------------------------------

def test_out_of_vocabulary_ids_without_a_manifest_are_refused_at_start(tmp_path):
    """Shards copied without manifest.json (a SageMaker channel) whose ids exceed --vocab_file:
    refused before the model is built, naming the shard and record (was: exit 0, XLA's gather
    clamped the ids, the preset had the small vocabulary)."""
    train = write_shards(str(tmp_path / "train"), num_examples=16, sequence_length=32,
                         num_shards=1)
    vocab = _small_vocab(str(tmp_path / "vocab.txt"), 106)  # ids 104..119 in the shards
    rc, _, err = cli(*_pretrain_args(tmp_path, train, "--vocab_file", vocab))
    assert rc == 2, err
    one_error_line(err, "pretrain_data.tfrecord-00000-of-00001: record 1", "token id",
                   "vocabulary of 106 ids", "--vocab_file")
    assert not os.path.exists(tmp_path / "ckpt" / "worker-0")


def test_out_of_vocabulary_ids_later_in_a_shard_are_caught_in_the_pipeline(tmp_path):
    """The start check reads first records; any later record is checked in the tf.data
    pipeline, so no id outside the vocabulary reaches the embedding gather."""
    from keras_electra.data.pretraining_dataset import (TokenIdError, check_shards,
                                                        pretraining_dataset, token_id_error)

    train = _shard_with_late_bad_ids(tmp_path / "train", good_max=109, bad_id=115)
    size = 110  # the first 8 records fit, the last 8 do not
    check_shards(train, vocabulary_size=size)  # the first record passes
    with pytest.raises(TokenIdError, match="record [0-9]+: token id"):
        check_shards(train, verify=True, vocabulary_size=size)
    dataset = pretraining_dataset(train, 4, shuffle=False, repeat=False, verify=False,
                                  vocabulary_size=size)
    with pytest.raises(Exception) as caught:
        for _ in dataset:
            pass
    converted = token_id_error(caught.value, train, size)
    assert isinstance(converted, TokenIdError) and f"vocabulary of {size} ids" in str(converted)
    assert token_id_error(ValueError("other"), train, size) is None
    # the real command: one line, exit 2 (was: trained to the end with exit 0)
    vocab = _small_vocab(str(tmp_path / "vocab.txt"), size)
    rc, _, err = cli(*_pretrain_args(tmp_path, train, "--vocab_file", vocab, "--skip_xla"))
    assert rc == 2, err
    one_error_line(err, f"vocabulary of {size} ids", "--vocab_file")
