"""ElectraTokenizer vs HF BertTokenizerFast(do_lower_case=True) on the shared SQuAD sample,
offsets back to the exact source characters, and vocabulary validation."""

import json
import unicodedata

import numpy as np
import pytest
from conftest import import_or_fail

from keras_electra import ElectraTokenizer


def squad_texts(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)["data"]
    texts = []
    for article in data:
        for paragraph in article["paragraphs"]:
            texts.append(paragraph["context"])
            texts.extend(qa["question"] for qa in paragraph["qas"])
    return texts


def bert_normalize(text):
    """BERT uncased: lower-case, NFD, drop combining marks."""
    return "".join(c for c in unicodedata.normalize("NFD", text.lower())
                   if unicodedata.category(c) != "Mn")


@pytest.fixture(scope="module")
def tokenizers(bert_vocab_path):
    return ElectraTokenizer(vocabulary=str(bert_vocab_path)), str(bert_vocab_path)


@pytest.fixture(scope="module")
def hf_ids(tokenizers, squad_sample_path):
    transformers = import_or_fail("transformers")
    # transformers 5: the vocab path is `vocab=` (a `vocab_file=` kwarg is silently ignored).
    hf = transformers.BertTokenizerFast(vocab=tokenizers[1], do_lower_case=True)
    assert hf("the rhine", add_special_tokens=False)["input_ids"] == [1996, 10950]
    texts = squad_texts(squad_sample_path)
    return texts, [hf(t, add_special_tokens=False)["input_ids"] for t in texts], hf


def _agreement(texts, ours, reference, what):
    mismatches = [i for i, (a, b) in enumerate(zip(ours, reference)) if list(a) != list(b)]
    for i in mismatches[:10]:
        print(f"{what} mismatch on text {i}: {texts[i][:80]!r}\n ours {list(ours[i])[:30]}\n"
              f" hf   {list(reference[i])[:30]}")
    return 1.0 - len(mismatches) / len(texts)


@pytest.mark.parity
def test_ids_match_hf_bert_tokenizer_fast(tokenizers, hf_ids):
    tokenizer, _ = tokenizers
    texts, reference, _ = hf_ids
    assert len(texts) > 400
    ours = [np.asarray(x).tolist() for x in tokenizer.tokenize(texts)]
    assert _agreement(texts, ours, reference, "tokenize") >= 0.999
    with_offsets = [ids.tolist() for ids, _, _ in tokenizer.tokenize_with_offsets(texts)]
    assert _agreement(texts, with_offsets, reference, "tokenize_with_offsets") >= 0.999
    # The tf.data (graph) path, as used for pretraining / SQuAD features.
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(128).map(tokenizer)
    graph = [row for batch in dataset for row in batch.to_list()]
    assert _agreement(texts, graph, reference, "tf.data tokenize") >= 0.999
    # The cases keras-hub's NFKC casefold gets wrong ("ß" -> "ss", final sigma).
    hard = ["Fußach", "Straße", "Ῥῆνος Rhenos", "ﬁne ｆｕｌｌ"]
    hf_hard = [hf_ids[2](t, add_special_tokens=False)["input_ids"] for t in hard]
    assert [np.asarray(x).tolist() for x in tokenizer.tokenize(hard)] == hf_hard
    assert [ids.tolist() for ids, _, _ in tokenizer.tokenize_with_offsets(hard)] == hf_hard


def test_offsets_map_back_to_source_characters(tokenizers, squad_sample_path):
    tokenizer, _ = tokenizers
    texts = squad_texts(squad_sample_path)
    unk = tokenizer.token_to_id("[UNK]")
    checked = non_ascii = 0
    for text, (ids, starts, ends) in zip(texts, tokenizer.tokenize_with_offsets(texts)):
        assert len(ids) == len(starts) == len(ends) > 0
        assert np.all(np.diff(starts) > 0) and np.all(ends > starts) and ends.max() <= len(text)
        non_ascii += not text.isascii()
        for token_id, start, end in zip(ids, starts, ends):
            if token_id == unk:
                continue
            piece = tokenizer.id_to_token(int(token_id)).removeprefix("##")
            assert bert_normalize(text[start:end]) == piece, (text[start:end], piece)
            checked += 1
    assert checked > 10_000 and non_ascii > 0


def test_single_string_and_accents(tokenizers):
    tokenizer, _ = tokenizers
    text = "Graubünden,  Café."
    ids, starts, ends = tokenizer.tokenize_with_offsets(text)
    assert tokenizer.token_to_id("[UNK]") not in ids.tolist()
    # The pieces cover every non-space character exactly once, in order.
    assert "".join(text[s:e] for s, e in zip(starts, ends)) == text.replace(" ", "")
    assert [text[s:e] for s, e in zip(starts, ends)][-1] == "."


