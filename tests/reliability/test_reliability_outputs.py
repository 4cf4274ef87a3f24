"""`prepare` never reads its own output and never loses good output (issue 15): an output dir
that overlaps the inputs is refused before anything is written, and `--overwrite` builds the
new shards aside and swaps them in only when they are complete."""

import json
import os
import shutil

import pytest

from keras_electra.cli import main
from keras_electra.data import pretraining_builder
from keras_electra.data.pretraining_builder import prepare_pretraining_data
from keras_electra.data.text_files import BadInputError

SMALL = dict(max_seq_length=32, num_shards=1, num_val_shards=1, val_fraction=0.1,
             workers=1, show_progress=False)


@pytest.fixture(scope="module")
def book(corpus_dir):
    """The first 400 lines of Frankenstein (real text)."""
    with open(corpus_dir / "gutenberg_84_frankenstein.txt", "rb") as f:
        return b"\n".join(f.read().split(b"\n")[:400]) + b"\n"


def _tree(directory):
    """{relative path: bytes} of every file under `directory`."""
    out = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, directory)] = f.read()
    return out


def _cli(inputs, output_dir, vocab, *extra):
    return main(["prepare", "--input", str(inputs), "--vocab", str(vocab), "--output-dir",
                 str(output_dir), "--max-seq-len", "32", "--num-shards", "1", "--workers", "1",
                 "--no-progress", *extra])


def test_output_dir_equal_to_the_input_dir_is_refused(tmp_path, book, bert_vocab_path,
                                                      capsys, monkeypatch):
    """The issue's reproduction: `--input cs --output-dir cs`, then again with --overwrite."""
    monkeypatch.chdir(tmp_path)
    os.mkdir("cs")
    with open("cs/book.txt", "wb") as f:
        f.write(book)
    assert _cli("cs", "cs", bert_vocab_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("keras-electra prepare: error: --output_dir cs is the input "
                          "directory cs: prepare would read its own output")
    assert "Use an --output_dir outside the input directories" in err
    assert os.listdir("cs") == ["book.txt"]  # nothing written
    # Data written into cs by a version without this check: --overwrite must not touch it.
    assert _cli("cs", "elsewhere", bert_vocab_path) == 0
    for name in os.listdir("elsewhere"):
        shutil.move(os.path.join("elsewhere", name), "cs")
    before = _tree("cs")
    capsys.readouterr()
    assert _cli("cs", "cs", bert_vocab_path, "--overwrite") == 2
    assert "--output_dir cs is the input directory cs" in capsys.readouterr().err
    assert _tree("cs") == before  # the good train/ and val/ shards are intact


@pytest.mark.parametrize("layout", ["glob_of_the_output_dir", "output_inside_input_dir",
                                    "output_matched_by_glob", "recursive_glob",
                                    "symlink_to_the_output_dir", "output_contains_input"])
def test_output_dir_overlapping_an_input_is_refused(tmp_path, book, bert_vocab_path, layout):
    data = tmp_path / "data"
    corpus = data / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "book.txt").write_bytes(book)
    (tmp_path / "link").symlink_to(corpus)
    inputs, output_dir, expected = {
        "glob_of_the_output_dir": (corpus / "*.txt", corpus, "contains the input file"),
        "output_inside_input_dir": (corpus, corpus / "out", "is inside the input directory"),
        "output_matched_by_glob": (corpus / "*", corpus / "out", "is matched by the input "
                                                                 "pattern"),
        "recursive_glob": (corpus / "**", corpus / "a" / "out", "is matched by the input "
                                                                "pattern"),
        "symlink_to_the_output_dir": (tmp_path / "link" / "*", corpus, "would hold files that "
                                                                       "the input pattern"),
        "output_contains_input": (corpus / "*.txt", data, "contains the input file"),
    }[layout]
    before = _tree(tmp_path)
    with pytest.raises(BadInputError, match=f"^--output_dir {output_dir} {expected}"):
        prepare_pretraining_data(str(inputs), bert_vocab_path, output_dir, **SMALL)
    assert _tree(tmp_path) == before and not (corpus / "out").exists()


