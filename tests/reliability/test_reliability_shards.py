"""Pretraining refuses, before building a model, shards that do not fit the run: shards built
with another vocabulary (issue 15 #3), an interrupted `prepare`, and a validation set too small
for one global batch (issue 15 #2: it used to end training early with exit 0)."""

import json
import os
import sys

from keras_electra import cli
from keras_electra.data.pretraining_builder import prepare_pretraining_data

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/training")
from pretrain_shards import write_shards  # noqa: E402  (tests/training helper)


def _corpus(corpus_dir, tmp_path, lines=400):
    with open(corpus_dir / "gutenberg_84_frankenstein.txt", "rb") as f:
        head = f.read().split(b"\n")[:lines]
    path = tmp_path / "corpus" / "head.txt"
    path.parent.mkdir()
    path.write_bytes(b"\n".join(head) + b"\n")
    return path


def _pretrain(tmp_path, train_dir, *extra):
    return cli.main(["pretrain", "--train_dir", str(train_dir), "--model_size", "tiny",
                     "--max_seq_length", "64", "--per_gpu_batch_size", "4", "--total_steps",
                     "2", "--warmup_steps", "1", "--checkpoint_dir", str(tmp_path / "ckpt"),
                     "--log_dir", str(tmp_path / "logs"), "--progress", "false", *extra])


def test_shards_of_another_vocabulary_are_refused(corpus_dir, bert_vocab_path, tmp_path,
                                                   capsys):
    corpus = _corpus(corpus_dir, tmp_path)
    prepare_pretraining_data(str(corpus), bert_vocab_path, tmp_path / "data", max_seq_length=64,
                             num_shards=1, val_fraction=0.0)
    capsys.readouterr()  # prepare's progress bar
    other = tmp_path / "other_vocab.txt"  # one token moved: every later id means another token
    tokens = bert_vocab_path.read_text(encoding="utf-8").splitlines()
    other.write_text("\n".join(tokens[:2000] + tokens[2001:] + [tokens[2000]]) + "\n",
                     encoding="utf-8")
    rc = _pretrain(tmp_path, tmp_path / "data" / "train", "--vocab_file", str(other))
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "tokenized with another vocabulary" in err and str(other) in err
    assert "manifest.json" in err and "keras-electra prepare" in err and "--overwrite" in err
    assert len(err.strip().splitlines()) == 1  # one line, no traceback
    assert not os.path.exists(tmp_path / "ckpt" / "worker-0")  # nothing trained or saved
    # the right vocabulary passes the check (and trains)
    assert _pretrain(tmp_path, tmp_path / "data" / "train", "--vocab_file",
                     str(bert_vocab_path)) == 0


def test_unfinished_prepare_is_refused(tmp_path, capsys):
    write_shards(str(tmp_path / "data" / "train"), num_examples=16, sequence_length=64,
                 num_shards=1)
    (tmp_path / "data" / "manifest.json").write_text(json.dumps(
        {"config": {"max_seq_length": 64, "inputs": [["c.txt", 1]]}, "complete": False}))
    assert _pretrain(tmp_path, tmp_path / "data" / "train") == 2
    err = capsys.readouterr().err
    assert "did not finish" in err and "keras-electra prepare --input c.txt" in err


def test_validation_set_smaller_than_a_global_batch_is_refused_at_start(tmp_path, capsys):
    write_shards(str(tmp_path / "train"), num_examples=16, sequence_length=64, num_shards=1)
    write_shards(str(tmp_path / "val"), num_examples=3, sequence_length=64, num_shards=1)
    rc = _pretrain(tmp_path, tmp_path / "train", "--val_dir", str(tmp_path / "val"),
                   "--validation_frequency", "1")
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "3 example(s) do not fill one global batch of 4 rows" in err
    assert not os.path.exists(tmp_path / "ckpt" / "worker-0")
    # an empty validation shard likewise (prepare on a small corpus can write one)
    empty = tmp_path / "empty_val"
    empty.mkdir()
    (empty / "pretrain_data.tfrecord-00000-of-00001").write_bytes(b"")
    rc = _pretrain(tmp_path, tmp_path / "train", "--val_dir", str(empty))
    err = capsys.readouterr().err
    assert rc == 2 and "--val_dir" in err, err


def test_a_shard_cut_between_two_records_is_refused_by_the_manifest(tmp_path, capsys):
    """A copy that stopped exactly at a record boundary passes every framing and CRC check;
    only the size `prepare` recorded in its manifest shows it."""
    from keras_electra.data.pretraining_dataset import check_framing

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(("The Rhine rises in the Swiss Alps.\nIt flows into the North Sea.\n\n")
                      * 200, encoding="utf-8")
    vocab = tmp_path / "vocab.txt"
    tokens = (["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]",
              "[MASK]"] + sorted(set(corpus.read_text().lower().replace(".", " .").split())))
    vocab.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    prepare_pretraining_data(str(corpus), str(vocab), tmp_path / "data", max_seq_length=64,
                             num_shards=1, val_fraction=0.0, show_progress=False)
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    (shard,) = manifest["train_shards"]
    path = tmp_path / "data" / shard
    assert manifest["shard_bytes"][shard] == os.path.getsize(path)
    records = check_framing(str(path))
    data = path.read_bytes()
    record_bytes = len(data) // records  # every record has the same size here (seq 64)
    assert record_bytes * records == len(data)
    path.write_bytes(data[:record_bytes * (records - 2)])  # two whole records missing
    assert check_framing(str(path)) == records - 2  # the framing alone cannot tell
    rc = _pretrain(tmp_path, tmp_path / "data" / "train", "--vocab_file", str(vocab))
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"{path} has {len(data) - 2 * record_bytes} bytes" in err
    assert f"recorded {len(data)} bytes" in err and "keras-electra prepare" in err
    assert len(err.strip().splitlines()) == 1
    assert not os.path.exists(tmp_path / "ckpt" / "worker-0")
