"""ElectraTokenizer: BERT-uncased WordPiece with character offsets."""

import os
import unicodedata

import keras
import numpy as np
from keras_hub.tokenizers import WordPieceTokenizer

from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_preset_loaders import get_preset_loader
from keras_electra.models.electra_presets import KERAS_HUB_PRESETS
from keras_electra.models.keras_patches import keras_hub_lowercase_off
from keras_electra.utils.preset_dirs import KERAS_HUB, preset_kind
from keras_electra.utils.vocab_file import check_vocabulary, read_vocabulary_file

# G's BasicTokenizer._clean_text: U+0000, U+FFFD and every "C" character (Cc, Cf, Co, Cn:
# U+200B, U+200E, U+FEFF, the soft hyphen, \x0c, \x85 ...) except \t \n \r are deleted, so
# "ab\u200bcd" is the one word "abcd"; whitespace (\t \n \r, Unicode Zs: U+00A0, U+3000 ...)
# becomes " ". keras-hub splits at C characters and keeps Zs inside words (RE2's `\s` is ASCII).
# The same two sets in RE2 for the tf.data path; they agree with `unicodedata` on every
# character Python's Unicode version assigns (tests/models/test_electra_tokenizer.py).
G_DELETED_RE2 = r"[^\p{L}\p{M}\p{N}\p{P}\p{S}\p{Z}\t\n\r]|\x{fffd}"
G_SPACE_RE2 = r"\p{Zs}"


def _g_deleted(char):
    return char in "\x00\ufffd" or (
        char not in "\t\n\r" and unicodedata.category(char).startswith("C"))


def _g_space(char):
    return char in "\t\n\r" or unicodedata.category(char) == "Zs"


def _g_clean_python(inputs):
    """G's `_clean_text` over str/bytes/nested lists/arrays/eager tensors."""
    return _map_strings_python(
        lambda text: "".join(" " if _g_space(c) else c for c in text if not _g_deleted(c)),
        inputs)


def _g_clean_tf(inputs):
    import tensorflow as tf

    def clean(text):
        text = tf.strings.regex_replace(text, G_DELETED_RE2, "")
        return tf.strings.regex_replace(text, G_SPACE_RE2, " ")

    if isinstance(inputs, tf.RaggedTensor):
        return tf.ragged.map_flat_values(clean, inputs)
    return clean(tf.convert_to_tensor(inputs))


def _bert_normalize_with_index(text, lowercase, strip_accents):
    """G's `_clean_text`, then BERT uncased normalization (str.lower, NFD, drop Mn) with, per
    output char, the index of the source char it came from."""
    if lowercase:
        lowered = text.lower()
        if len(lowered) == len(text):  # usual case: keep str.lower's context rules
            text_chars = lowered
        else:  # e.g. "İ" -> "i̇": lower char by char to keep the index
            text_chars = [c.lower() for c in text]
    else:
        text_chars = text
    chars, index = [], []
    for i, c in enumerate(text_chars):
        if _g_deleted(c):
            continue
        if _g_space(c):
            c = " "
        elif strip_accents:
            c = "".join(x for x in unicodedata.normalize("NFD", c)
                        if unicodedata.category(x) != "Mn")
        chars.append(c)
        index.extend([i] * len(c))
    return "".join(chars), np.asarray(index + [len(text)], dtype=np.int64)


def _map_strings_python(fn, inputs):
    """`fn` over every string of str/bytes/nested lists/arrays/eager tensors."""
    if isinstance(inputs, str):
        return fn(inputs)
    if isinstance(inputs, bytes):
        return fn(inputs.decode("utf-8"))
    if isinstance(inputs, (list, tuple)):
        return [_map_strings_python(fn, x) for x in inputs]
    if isinstance(inputs, np.ndarray):
        flat = [_map_strings_python(fn, x) for x in inputs.reshape(-1).tolist()]
        return np.asarray(flat, dtype=object).reshape(inputs.shape)
    if hasattr(inputs, "numpy"):
        return _map_strings_python(fn, inputs.numpy())
    return inputs


def _bert_lower_python(inputs):
    """str.lower over str/bytes/nested lists/arrays (BERT, not NFKC casefold)."""
    return _map_strings_python(str.lower, inputs)


def _bert_lower_tf(inputs):
    import tensorflow as tf

    if isinstance(inputs, tf.RaggedTensor):
        return tf.ragged.map_flat_values(tf.strings.lower, inputs, encoding="utf-8")
    return tf.strings.lower(tf.convert_to_tensor(inputs), encoding="utf-8")


