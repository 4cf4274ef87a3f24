"""`prepare` on the shared corpus: examples tile the corpus exactly as G's packing must."""

import functools
import glob
import json
import os
import unicodedata

import numpy as np
import pytest

from keras_electra.data.pretraining_builder import prepare_pretraining_data

FILES = ("gutenberg_84_frankenstein.txt", "gutenberg_863_mysterious_affair_at_styles.txt")
MAX_LEN = 128
NUM_SHARDS = 3
NUM_VAL_SHARDS = 2


def read_shards(directory):
    """Records of `directory`'s shards in global write order (round-robin over the shards)."""
    import tensorflow as tf
    from tensorflow.core.example import example_pb2

    paths = sorted(glob.glob(os.path.join(directory, "pretrain_data.tfrecord-*")))
    per_shard = [list(tf.compat.v1.io.tf_record_iterator(p)) for p in paths]
    ordered = []
    for position in range(max(len(s) for s in per_shard)):
        for shard in per_shard:
            if position < len(shard):
                ordered.append(shard[position])
    rows = []
    for record in ordered:
        feature = example_pb2.Example.FromString(record).features.feature
        rows.append(tuple(np.array(feature[k].int64_list.value) for k in
                          ("input_ids", "input_mask", "segment_ids")))
    return rows


@pytest.fixture(scope="module")
def prepared(corpus_dir, bert_vocab_path, tmp_path_factory):
    output = tmp_path_factory.mktemp("prepared")
    inputs = [str(corpus_dir / name) for name in FILES]
    stats = prepare_pretraining_data(
        inputs, bert_vocab_path, output, max_seq_length=MAX_LEN, num_shards=NUM_SHARDS,
        num_val_shards=NUM_VAL_SHARDS, val_fraction=0.1, seed=0, workers=1, show_progress=False,
    )
    return output, stats, sorted(inputs)


@pytest.fixture(scope="module")
def corpus_documents(prepared, bert_vocab_path):
    """Documents (runs of non-blank lines) of the input files, each line tokenized directly."""
    from keras_electra.models.electra_tokenizer import ElectraTokenizer

    tokenizer = ElectraTokenizer(str(bert_vocab_path))
    documents = []
    for path in prepared[2]:
        with open(path, "rb") as f:
            lines = [raw.decode("utf-8").strip() for raw in f.read().split(b"\n")]
        nonblank = [line for line in lines if line]
        ids = iter(r[0].tolist() for r in tokenizer.tokenize_with_offsets(nonblank))
        current = []
        for line in lines + [""]:
            if line:
                current.append((line, next(ids)))
            elif current:
                documents.append(current)
                current = []
    return documents, tokenizer


def normalize(text):
    """BERT uncased normalization (lower-case, NFD, drop combining marks)."""
    text = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in text if unicodedata.category(c) != "Mn")


def split_example(row):
    """Structural checks of one example; returns (A, B) token lists."""
    ids, mask, segments = row
    length = int(mask.sum())
    assert ids[0] == 101, "every example starts with [CLS]"
    assert mask[:length].all() and not mask[length:].any()
    assert not ids[length:].any() and not segments[length:].any()
    assert ids[length - 1] == 102
    first_sep = int(np.argmax(ids[:length] == 102))
    assert not segments[: first_sep + 1].any()
    if first_sep == length - 1:
        return ids[1:first_sep].tolist(), []
    assert segments[first_sep + 1 : length].all()
    assert 102 not in ids[first_sep + 1 : length - 1]
    return ids[1:first_sep].tolist(), ids[first_sep + 1 : length - 1].tolist()


def match_window(lines, start, first, second):
    """Can G's A/B assignment of lines[start:end] give (first, second)? Returns (end, path).

    Each line goes wholly to A or B (G); a segment at its truncation limit may lose the tail
    of a line and whole later lines.
    """
    a_truncated = len(first) == MAX_LEN - 2
    b_truncated = len(second) == max(0, MAX_LEN - len(first) - 3)

    @functools.lru_cache(maxsize=None)
    def search(m, a, b):
        if a == len(first) and b == len(second):
            return m, ()
        if m == len(lines):
            return None
        tokens = lines[m][1]
        for segment, pos, truncated, name in ((first, a, a_truncated, "A"),
                                              (second, b, b_truncated, "B")):
            if name == "B" and a == 0:
                break  # G: the first sentence always goes to A
            n = min(len(tokens), len(segment) - pos)
            if segment[pos:pos + n] == tokens[:n] and (n == len(tokens) or truncated):
                result = search(m + 1, a + n if name == "A" else a, b + n if name == "B" else b)
                if result is not None:
                    return result[0], ((name, m),) + result[1]
        return None

    return search(start, 0, 0)


