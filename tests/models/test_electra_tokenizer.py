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
