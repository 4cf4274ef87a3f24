"""The linear `max_context_flags` (issue 25: `answer` on a 1 MB context was quadratic in the
number of windows) gives exactly G's `_check_is_max_context` rule (`is_max_context`, which
scores every window for every position), and so the same features and answers."""

import numpy as np
import pytest

from keras_electra.models.electra_question_answerer_features import (
    convert_examples_to_features,
    is_max_context,
    max_context_flags,
    window_starts,
)
from keras_electra.squad.reader import SquadExample


def _reference(spans):
    return [np.array([is_max_context(spans, w, start + i) for i in range(length)], bool)
            for w, (start, length) in enumerate(spans)]


@pytest.mark.parametrize("num_tokens,max_tokens,stride", [
    (0, 10, 4), (1, 10, 4), (10, 10, 4), (11, 10, 4), (57, 10, 3), (100, 17, 5),
    (200, 30, 30), (95, 12, 40), (64, 9, 1), (333, 50, 7),
])
def test_flags_equal_the_reference_rule(num_tokens, max_tokens, stride):
    spans = window_starts(num_tokens, max_tokens, stride)
    ours, reference = max_context_flags(spans), _reference(spans)
    assert len(ours) == len(reference)
    for a, b in zip(ours, reference):
        np.testing.assert_array_equal(a, b)


def test_unordered_spans_fall_back_to_every_window():
    spans = [(10, 5), (0, 12), (4, 4)]  # not from window_starts: no order to exploit
    for a, b in zip(max_context_flags(spans), _reference(spans)):
        np.testing.assert_array_equal(a, b)


def test_features_on_long_contexts_equal_the_per_position_rule(bert_vocab_path):
    """Whole feature sets (several contexts, strides) equal those of the old per-position
    loop, so post-processing picks the same answers."""
    from keras_electra import ElectraTokenizer

    tokenizer = ElectraTokenizer(str(bert_vocab_path))
    sentence = "The Rhine flows into the North Sea near Rotterdam, past Cologne and Basel. "
    examples = [SquadExample(str(i), "Where does the Rhine flow?", sentence * n,
                             [("the North Sea", 21)] if n % 2 else [])
                for i, n in enumerate((1, 7, 23, 40))]
    for stride in (5, 16, 64):
        features = convert_examples_to_features(examples, tokenizer, max_seq_length=48,
                                                doc_stride=stride, max_query_length=12,
                                                progress=False)
        for index, example in enumerate(examples):
            rows = np.nonzero(features.example_index == index)[0]
            lengths = [int(np.sum(features.token_char_start[r] >= 0)) for r in rows]
            num_tokens = len(tokenizer.tokenize_with_offsets([example.context])[0][0])
            spans = window_starts(num_tokens, lengths[0] if len(rows) > 1 else 48, stride)
            assert [length for _, length in spans] == lengths
            for row, flags in zip(rows, _reference(spans)):
                got = features.token_is_max_context[row][features.token_char_start[row] >= 0]
                np.testing.assert_array_equal(got, flags)
