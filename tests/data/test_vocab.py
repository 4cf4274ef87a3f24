"""build-vocab: WordPiece learning from text, special-token positions, vocab validation."""

import gzip
import json

import pytest

from keras_electra.cli import main
from keras_electra.data.text_files import BadInputError
from keras_electra.data.vocab import (
    build_vocabulary,
    load_vocabulary,
    special_token_layout,
)


@pytest.fixture(scope="module")
def text_files(corpus_dir, tmp_path_factory):
    """The first 300 lines of two corpus files, one of them gzipped."""
    directory = tmp_path_factory.mktemp("vocab_corpus")
    with open(corpus_dir / "gutenberg_84_frankenstein.txt", "rb") as f:
        (directory / "a.txt").write_bytes(b"\n".join(f.read().split(b"\n")[:300]) + b"\n")
    with open(corpus_dir / "gutenberg_863_mysterious_affair_at_styles.txt", "rb") as f:
        data = b"\n".join(f.read().split(b"\n")[:300]) + b"\n"
    (directory / "b.txt.gz").write_bytes(gzip.compress(data))
    return directory


def test_cli_build_vocab_bert_layout(text_files, tmp_path, capsys):
    from keras_electra.models.electra_tokenizer import ElectraTokenizer

    output = tmp_path / "vocab.txt"
    code = main(["build-vocab", "--input", str(text_files / "*"), "--vocab-size", "1000",
                 "--output", str(output), "--no-progress"])
    assert code == 0 and "wrote 1000 tokens" in capsys.readouterr().out
    vocab = load_vocabulary(output)
    assert len(vocab) == 1000 == len(set(vocab))
    assert vocab[0] == "[PAD]" and vocab[1] == "[unused0]"
    assert vocab[100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert "the" in vocab and "##s" in vocab
    assert all(t == t.lower() for t in vocab if not t.startswith("["))  # lower-cased
    # The vocabulary covers the text it was learned from: almost no [UNK] when tokenizing it
    # (single characters are always kept), and frequent words are whole tokens.
    tokenizer = ElectraTokenizer(vocab)
    lines = [line for line in (text_files / "a.txt").read_text().split("\n") if line.strip()]
    ids = [i for row in tokenizer.tokenize_with_offsets(lines) for i in row[0].tolist()]
    assert ids.count(100) / len(ids) < 0.005
    assert tokenizer.tokenize("the")[0] == vocab.index("the")

    # build-vocab then prepare: the learned vocab makes shards the reader accepts
    shards = tmp_path / "shards"
    code = main(["prepare", "--input", str(text_files / "*"), "--vocab", str(output),
                 "--output-dir", str(shards), "--max-seq-len", "64", "--num-shards", "2",
                 "--workers", "1", "--no-progress"])
    assert code == 0
    from keras_electra.data import count_examples, pretraining_dataset

    stats = json.loads((shards / "stats.json").read_text())
    assert count_examples(str(shards / "train")) == stats["train_examples"] > 20
    assert stats["unk_rate"] < 0.005
    batch = next(iter(pretraining_dataset(str(shards), batch_size=4, seed=0)))
    assert int(batch["token_ids"].numpy().max()) < 1000


def test_small_vocab_compact_layout(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("the cat sat on the mat\nthe dog sat on the log\n\nbat rat hat\n" * 20)
    vocab = build_vocabulary(str(path), vocabulary_size=60, show_progress=False)
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert len(vocab) == 60 == len(set(vocab))
    assert {"t", "##t", "the", "cat", "hat"} <= set(vocab)  # every character, frequent words
    learned = [t for t in vocab if not t.startswith("[unused")]
    assert vocab[len(learned):] == [f"[unused{i}]" for i in range(60 - len(learned))]
    assert special_token_layout(30522)[100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert special_token_layout(999) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def test_bad_inputs(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    with pytest.raises(BadInputError, match="empty corpus"):
        build_vocabulary(str(empty), vocabulary_size=100, show_progress=False)
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"good line\nna\xefve\n")
    with pytest.raises(BadInputError, match=r"latin\.txt: byte offset 12 \(line 2\)"):
        build_vocabulary(str(latin), vocabulary_size=100, show_progress=False)
    vocab = build_vocabulary(str(latin), vocabulary_size=100, skip_bad_lines=True,
                             show_progress=False)
    assert len(vocab) == 100 and "g" in vocab
    assert "v" not in vocab and "a" not in vocab  # only in the skipped line
    code = main(["build-vocab", "--input", str(tmp_path / "missing*.txt"), "--output",
                 str(tmp_path / "v.txt"), "--no-progress"])
    assert code == 2 and "matches no files" in capsys.readouterr().err
    broken = tmp_path / "broken_vocab.txt"
    broken.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\nthe\n")
    with pytest.raises(ValueError, match=r"missing the special tokens \['\[MASK\]'\]"):
        load_vocabulary(broken)
    broken.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nthe\n")
    with pytest.raises(ValueError, match=r"duplicate tokens \[\"'the' \(line 7\)\"\]"):
        load_vocabulary(broken)


def test_spacing_accents_do_not_put_whitespace_pieces_in_the_vocab(tmp_path):
    """Accent stripping turns U+00B4 inside a word into a space; no " "/"## " token may result."""
    from keras_electra.data import build_vocabulary

    corpus = tmp_path / "accents.txt"
    corpus.write_text(("caf\u00b4e and the river flows\n" * 50 + "\n") * 20, encoding="utf-8")
    vocab = build_vocabulary(str(corpus), vocabulary_size=200, show_progress=False)
    assert not [t for t in vocab if any(c.isspace() for c in t)]
