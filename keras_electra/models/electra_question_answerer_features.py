"""QA features: sliding windows over WordPiece tokens with character offsets.

`ElectraQuestionAnswererPreprocessor.featurize` runs this; the SQuAD package
publishes it as `keras_electra.squad.features`. `examples` are any objects with
`qas_id`, `question`, `context`, `answers` and `is_impossible` (as
`keras_electra.squad.reader.SquadExample`).

G `finetune/qa/qa_tasks.py` (section 6.2 of the reference), except that the
answer span is located through the tokenizer's character offsets instead of
the whitespace-word map + `_improve_answer_span` (the offsets give the
tightest token span directly, and post-processing can return the exact
original characters):

* question WordPiece-tokenized and truncated to `max_query_length` (64);
* `max_tokens_for_doc = max_seq_length - len(query) - 3`; windows start at 0,
  the next start moves by `min(window_len, doc_stride)`, and the loop stops
  once a window reaches the end of the context;
* `[CLS] query [SEP] window [SEP]`, segment 0 for `[CLS] query [SEP]`, 1 for
  the window and the last `[SEP]`; padded to `max_seq_length`;
* `token_is_max_context`: a context token belongs to the window maximising
  `min(left, right) + 0.01 * window_len`;
* labels: answerable and inside the window -> token positions; answerable but
  outside -> `[CLS]` (0) with `is_impossible` 0 (G keeps such features);
  unanswerable -> 0 with `is_impossible` 1.

Example:
```python
from keras_electra import ElectraTokenizer
from keras_electra.models.electra_question_answerer_features import (
    convert_examples_to_features,
)
from keras_electra.squad.reader import SquadExample

vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "rhine", "flows",
         "into", "north", "sea", "where", "does", "it", "flow", "?", "."]
tokenizer = ElectraTokenizer(vocab)
example = SquadExample("q1", "Where does it flow?", "The Rhine flows into the North Sea.",
                       [("the North Sea", 21)])
features = convert_examples_to_features([example], tokenizer, max_seq_length=24,
                                        progress=False)
features.start_positions, features.end_positions  # [11], [13]
```
"""

import dataclasses

import numpy as np


@dataclasses.dataclass
class SquadFeatures:
    """Model inputs, labels and the maps post-processing needs, as numpy arrays.

    N = number of features (windows), S = `max_seq_length`.

    Attributes:
        examples: the `SquadExample` list the features were built from.
        token_ids, segment_ids, padding_mask: int32 `[N, S]`.
        start_positions, end_positions, is_impossible: int32 `[N]` labels.
        example_index: int32 `[N]`, index into `examples`.
        window_index: int32 `[N]`, window number within its example.
        token_char_start, token_char_end: int32 `[N, S]`, `[start, end)` of
            each context token in `examples[i].context`; -1 elsewhere
            ([CLS], question, [SEP], padding).
        token_is_max_context: bool `[N, S]`.
    """

    examples: list
    token_ids: np.ndarray
    segment_ids: np.ndarray
    padding_mask: np.ndarray
    start_positions: np.ndarray
    end_positions: np.ndarray
    is_impossible: np.ndarray
    example_index: np.ndarray
    window_index: np.ndarray
    token_char_start: np.ndarray
    token_char_end: np.ndarray
    token_is_max_context: np.ndarray

    def __len__(self):
        return len(self.token_ids)

    def inputs(self):
        """`{"token_ids", "segment_ids", "padding_mask"}`: the backbone inputs."""
        return {"token_ids": self.token_ids, "segment_ids": self.segment_ids,
                "padding_mask": self.padding_mask}

    def labels(self):
        """`{"start_positions", "end_positions", "is_impossible"}`."""
        return {"start_positions": self.start_positions, "end_positions": self.end_positions,
                "is_impossible": self.is_impossible}


def window_starts(num_doc_tokens, max_tokens_for_doc, doc_stride):
    """G's sliding windows: list of `(start, length)` over the context tokens."""
    spans, start = [], 0
    while start < num_doc_tokens:
        length = min(num_doc_tokens - start, max_tokens_for_doc)
        spans.append((start, length))
        if start + length == num_doc_tokens:
            break
        start += min(length, doc_stride)
    if not spans:  # a context that tokenizes to nothing still gets one window
        spans.append((0, 0))
    return spans


