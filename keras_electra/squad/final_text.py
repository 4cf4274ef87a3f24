"""Answer texts as G builds them, and the whole-word variant for people reading answers.

G (google-research/electra `finetune/qa/qa_metrics.py`, `SpanBasedQAScorer.write_predictions`
and `get_final_text`; BERT `run_squad.py` `write_predictions` / `get_final_text` and HF
`transformers` `squad_metrics.compute_predictions_logits` do the same) makes the text of a span
`[start, end]` of WordPiece positions like this:

1. `tok_text`: the span's WordPieces joined by spaces, `" ##"` then `"##"` removed, whitespace
   collapsed;
2. `orig_text`: the whitespace words of the context that the first and last piece belong to
   (`finetune/qa/qa_tasks.py` splits the context on space, tab, CR, LF and U+202F), joined by
   single spaces;
3. `get_final_text(tok_text, orig_text, do_lower_case)`: run BERT's `BasicTokenizer` over
   `orig_text`, find the first occurrence of `tok_text` in its space-joined tokens, and map it
   back character by character (spaces removed on both sides); whenever that fails (no
   occurrence, e.g. a `[UNK]` piece; lengths differ because `BasicTokenizer` dropped characters
   such as U+200B; a position does not map) the text is the whole `orig_text`.

Where a question has no valid span at all, G's n-best holds the single text `"empty"`.

`whole_words=True` (`keras-electra answer --whole_words`) is not G's: the text is the exact
context characters of the span, widened so that it neither starts nor ends inside a word
(a word: a run of letters, digits and marks; CJK ideographs are words of their own).

Example:
```python
from keras_electra.squad.final_text import get_final_text, join_pieces, widen_to_words

join_pieces(["ele", "##ct", "##ra", "detects"])     # "electra detects"
get_final_text("steve smith", "Steve Smith's")       # "Steve Smith"
get_final_text("ra", "ELECTRA")                       # "RA"
widen_to_words("ELECTRA detects", 5, 7)               # (0, 7): "ELECTRA"
```
"""

import unicodedata

# G finetune/qa/qa_tasks.py `_is_whitespace`: how the context is split into doc_tokens
_DOC_WHITESPACE = frozenset(" \t\r\n\u202f")


def _is_whitespace(char):
    """BERT/ELECTRA `model/tokenization.py` `_is_whitespace`."""
    if char in " \t\n\r":
        return True
    return unicodedata.category(char) == "Zs"


def _is_control(char):
    """BERT/ELECTRA `model/tokenization.py` `_is_control`."""
    if char in "\t\n\r":
        return False
    return unicodedata.category(char).startswith("C")


def _is_punctuation(char):
    """BERT/ELECTRA `model/tokenization.py` `_is_punctuation`."""
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(cp):
    """BERT/ELECTRA `BasicTokenizer._is_chinese_char`."""
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text, do_lower_case=True, strip_accents=True):
    """ELECTRA `model/tokenization.py` `BasicTokenizer(do_lower_case).tokenize(text)`."""
    cleaned = []
    for char in text:
        cp = ord(char)
        if cp == 0 or cp == 0xFFFD or _is_control(char):
            continue
        if _is_whitespace(char):
            cleaned.append(" ")
        elif _is_cjk(cp):
            cleaned.extend((" ", char, " "))
        else:
            cleaned.append(char)
    split_tokens = []
    for token in "".join(cleaned).split():
        if do_lower_case:
            token = token.lower()
            if strip_accents:
                token = "".join(c for c in unicodedata.normalize("NFD", token)
                                if unicodedata.category(c) != "Mn")
        current = None
        for char in token:
            if _is_punctuation(char):
                split_tokens.append(char)
                current = None
            else:
                if current is None:
                    split_tokens.append("")
                    current = len(split_tokens) - 1
                split_tokens[current] += char
    return " ".join(split_tokens).split()