def test_output_next_to_or_beside_the_inputs_is_allowed(tmp_path, book, bert_vocab_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "book.txt").write_bytes(book)
    # a glob that cannot match prepare's files: output below the corpus dir is fine
    stats = prepare_pretraining_data(str(corpus / "*.txt"), bert_vocab_path,
                                     corpus / "shards", **SMALL)
    assert stats["documents"] > 0
    again = prepare_pretraining_data(str(corpus / "*.txt"), bert_vocab_path,
                                     corpus / "shards", **SMALL)
    assert again == stats  # the rerun reads the same single input file


def test_overwrite_keeps_the_old_shards_until_the_new_ones_are_complete(tmp_path, book,
                                                                       bert_vocab_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_bytes(book)
    out = tmp_path / "out"
    prepare_pretraining_data(str(corpus), bert_vocab_path, out, seed=0, **SMALL)
    good = _tree(out)
    # The new run fails half-way (a non-UTF-8 file): the old output must survive untouched.
    (corpus / "b_bad.txt").write_bytes(b"fine line\n\xff\xfe not utf-8\n")
    with pytest.raises(BadInputError, match="b_bad.txt: byte offset 10"):
        prepare_pretraining_data(str(corpus), bert_vocab_path, out, seed=1, overwrite=True,
                                 **SMALL)
    kept = {k: v for k, v in _tree(out).items() if not k.startswith(".overwrite-new")}
    assert kept == good
    assert json.loads((out / "manifest.json").read_text())["config"]["seed"] == 0
    # Fixed input: the overwrite completes and replaces the data; no staging left behind.
    (corpus / "b_bad.txt").unlink()
    stats = prepare_pretraining_data(str(corpus), bert_vocab_path, out, seed=1,
                                     overwrite=True, **SMALL)
    reference = tmp_path / "reference"
    assert prepare_pretraining_data(str(corpus), bert_vocab_path, reference, seed=1,
                                    **SMALL)["examples"] == stats["examples"]
    assert sorted(os.listdir(out)) == ["manifest.json", "stats.json", "token_counts.tsv", "train",
                                      "val"]
    new = _tree(out)
    assert {k: v for k, v in new.items() if k.startswith(("train", "val"))} == \
        {k: v for k, v in _tree(reference).items() if k.startswith(("train", "val"))}
    assert json.loads(new["manifest.json"])["config"]["seed"] == 1


@pytest.mark.parametrize("crash_at", ["moving_old_files_aside", "moving_new_files_in"])
def test_an_interrupted_overwrite_swap_is_finished_at_the_next_start(
        tmp_path, book, bert_vocab_path, monkeypatch, crash_at):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_bytes(book)
    out, reference = tmp_path / "out", tmp_path / "reference"
    prepare_pretraining_data(str(corpus), bert_vocab_path, out, seed=0, **SMALL)
    prepare_pretraining_data(str(corpus), bert_vocab_path, reference, seed=1, **SMALL)
    staging = str(out / pretraining_builder.STAGING_DIR)
    real_replace = os.replace

    def crashing_replace(src, dst):
        src, dst = os.fspath(src), os.fspath(dst)
        old_aside = crash_at == "moving_old_files_aside" and src == str(out / "train")
        new_in = crash_at == "moving_new_files_in" and src.startswith(staging + os.sep) \
            and os.path.dirname(dst) == str(out)
        if old_aside or new_in:
            raise KeyboardInterrupt("simulated kill during the swap")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crashing_replace)
    with pytest.raises(KeyboardInterrupt):
        prepare_pretraining_data(str(corpus), bert_vocab_path, out, seed=1, overwrite=True,
                                 **SMALL)
    monkeypatch.setattr(os, "replace", real_replace)
    assert not (out / "manifest.json").exists()  # never "complete" with a mix of files
    # the same command without --overwrite finishes the swap and finds the data complete
    stats = prepare_pretraining_data(str(corpus), bert_vocab_path, out, seed=1, **SMALL)
    assert stats == json.loads((out / "stats.json").read_text())
    assert sorted(os.listdir(out)) == ["manifest.json", "stats.json", "token_counts.tsv", "train",
                                      "val"]
    assert {k: v for k, v in _tree(out).items() if k.startswith(("train", "val"))} == \
        {k: v for k, v in _tree(reference).items() if k.startswith(("train", "val"))}