def test_vocabulary_validation(tmp_path):
    with pytest.raises(ValueError, match=r"missing the special tokens \['\[MASK\]'\]"):
        ElectraTokenizer(vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"])
    with pytest.raises(ValueError, match="duplicate tokens"):
        ElectraTokenizer(vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "a"])
    with pytest.raises(FileNotFoundError, match="vocab_missing.txt"):
        ElectraTokenizer(vocabulary=str(tmp_path / "vocab_missing.txt"))
    tokenizer = ElectraTokenizer(
        vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"])
    assert (tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id,
            tokenizer.mask_token_id) == (0, 2, 3, 4)


# G's BasicTokenizer deletes control and format characters (U+200B inside a word leaves one
# word) and reads Unicode spaces as spaces; keras-hub split at the former and kept the latter
# inside words ("nbsp\xa0here" was one [UNK]).
G_CLEAN_CASES = [
    "ab\u200bcd", "the\u200ecat sat", "\ufeffhello world", "soft\u00adhyphen",
    "a\x0cb c", "x\x85y", "vt\x0bx", "nul\x00x", "rep\ufffdx", "fs\x1cx", "pri\ue000vate",
    "nbsp\u00a0here", "ideo\u3000space", "thin\u2009space", "Caf\u200bé, (東\u200b京).",
    "\u200b", "tab\there\nnew\rline",
]


def _g_ids(vocab_path, texts):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "squad"))
    import g_squad_reference as G

    from keras_electra.utils.vocab_file import read_vocabulary_file

    g = G.FullTokenizer(read_vocabulary_file(str(vocab_path)))
    return [g.convert_tokens_to_ids(g.tokenize(t)) for t in texts], G


def test_control_format_characters_and_unicode_spaces_tokenize_as_g(tokenizers):
    import tensorflow as tf

    tokenizer, vocab_path = tokenizers
    expected, G = _g_ids(vocab_path, G_CLEAN_CASES)
    assert expected[0] == [tokenizer.token_to_id("abc"), tokenizer.token_to_id("##d")]
    python = [np.asarray(tokenizer.tokenize(t)).tolist() for t in G_CLEAN_CASES]
    assert python == expected
    dataset = tf.data.Dataset.from_tensor_slices(G_CLEAN_CASES).batch(8).map(tokenizer)
    assert [row for batch in dataset for row in batch.to_list()] == expected  # tf.data path
    with_offsets = tokenizer.tokenize_with_offsets(G_CLEAN_CASES)
    assert [ids.tolist() for ids, _, _ in with_offsets] == expected
    # offsets point into the source text: a piece's span, cleaned as G cleans, is the piece
    clean = G.BasicTokenizer()._clean_text
    unk = tokenizer.token_to_id("[UNK]")
    for text, (ids, starts, ends) in zip(G_CLEAN_CASES, with_offsets):
        for token_id, start, end in zip(ids, starts, ends):
            if token_id != unk:
                piece = tokenizer.id_to_token(int(token_id)).removeprefix("##")
                assert bert_normalize(clean(text[start:end])) == piece, (text, start, end)
    ids, starts, ends = with_offsets[0]
    assert (starts.tolist(), ends.tolist()) == ([0, 4], [4, 5])  # "ab\u200bc" + "d"
    # `prepare`'s batch tokenizer (pretraining shards)
    from keras_electra.data.unit_worker import BatchTokenizer

    flat, splits = BatchTokenizer(tokenizer.get_vocabulary())(G_CLEAN_CASES)
    assert [flat[a:b] for a, b in zip(splits, splits[1:])] == expected


def test_g_character_sets_in_re2_agree_with_unicodedata():
    """The tf.data path's RE2 classes delete / space exactly the characters G's `_clean_text`
    does, for every character Python's Unicode version assigns (RE2's tables may be newer:
    characters unassigned in Python's version are left out)."""
    import tensorflow as tf

    from keras_electra.models.electra_tokenizer import (
        G_DELETED_RE2,
        G_SPACE_RE2,
        _g_deleted,
        _g_space,
    )

    chars = [chr(i) for i in range(0x30000) if not 0xD800 <= i < 0xE000
             and unicodedata.category(chr(i)) != "Cn"]
    for pattern, predicate, spaces in ((G_DELETED_RE2, _g_deleted, False),
                                       (G_SPACE_RE2, _g_space, True)):
        marker = "\U0010fffd"  # not among `chars`
        marked = tf.strings.regex_replace(tf.constant(chars), pattern, marker).numpy()
        got = [m.decode() == marker for m in marked]
        want = [predicate(c) and not (spaces and c in "\t\n\r") for c in chars]
        wrong = [hex(ord(c)) for c, a, b in zip(chars, got, want) if a != b]
        assert not wrong and sum(want) > 10, (pattern, wrong[:10])