def join_pieces(pieces):
    """G's `tok_text`: WordPieces joined by spaces, `##` removed, whitespace collapsed."""
    text = " ".join(pieces).replace(" ##", "").replace("##", "")
    return " ".join(text.strip().split())


def _strip_spaces(text):
    kept, index = [], []
    for i, char in enumerate(text):
        if char != " ":
            kept.append(char)
            index.append(i)
    return "".join(kept), index


def final_text_span(pred_text, orig_text, do_lower_case=True):
    """`get_final_text` with the `[start, end)` of its answer inside `orig_text`."""
    tok_text = " ".join(basic_tokenize(orig_text, do_lower_case))
    start_position = tok_text.find(pred_text)
    if start_position == -1:
        return orig_text, 0, len(orig_text)
    end_position = start_position + len(pred_text) - 1
    orig_ns, orig_ns_to_s = _strip_spaces(orig_text)
    tok_ns, tok_ns_to_s = _strip_spaces(tok_text)
    if len(orig_ns) != len(tok_ns):
        return orig_text, 0, len(orig_text)
    tok_s_to_ns = {s: ns for ns, s in enumerate(tok_ns_to_s)}
    if start_position not in tok_s_to_ns or end_position not in tok_s_to_ns:
        return orig_text, 0, len(orig_text)
    start = orig_ns_to_s[tok_s_to_ns[start_position]]
    end = orig_ns_to_s[tok_s_to_ns[end_position]] + 1
    return orig_text[start:end], start, end


def get_final_text(pred_text, orig_text, do_lower_case=True):
    """G/BERT `get_final_text`: `pred_text` projected back onto `orig_text`."""
    return final_text_span(pred_text, orig_text, do_lower_case)[0]


class ContextWords:
    """G's doc_tokens of one context: whitespace words with their character ranges."""

    def __init__(self, context):
        self.context = context
        self.starts, self.ends = [], []
        self.char_to_word = [-1] * len(context)
        previous_space = True
        for i, char in enumerate(context):
            if char in _DOC_WHITESPACE:
                previous_space = True
                continue
            if previous_space:
                self.starts.append(i)
                self.ends.append(i + 1)
            else:
                self.ends[-1] = i + 1
            previous_space = False
            self.char_to_word[i] = len(self.starts) - 1

    def text_and_chars(self, first_word, last_word, pred_text, do_lower_case):
        """G's final text of a span over words `first_word..last_word`, and its `[start, end)`
        in the context (the text equals `context[start:end]` unless the words are separated by
        more than one space)."""
        words = [self.context[self.starts[k]:self.ends[k]]
                 for k in range(first_word, last_word + 1)]
        orig_text = " ".join(words)
        text, start, end = final_text_span(pred_text, orig_text, do_lower_case)

        def to_context(position):  # a character of orig_text -> its context index
            for k, word in enumerate(words):
                if position < len(word):
                    return self.starts[first_word + k] + position
                position -= len(word) + 1
            raise AssertionError("position outside orig_text")

        return text, to_context(start), to_context(end - 1) + 1


def _is_word_char(char):
    return (unicodedata.category(char)[0] in "LNM") and not _is_cjk(ord(char))


def widen_to_words(context, start, end):
    """`[start, end)` widened to the whole words it touches (never starts/ends inside one)."""
    while start > 0 and _is_word_char(context[start - 1]) and _is_word_char(context[start]):
        start -= 1
    while (end < len(context) and _is_word_char(context[end - 1])
           and _is_word_char(context[end])):
        end += 1
    return start, end


def vocabulary_lookup(tokenizer):
    """`(id -> piece, do_lower_case)` from an `ElectraTokenizer`, a list of pieces or a dict."""
    if isinstance(tokenizer, dict):
        return tokenizer, True
    if isinstance(tokenizer, (list, tuple)):
        return dict(enumerate(tokenizer)), True
    vocabulary = list(tokenizer.get_vocabulary())
    return dict(enumerate(vocabulary)), bool(getattr(tokenizer, "lowercase", True))