def _byte_to_char_index(text):
    """For each UTF-8 byte of `text`, the index of the character it belongs to."""
    lengths = [len(ch.encode("utf-8")) for ch in text]
    index = np.repeat(np.arange(len(text), dtype=np.int64), lengths)
    return np.append(index, len(text))


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraTokenizer(WordPieceTokenizer):
    """WordPiece tokenizer with ELECTRA/BERT-uncased conventions and offsets.

    A keras-hub `WordPieceTokenizer` (fast tensorflow-text path inside
    `tf.data`) that defaults to lower-casing and accent stripping like BERT's
    `do_lower_case=True`, cleans text as G's BasicTokenizer does (control and format
    characters such as U+200B deleted, so "ab\u200bcd" is one word; Unicode spaces such as
    U+00A0 are spaces), requires the five special tokens, and adds
    `tokenize_with_offsets`, which returns character offsets into the original
    strings (SQuAD needs them; keras-hub's tokenizers have none).

    Args:
        vocabulary: list of tokens or path of a `vocab.txt` (one token a line).
        lowercase: bool. Lower-case the input (default True, uncased models).
        strip_accents: bool. NFD + drop combining marks (default True).
        **kwargs: passed to `keras_hub.tokenizers.WordPieceTokenizer`.

    Example:
    ```python
    from keras_electra import ElectraTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "caf", "##e", "."]
    tokenizer = ElectraTokenizer(vocab)
    tokenizer("The Café.")                       # [5, 6, 7, 8]
    ids, starts, ends = tokenizer.tokenize_with_offsets(["The Café."])[0]
    # starts [0, 4, 7, 8], ends [3, 7, 8, 9]: "The", "Caf", "é", "."
    ```
    """

    backbone_cls = ElectraBackbone

    def __init__(self, vocabulary=None, lowercase=True, strip_accents=True, **kwargs):
        self._add_special_token("[CLS]", "cls_token")
        self._add_special_token("[SEP]", "sep_token")
        self._add_special_token("[PAD]", "pad_token")
        self._add_special_token("[MASK]", "mask_token")
        self._add_special_token("[CLS]", "start_token")
        self._add_special_token("[SEP]", "end_token")
        kwargs.setdefault("oov_token", "[UNK]")
        self._fast_bert = None
        super().__init__(
            vocabulary=vocabulary, lowercase=lowercase, strip_accents=strip_accents, **kwargs
        )

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """keras-hub's `Tokenizer.from_preset` (our presets), and keras-hub's own Electra
        presets (a name such as `"electra_small_discriminator_uncased_en"`, a handle, or a
        local dir of keras-hub's `ElectraBackbone`, e.g. `keras-electra export --to keras-hub`
        output): their vocabulary, with BERT-uncased conventions
        (`keras_electra.convert.keras_hub.tokenizer_from_keras_hub`)."""
        if isinstance(preset, str) and (preset in KERAS_HUB_PRESETS
                                        or preset_kind(preset) == KERAS_HUB):
            return get_preset_loader("ElectraTokenizer", KERAS_HUB)(preset)
        return super().from_preset(preset, **kwargs)

    def set_vocabulary(self, vocabulary):
        # A file is read and validated here (not by keras-hub, which would accept a file that
        # shifts or collides ids): `read_vocabulary_file` names the file and line.
        if isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = read_vocabulary_file(vocabulary)
        elif vocabulary is not None:
            check_vocabulary(list(vocabulary), "ElectraTokenizer vocabulary")
        self._fast_bert = None
        super().set_vocabulary(vocabulary)

    def tokenize(self, inputs):
        # G's `_clean_text` first (control / format characters deleted, Unicode spaces to " ").
        # BERT lower-cases with str.lower; keras-hub's `lowercase` is NFKC casefold
        # ("ß" -> "ss", final "ς" -> "σ"), which breaks ids parity with HF/G. So
        # lower-case here (both the Python and the tf.data path) and let the
        # parent strip accents and split (`keras_patches.keras_hub_lowercase_off`).
        tf_path = self._use_tf_workflow()
        inputs = _g_clean_tf(inputs) if tf_path else _g_clean_python(inputs)
        if not self.lowercase or self.special_tokens_in_strings:
            return super().tokenize(inputs)
        if tf_path:
            inputs = _bert_lower_tf(inputs)
        else:
            inputs = _bert_lower_python(inputs)
        with keras_hub_lowercase_off(self):
            return super().tokenize(inputs)

    def tokenize_with_offsets(self, texts):
        """Token ids with `[start, end)` character offsets into each text.

        Runs tensorflow-text's `FastBertTokenizer` (BERT basic tokenization +
        WordPiece) in one batch; its UTF-8 byte offsets are mapped to
        character offsets so `text[start:end]` is the exact source span of
        each WordPiece ("Café" -> "Caf", "é").

        Args:
            texts: a string or a list of strings.

        Returns:
            For a list: a list of `(ids, starts, ends)` int arrays, one triple
            per text; for a single string, one triple.
        """
        import tensorflow as tf

        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        if not batch:
            return []
        tokenizer = self._fast_bert_tokenizer()
        # Normalize as BERT does (str.lower, not casefold) before tf-text; keep the
        # char index so offsets point into the original strings.
        normalized = [_bert_normalize_with_index(t, self.lowercase, self.strip_accents)
                      for t in batch]
        ids, starts, ends = tokenizer.tokenize_with_offsets(
            tf.constant([n for n, _ in normalized]))
        if ids.shape.rank == 3:  # [batch, words, pieces] -> [batch, pieces]
            ids, starts, ends = (t.merge_dims(-2, -1) for t in (ids, starts, ends))
        results = []
        for (text, source), row_ids, row_starts, row_ends in zip(
            normalized, ids.to_list(), starts.to_list(), ends.to_list()
        ):
            row_starts = np.asarray(row_starts, dtype=np.int64)
            row_ends = np.asarray(row_ends, dtype=np.int64)
            if text.isascii():
                char_starts, char_ends = row_starts, row_ends
            else:
                index = _byte_to_char_index(text)
                char_starts = index[row_starts]
                char_ends = index[np.maximum(row_ends - 1, 0)] + 1
            # normalized chars -> source chars
            char_starts = source[char_starts]
            char_ends = source[np.maximum(char_ends - 1, 0)] + 1
            results.append((
                np.asarray(row_ids, dtype=np.int32),
                char_starts.astype(np.int32),
                char_ends.astype(np.int32),
            ))
        return results[0] if single else results

    def _fast_bert_tokenizer(self):
        if self._fast_bert is None:
            import tensorflow as tf
            import tensorflow_text as tf_text

            self._fast_bert = tf_text.FastBertTokenizer(
                vocab=list(self.vocabulary),
                suffix_indicator=self.suffix_indicator,
                unknown_token=self.oov_token,
                token_out_type=tf.int32,
                lower_case_nfd_strip_accents=False,  # done by _bert_normalize_with_index
            )
        return self._fast_bert