def is_max_context(spans, span_index, position):
    """G `_check_is_max_context`: is `spans[span_index]` the best window for `position`.

    The reference for one position (it scores every window); `max_context_flags` computes
    all positions of all windows in linear time with the same result."""
    best_score, best_index = None, None
    for index, (start, length) in enumerate(spans):
        end = start + length - 1
        if position < start or position > end:
            continue
        score = min(position - start, end - position) + 0.01 * length
        if best_score is None or score > best_score:
            best_score, best_index = score, index
    return best_index == span_index


def max_context_flags(spans):
    """`token_is_max_context` of every window at once: one bool array per span (its
    `length` context tokens), equal to `is_max_context(spans, w, start + i)` for each.

    Linear in the context length: a position is only scored against the windows that
    overlap its own window (found by binary search: `window_starts` gives increasing starts
    and ends), not against all of them, which made a long context quadratic (a 1 MB context:
    ~1,600 windows, ~10^9 window checks). Ties go to the first window, as in G's strict `>`.
    """
    if not spans:
        return []
    starts = np.asarray([start for start, _ in spans], np.int64)
    lengths = np.asarray([length for _, length in spans], np.int64)
    ends = starts + lengths - 1
    ordered = bool(np.all(np.diff(starts) >= 0) and np.all(np.diff(ends) >= 0))
    flags = []
    for window, (start, length) in enumerate(spans):
        if length <= 0:
            flags.append(np.zeros(0, bool))
            continue
        last = start + length - 1
        if ordered:  # the windows overlapping [start, last]: a contiguous index range
            low = int(np.searchsorted(ends, start, side="left"))
            high = int(np.searchsorted(starts, last, side="right"))
        else:
            low, high = 0, len(spans)
        positions = np.arange(start, last + 1, dtype=np.int64)[None, :]
        s, e, n = starts[low:high, None], ends[low:high, None], lengths[low:high, None]
        score = np.minimum(positions - s, e - positions) + 0.01 * n
        score = np.where((positions >= s) & (positions <= e), score, -np.inf)
        flags.append(low + np.argmax(score, axis=0) == window)
    return flags


def answer_token_span(char_starts, char_ends, answer_start, answer_text):
    """Tightest `[first, last]` context-token span covering the answer characters.

    Returns `None` when no token overlaps the answer (e.g. whitespace only).
    """
    answer_end = answer_start + len(answer_text)  # exclusive
    overlapping = np.nonzero((char_ends > answer_start) & (char_starts < answer_end))[0]
    if len(overlapping) == 0:
        return None
    return int(overlapping[0]), int(overlapping[-1])


# The per-window values `convert_examples_to_features` collects, in `SquadFeatures`' order.
FEATURE_KEYS = ("token_ids", "segment_ids", "padding_mask", "start_positions",
                "end_positions", "is_impossible", "example_index", "window_index",
                "token_char_start", "token_char_end", "token_is_max_context")


def convert_examples_to_features(examples, tokenizer, max_seq_length=384, doc_stride=128,
                                 max_query_length=64, is_training=True, progress=True):
    """Builds the windows, inputs and labels for a list of `SquadExample`.

    Args:
        examples: list of `keras_electra.squad.reader.SquadExample`.
        tokenizer: an `ElectraTokenizer` (needs `tokenize_with_offsets`).
        max_seq_length: int. Padded length S (G 512, HF/A 384).
        doc_stride: int. Window stride (128).
        max_query_length: int. Question tokens kept (64).
        is_training: bool. Labels are always computed when an example has
            answers; this only controls the progress-bar text.
        progress: bool. Show a tqdm progress bar.

    Returns:
        `SquadFeatures`.
    """
    special_ids = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id
    contexts, question_ids = _tokenize_texts(examples, tokenizer)
    rows = {k: [] for k in FEATURE_KEYS}
    iterator = examples
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(examples, desc="SQuAD features" + (" (train)" if is_training else ""),
                        unit="question")
    for example_index, example in enumerate(iterator):
        query = question_ids[example.question][:max_query_length]
        doc = contexts[example.context]
        gold = _gold_token_span(example, doc)
        max_tokens_for_doc = max_seq_length - len(query) - 3
        if max_tokens_for_doc < 1:
            raise ValueError(
                f"question {example.qas_id}: max_seq_length={max_seq_length} leaves no room for "
                f"the context after its {len(query)}-token question; raise max_seq_length or "
                f"lower max_query_length (now {max_query_length})")
        spans = window_starts(len(doc[0]), max_tokens_for_doc, doc_stride)
        flags = max_context_flags(spans)
        for window, span in enumerate(spans):
            row = _window_row(special_ids, query, doc, span, flags[window], gold, max_seq_length)
            row.update(is_impossible=int(example.is_impossible), example_index=example_index,
                       window_index=window)
            for key in FEATURE_KEYS:
                rows[key].append(row[key])
    return _stack_features(examples, rows, max_seq_length)


