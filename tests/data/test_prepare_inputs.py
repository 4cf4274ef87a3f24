"""`prepare` with bad or unusual input, resumption, work units, and the CLI commands."""

import gzip
import json
import os
import sys

import pytest

from keras_electra.cli import main
from keras_electra.data.pretraining_builder import prepare_pretraining_data
from keras_electra.data.pretraining_dataset import count_examples
from keras_electra.data.text_files import BadInputError, iter_text_lines, plan_work_units

SMALL = dict(max_seq_length=32, num_shards=2, num_val_shards=1, val_fraction=0.1,
             workers=1, show_progress=False)


@pytest.fixture(scope="module")
def small_corpus(corpus_dir, tmp_path_factory):
    """The first 1500 lines of Frankenstein (real text, blank lines between paragraphs)."""
    directory = tmp_path_factory.mktemp("small_corpus")
    with open(corpus_dir / "gutenberg_84_frankenstein.txt", "rb") as f:
        lines = f.read().split(b"\n")[:1500]
    path = directory / "frankenstein_head.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def shard_bytes(directory):
    return {
        f"{split}/{name}": (directory / split / name).read_bytes()
        for split in ("train", "val")
        for name in sorted(os.listdir(directory / split))
    }


def test_gzip_input_gives_the_same_shards(small_corpus, bert_vocab_path, tmp_path):
    gz = tmp_path / "gz" / "frankenstein_head.txt.gz"
    gz.parent.mkdir()
    gz.write_bytes(gzip.compress(small_corpus.read_bytes()))
    plain = prepare_pretraining_data(str(small_corpus), bert_vocab_path, tmp_path / "plain",
                                     **SMALL)
    packed = prepare_pretraining_data(str(gz), bert_vocab_path, tmp_path / "packed", **SMALL)
    assert plain["examples"] > 100 and plain["examples"] == packed["examples"]
    assert shard_bytes(tmp_path / "plain") == shard_bytes(tmp_path / "packed")


def test_work_units_start_at_document_boundaries(small_corpus):
    size = os.path.getsize(small_corpus)
    units = plan_work_units([str(small_corpus)], chunk_bytes=5000)
    assert len(units) > 5
    data = small_corpus.read_bytes()
    starts = [start for _, _, start, _ in units]
    assert starts[0] == 0 and starts == sorted(set(starts))
    for (_, _, start, end), (_, _, next_start, _) in zip(units, units[1:]):
        assert end == next_start  # contiguous cover
        before = data[:next_start]
        assert before.endswith(b"\n")
        assert before.split(b"\n")[-2].strip() == b""  # a unit starts right after a blank line
    assert units[-1][3] is None
    lines = [line for unit in units
             for line, _ in iter_text_lines(str(small_corpus), start=unit[2], end=unit[3])]
    assert lines == [line for line, _ in iter_text_lines(str(small_corpus))]
    assert sum(n for _, _, s, e in units for _, n in iter_text_lines(
        str(small_corpus), start=s, end=e)) == size


def test_empty_corpus(tmp_path, bert_vocab_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n   \n")
    with pytest.raises(BadInputError, match="empty corpus"):
        prepare_pretraining_data(str(empty), bert_vocab_path, tmp_path / "out", **SMALL)
    # nothing half-written is left behind: the same call can be retried after fixing the input
    assert not (tmp_path / "out" / "manifest.json").exists()
    with pytest.raises(FileNotFoundError, match="matches no files"):
        prepare_pretraining_data(str(tmp_path / "nothing*.txt"), bert_vocab_path,
                                 tmp_path / "out", **SMALL)


def test_non_utf8_file_error_and_skip(tmp_path, bert_vocab_path):
    good = "The first line is fine.\nSo is the second one.\n\n"
    bad_line = b"caf\xe9 au lait in latin-1\n"
    path = tmp_path / "latin1.txt"
    path.write_bytes(good.encode() + bad_line + b"Another good line here.\n")
    offset = len(good.encode()) + 3
    with pytest.raises(BadInputError) as error:
        prepare_pretraining_data(str(path), bert_vocab_path, tmp_path / "out", **SMALL)
    message = str(error.value)
    assert str(path) in message and f"byte offset {offset}" in message
    assert "--skip_bad_lines" in message
    stats = prepare_pretraining_data(str(path), bert_vocab_path, tmp_path / "out",
                                     skip_bad_lines=True, overwrite=True, **SMALL)
    assert stats["bad_lines"] == 1 and stats["lines"] == 4
    assert stats["documents"] == 2 and stats["examples"] == 2


def test_non_utf8_error_in_a_worker_process(tmp_path, bert_vocab_path, capsys):
    # Worker side: `python -m keras_electra.data.unit_worker JOB` reports the error on stdout.
    from keras_electra.data import unit_worker
    from keras_electra.data.pretraining_builder import _run_units
    from keras_electra.data.vocab import load_vocabulary

    bad = tmp_path / "b.txt"
    bad.write_bytes(b"ok\n\xff\xfe broken\n")
    vocab = load_vocabulary(bert_vocab_path)
    config = {"vocabulary": vocab, "lowercase": True, "strip_accents": True,
              "special_ids": {t: vocab.index(t) for t in ("[CLS]", "[SEP]", "[UNK]")},
              "max_seq_length": 32, "seed": 0, "val_fraction": 0.0, "skip_bad_lines": False,
              "batch_lines": 64, "batch_chars": 10000}
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"config": config,
                               "tasks": [[0, [0, str(bad), 0, None], str(tmp_path / "u")]]}))
    assert unit_worker.main([str(job)]) == 3
    kind, _, payload = capsys.readouterr().out.strip().splitlines()[-1].partition(" ")
    assert kind == "E"
    assert f"{bad}: byte offset 3" in json.loads(payload)["message"]
    # Parent side: a worker's E line becomes the same BadInputError in the caller.
    fake = tmp_path / "fake_worker.py"
    fake.write_text(
        "import json, sys\n"
        "print('P 10 1 2')\n"
        "print('E ' + json.dumps({'type': 'BadInputError', 'message': 'x.txt: byte offset 7'}))\n"
        "sys.exit(3)\n"
    )

    class Progress:
        reports = []

        def put(self, report):
            self.reports.append(report)

    tasks = [(0, (0, str(bad), 0, None), str(tmp_path / "u0")),
             (1, (1, str(bad), 0, None), str(tmp_path / "u1"))]
    with pytest.raises(BadInputError, match="x.txt: byte offset 7"):
        _run_units(tasks, config, 2, Progress(), str(tmp_path), worker_command=[
            sys.executable, str(fake)])
    assert Progress.reports == [(10, 1, 2), (10, 1, 2)]


