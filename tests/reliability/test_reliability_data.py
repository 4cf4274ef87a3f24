"""Corpus faults not covered in tests/data: binary files, a huge single line, NUL bytes,
and output written before a failure staying intact."""

import os
import random

import pytest

from keras_electra.data.pretraining_builder import prepare_pretraining_data
from keras_electra.data.pretraining_dataset import count_examples
from keras_electra.data.text_files import BadInputError

SMALL = dict(max_seq_length=32, num_shards=1, num_val_shards=1, val_fraction=0.1,
             workers=1, show_progress=False)


def test_binary_file_is_refused_with_its_offset(tmp_path, bert_vocab_path):
    rnd = random.Random(0)
    good = b"A fine first line.\n\n"
    path = tmp_path / "image.txt"  # e.g. a PNG renamed .txt picked up by the glob
    path.write_bytes(good + b"\x89PNG\r\n\x1a\n" + bytes(rnd.randrange(256) for _ in range(4000)))
    with pytest.raises(BadInputError) as error:
        prepare_pretraining_data(str(path), bert_vocab_path, tmp_path / "out", **SMALL)
    message = str(error.value)
    assert f"{path}: byte offset {len(good)} (line 3): not valid UTF-8" in message
    assert "--skip_bad_lines" in message
    # the documented way out works on the same output dir (the good document survives)
    stats = prepare_pretraining_data(str(path), bert_vocab_path, tmp_path / "out",
                                     skip_bad_lines=True, overwrite=True, **SMALL)
    assert stats["bad_lines"] >= 1 and stats["documents"] >= 1


def test_gzip_data_named_txt_is_refused(tmp_path, bert_vocab_path):
    import gzip

    path = tmp_path / "corpus.txt"  # compressed but without the .gz suffix
    path.write_bytes(gzip.compress(b"some text\n" * 50))
    with pytest.raises(BadInputError, match=r"corpus\.txt: byte offset \d+ \(line 1\): not valid"):
        prepare_pretraining_data(str(path), bert_vocab_path, tmp_path / "out", **SMALL)


def test_huge_single_line_is_truncated_not_fatal(tmp_path, bert_vocab_path):
    # A 2 MB "sentence" (a scraped page with no newlines): packed into one example of
    # max_seq_length tokens, the rest counted as dropped; the next document is intact.
    rnd = random.Random(0)
    words = "the quick brown fox jumps over a lazy dog".split()
    line = " ".join(rnd.choice(words) for _ in range(400_000))
    path = tmp_path / "huge.txt"
    path.write_text(line + "\n\nA short second document.\nWith two lines.\n")
    stats = prepare_pretraining_data(str(path), bert_vocab_path, tmp_path / "out", **SMALL)
    assert stats["documents"] == 2 and stats["lines"] == 4
    assert stats["tokens_dropped_by_truncation"] > 399_000
    assert stats["tokens"] - stats["tokens_dropped_by_truncation"] == stats["example_tokens"]
    total = sum(count_examples(str(tmp_path / "out" / split / name))
                for split in ("train", "val")
                for name in os.listdir(tmp_path / "out" / split))
    assert total == stats["examples"] >= 2


def test_bad_file_among_good_ones_names_the_bad_one(tmp_path, bert_vocab_path, corpus_dir):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a_good.txt").write_text("Good text here.\nMore of it.\n")
    (tmp_path / "in" / "b_bad.txt").write_bytes(b"ok line\n\xff\n")
    with pytest.raises(BadInputError, match=r"b_bad\.txt: byte offset 8 \(line 2\)"):
        prepare_pretraining_data(str(tmp_path / "in"), bert_vocab_path, tmp_path / "out",
                                 **SMALL)


def test_nul_bytes_are_refused_as_binary(tmp_path, bert_vocab_path):
    # NUL is valid UTF-8, so a file of zeros (a sparse or pre-allocated file) would otherwise be
    # read as one empty-looking document and silently yield nothing.
    head = b"A real sentence.\n\n"
    path = tmp_path / "zeros.txt"
    path.write_bytes(head + b"\x00" * 4096 + b"\nTrailing text.\n")
    with pytest.raises(BadInputError) as error:
        prepare_pretraining_data(str(path), bert_vocab_path, tmp_path / "out", **SMALL)
    message = str(error.value)
    assert f"{path}: byte offset {len(head)} (line 3): NUL byte: this is a binary file" in message
    assert "--skip_bad_lines" in message
    stats = prepare_pretraining_data(str(path), bert_vocab_path, tmp_path / "out",
                                     skip_bad_lines=True, overwrite=True, **SMALL)
    assert stats["bad_lines"] == 1 and stats["examples"] >= 1


def test_line_over_the_limit_is_refused_without_reading_it_whole(tmp_path):
    from keras_electra.data.text_files import iter_text_lines

    path = tmp_path / "dump.txt"
    path.write_bytes(b"first line\n" + b"x" * 10_000 + b"\nlast line\n")
    lines = iter_text_lines(str(path), max_line_bytes=1_000)
    assert next(lines) == ("first line", 11)
    with pytest.raises(BadInputError, match=r"dump\.txt: byte offset 11 \(line 2\): line longer "
                                            r"than 1,000 bytes.*--skip_bad_lines"):
        next(lines)
    # skipping consumes the long line in bounded chunks and resumes at the next one
    counters = {}
    kept = list(iter_text_lines(str(path), max_line_bytes=1_000, skip_bad_lines=True,
                                counters=counters))
    assert kept == [("first line", 11), ("last line", 10)]
    assert counters == {"bad_lines": 1}