def _tokenize_texts(examples, tokenizer):
    """One tokenizer call for every distinct context and question (fast path).

    Returns `({context: (ids, char_starts, char_ends)}, {question: ids})`."""
    contexts = list(dict.fromkeys(e.context for e in examples))
    questions = list(dict.fromkeys(e.question for e in examples))
    tokenized = tokenizer.tokenize_with_offsets(contexts + questions) if examples else []
    context_tokens = dict(zip(contexts, tokenized[:len(contexts)]))
    question_ids = {q: t[0] for q, t in zip(questions, tokenized[len(contexts):])}
    return context_tokens, question_ids


def _gold_token_span(example, doc):
    """The label's `[first, last]` context-token span, or None (unanswerable, or no token
    overlaps the answer)."""
    if example.is_impossible or not example.answers:
        return None
    text, start = example.answers[0]  # G/HF: the first answer is the label
    _, doc_starts, doc_ends = doc
    return answer_token_span(doc_starts, doc_ends, start, text)


def _window_row(special_ids, query, doc, span, max_context_flags_, gold, max_seq_length):
    """`[CLS] query [SEP] window [SEP]` padded to `max_seq_length`: the window's inputs,
    character offsets, max-context flags and start/end labels, as a dict of FEATURE_KEYS."""
    cls_id, sep_id, pad_id = special_ids
    doc_ids, doc_starts, doc_ends = doc
    doc_start, length = span
    offset = len(query) + 2
    token_ids = np.full(max_seq_length, pad_id, np.int32)
    segment_ids = np.zeros(max_seq_length, np.int32)
    char_start = np.full(max_seq_length, -1, np.int32)
    char_end = np.full(max_seq_length, -1, np.int32)
    max_context = np.zeros(max_seq_length, bool)
    token_ids[0] = cls_id
    token_ids[1:offset - 1] = query
    token_ids[offset - 1] = sep_id
    token_ids[offset:offset + length] = doc_ids[doc_start:doc_start + length]
    token_ids[offset + length] = sep_id
    segment_ids[offset:offset + length + 1] = 1
    char_start[offset:offset + length] = doc_starts[doc_start:doc_start + length]
    char_end[offset:offset + length] = doc_ends[doc_start:doc_start + length]
    max_context[offset:offset + length] = max_context_flags_
    padding_mask = np.zeros(max_seq_length, np.int32)
    padding_mask[:offset + length + 1] = 1
    start_position = end_position = 0
    if gold is not None and doc_start <= gold[0] and gold[1] < doc_start + length:
        start_position = gold[0] - doc_start + offset
        end_position = gold[1] - doc_start + offset
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask,
            "start_positions": start_position, "end_positions": end_position,
            "token_char_start": char_start, "token_char_end": char_end,
            "token_is_max_context": max_context}


def _stack_features(examples, rows, max_seq_length):
    """The collected per-window `rows` -> `SquadFeatures` of numpy arrays."""

    def stack(key, dtype, shape):
        return np.asarray(rows[key], dtype).reshape(shape)

    matrix, vector = (-1, max_seq_length), (-1,)
    return SquadFeatures(
        examples=list(examples),
        token_ids=stack("token_ids", np.int32, matrix),
        segment_ids=stack("segment_ids", np.int32, matrix),
        padding_mask=stack("padding_mask", np.int32, matrix),
        start_positions=stack("start_positions", np.int32, vector),
        end_positions=stack("end_positions", np.int32, vector),
        is_impossible=stack("is_impossible", np.int32, vector),
        example_index=stack("example_index", np.int32, vector),
        window_index=stack("window_index", np.int32, vector),
        token_char_start=stack("token_char_start", np.int32, matrix),
        token_char_end=stack("token_char_end", np.int32, matrix),
        token_is_max_context=stack("token_is_max_context", bool, matrix),
    )