def test_vocab_without_special_tokens(small_corpus, tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\nthe\nof\n")
    with pytest.raises(ValueError, match=r"missing the special tokens \['\[SEP\]', '\[MASK\]'\]")\
            as error:
        prepare_pretraining_data(str(small_corpus), vocab, tmp_path / "out", **SMALL)
    assert str(vocab) in str(error.value)


def test_other_configuration_refused_unless_overwrite(small_corpus, bert_vocab_path, tmp_path):
    out = tmp_path / "out"
    first = prepare_pretraining_data(str(small_corpus), bert_vocab_path, out, seed=0, **SMALL)
    with pytest.raises(BadInputError, match="another configuration.*seed.*--overwrite"):
        prepare_pretraining_data(str(small_corpus), bert_vocab_path, out, seed=1, **SMALL)
    # an identical re-run is a no-op
    again = prepare_pretraining_data(str(small_corpus), bert_vocab_path, out, seed=0, **SMALL)
    assert again == first
    replaced = prepare_pretraining_data(str(small_corpus), bert_vocab_path, out, seed=1,
                                        overwrite=True, **SMALL)
    assert json.loads((out / "manifest.json").read_text())["config"]["seed"] == 1
    assert replaced["examples"] > 0
    foreign = tmp_path / "foreign"
    (foreign / "train").mkdir(parents=True)
    (foreign / "train" / "pretrain_data.tfrecord-00000-of-00001").write_bytes(b"")
    with pytest.raises(BadInputError, match="no manifest.json"):
        prepare_pretraining_data(str(small_corpus), bert_vocab_path, foreign, **SMALL)


def test_interrupted_run_resumes(small_corpus, bert_vocab_path, tmp_path):
    reference = tmp_path / "reference"
    prepare_pretraining_data(str(small_corpus), bert_vocab_path, reference, **SMALL)
    out = tmp_path / "out"
    options = dict(SMALL, chunk_bytes=20_000)
    prepare_pretraining_data(str(small_corpus), bert_vocab_path, out, keep_work_files=True,
                             **options)
    expected = shard_bytes(out)
    # Simulate a crash: manifest incomplete, one unit and one shard lost, a stale temp file.
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["complete"] = False
    (out / "manifest.json").write_text(json.dumps(manifest))
    (out / ".work" / "unit-00001.json").unlink()
    shard = out / "train" / "pretrain_data.tfrecord-00001-of-00002"
    shard.unlink()
    (out / "train" / "pretrain_data.tfrecord-00001-of-00002.tmp-999").write_bytes(b"junk")
    kept = out / "train" / "pretrain_data.tfrecord-00000-of-00002"
    kept_mtime = os.stat(kept).st_mtime_ns
    stats = prepare_pretraining_data(str(small_corpus), bert_vocab_path, out, **options)
    assert stats["resumed_units"] == stats["work_units"] - 1
    assert shard_bytes(out) == expected
    assert os.stat(kept).st_mtime_ns == kept_mtime  # a complete shard is not rewritten
    assert not [n for n in os.listdir(out / "train") if ".tmp-" in n]
    assert count_examples(str(out)) == stats["train_examples"]
    # a shard deleted after completion is noticed and re-created identically
    shard.unlink()
    prepare_pretraining_data(str(small_corpus), bert_vocab_path, out, **options)
    assert shard_bytes(out) == expected


def test_cli_prepare(small_corpus, bert_vocab_path, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["prepare", "--input", str(small_corpus), "--vocab", str(bert_vocab_path),
                 "--output-dir", str(out), "--max-seq-len", "32", "--num-shards", "2",
                 "--val-fraction", "0.1", "--seed", "3", "--workers", "1", "--no-progress"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    stats = json.loads((out / "stats.json").read_text())
    assert printed["train_examples"] == stats["train_examples"] > 0
    assert stats["max_seq_length"] == 32 and stats["num_shards"] == 2
    assert json.loads((out / "manifest.json").read_text())["config"]["seed"] == 3
    code = main(["prepare", "--input", str(small_corpus), "--vocab", str(bert_vocab_path),
                 "--output-dir", str(out), "--max-seq-len", "64", "--no-progress"])
    assert code == 2
    assert "--overwrite" in capsys.readouterr().err