def walk(examples, documents, allowed):
    """Walk the examples (in write order) over the allowed documents, in order.

    Returns the documents the examples cover and, per example, (document, line assignment).
    A document is either skipped whole (it belongs to the other split) or covered by
    consecutive examples, each continuing where the previous one ended (lines may be skipped
    only when the previous example was truncated). Starting a document is a choice point: if
    a later example cannot continue it (identical text elsewhere), the walk backtracks and
    skips that document instead.
    """
    documents = [tuple((t, tuple(i)) for t, i in documents[d]) for d in allowed]
    covered, assignments, choices = [], [], []
    e, d, k, started, previous_truncated = 0, 0, 0, False, False
    while e < len(examples):
        first, second = examples[e]
        failed = False
        while True:
            if d >= len(documents):
                failed = True
                break
            lines = documents[d]
            if k >= len(lines):
                d, k, started, previous_truncated = d + 1, 0, False, False
                continue
            if not lines[k][1]:
                k += 1
                continue
            match = match_window(lines, k, tuple(first), tuple(second))
            if match is not None:
                break
            if not started:  # this document belongs to the other split
                d, k = d + 1, 0
                continue
            if not previous_truncated:
                failed = True
                break
            k += 1
        if failed:
            assert choices, f"example {e} does not continue the text (document {allowed[d - 1]})"
            e, d, n_covered, n_assigned = choices.pop()
            del covered[n_covered:], assignments[n_assigned:]
            d, k, started, previous_truncated = d + 1, 0, False, False
            continue
        if not started:
            choices.append((e, d, len(covered), len(assignments)))
            covered.append(allowed[d])
            started = True
        assignments.append((allowed[d], match[1]))
        k = match[0]
        previous_truncated = (len(first) == MAX_LEN - 2
                              or len(second) == max(0, MAX_LEN - len(first) - 3))
        e += 1
    return covered, assignments


def test_examples_are_contiguous_corpus_sentences(prepared, corpus_documents):
    output, stats, _ = prepared
    documents, tokenizer = corpus_documents
    train = [split_example(r) for r in read_shards(output / "train")]
    val = [split_example(r) for r in read_shards(output / "val")]
    assert len(train) == stats["train_examples"] and len(val) == stats["val_examples"]
    with_tokens = [i for i, doc in enumerate(documents) if any(ids for _, ids in doc)]
    train_docs, train_assignments = walk(train, documents, with_tokens)
    rest = [i for i in with_tokens if i not in set(train_docs)]
    val_docs, _ = walk(val, documents, rest)
    # every document is in exactly one split (the split is by document), none is lost
    assert val_docs == rest
    n = len(with_tokens)
    assert abs(len(val_docs) / n - 0.1) < 4.5 * (0.09 / n) ** 0.5
    assert stats["documents"] == len(with_tokens) + sum(
        1 for i, doc in enumerate(documents) if i not in with_tokens
    )

    # decode examples back to text: each A segment is the corpus lines given to it, in order
    vocab = tokenizer.get_vocabulary()
    checked = 0
    for (first, _), (d, path) in zip(train, train_assignments):
        lines = [documents[d][m][0] for name, m in path if name == "A"]
        if 100 in first:  # [UNK]
            continue
        decoded = "".join(vocab[i].removeprefix("##") for i in first)
        source = "".join("".join(normalize(line).split()) for line in lines)
        assert source.startswith(decoded), (decoded, source)
        checked += 1
    assert checked > 0.95 * len(train)


def test_stats(prepared):
    output, stats, inputs = prepared
    on_disk = json.loads((output / "stats.json").read_text())
    assert on_disk["examples"] == stats["examples"] == stats["train_examples"] + stats[
        "val_examples"]
    assert stats["input_bytes"] == sum(os.path.getsize(p) for p in inputs)
    assert stats["mb_per_s"] > 0 and stats["seconds"] > 0
    assert 0.3 < stats["fill_ratio"] <= 1 and 0 <= stats["unk_rate"] < 0.01
    assert 0.1 < stats["segment_b_rate"] < 0.9
    assert sum(stats["train_shard_examples"]) == stats["train_examples"]
    assert max(stats["train_shard_examples"]) - min(stats["train_shard_examples"]) <= 1
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["complete"] and len(manifest["train_shards"]) == NUM_SHARDS
    assert sorted(os.listdir(output / "val")) == [
        f"pretrain_data.tfrecord-{i:05d}-of-{NUM_VAL_SHARDS:05d}" for i in range(NUM_VAL_SHARDS)]
    assert not (output / ".work").exists()


@pytest.mark.slow
def test_same_seed_identical_shards_for_any_worker_count(corpus_dir, bert_vocab_path, tmp_path):
    # One file cut into several work units (small chunk_bytes), so two workers share it.
    inputs = [str(corpus_dir / FILES[1])]
    common = dict(max_seq_length=MAX_LEN, num_shards=NUM_SHARDS, num_val_shards=1,
                  val_fraction=0.1, chunk_bytes=60_000, show_progress=False)
    one = prepare_pretraining_data(inputs, bert_vocab_path, tmp_path / "w1", seed=0, workers=1,
                                   **common)
    two = prepare_pretraining_data(inputs, bert_vocab_path, tmp_path / "w2", seed=0, workers=2,
                                   **common)
    assert one["work_units"] >= 4 and two["workers"] == 2
    for split in ("train", "val"):
        names = sorted(os.listdir(tmp_path / "w1" / split))
        assert names == sorted(os.listdir(tmp_path / "w2" / split))
        for name in names:
            assert (tmp_path / "w1" / split / name).read_bytes() == (
                tmp_path / "w2" / split / name).read_bytes()
    prepare_pretraining_data(inputs, bert_vocab_path, tmp_path / "s1", seed=1, workers=1,
                             **common)
    name = sorted(os.listdir(tmp_path / "w1" / "train"))[0]
    assert (tmp_path / "w1" / "train" / name).read_bytes() != (
        tmp_path / "s1" / "train" / name).read_bytes()
