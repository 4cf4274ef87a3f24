"""G's packing (ExampleBuilder) against a transcription of G's code, and its statistics."""

import math
import random

import numpy as np
import pytest

from keras_electra.data.example_packing import (
    ExampleBuilder,
    ExampleSerializer,
    example_arrays,
    serialize_example,
)

CLS, SEP = 101, 102


class GExampleBuilder:
    """Transcription of google-research/electra build_pretraining_dataset.ExampleBuilder
    (reference spec section 4.1), with `random` replaced by an injected generator and the
    tokenizer replaced by pre-tokenized lines; `None` is a blank line."""

    def __init__(self, max_length, rand):
        self.random = rand
        self._current_sentences = []
        self._current_length = 0
        self._max_length = max_length
        self._target_length = max_length

    def add_line(self, tokids):
        if tokids is None and self._current_length != 0:
            return self._create_example()
        tokids = tokids or []
        self._current_sentences.append(tokids)
        self._current_length += len(tokids)
        if self._current_length >= self._target_length:
            return self._create_example()
        return None

    def _create_example(self):
        if self.random.random() < 0.1:
            first_segment_target_length = 100000
        else:
            first_segment_target_length = (self._target_length - 3) // 2
        first_segment = []
        second_segment = []
        for sentence in self._current_sentences:
            if (len(first_segment) == 0 or
                    len(first_segment) + len(sentence) < first_segment_target_length or
                    (len(second_segment) == 0 and
                     len(first_segment) < first_segment_target_length and
                     self.random.random() < 0.5)):
                first_segment += sentence
            else:
                second_segment += sentence
        first_segment = first_segment[:self._max_length - 2]
        second_segment = second_segment[:max(0, self._max_length - len(first_segment) - 3)]
        self._current_sentences = []
        self._current_length = 0
        if self.random.random() < 0.05:
            self._target_length = self.random.randint(5, self._max_length)
        else:
            self._target_length = self._max_length
        return self._make_example(first_segment, second_segment)

    def _make_example(self, first_segment, second_segment):
        input_ids = [CLS] + first_segment + [SEP]
        segment_ids = [0] * len(input_ids)
        if second_segment:
            input_ids += second_segment + [SEP]
            segment_ids += [1] * (len(second_segment) + 1)
        input_mask = [1] * len(input_ids)
        input_ids += [0] * (self._max_length - len(input_ids))
        input_mask += [0] * (self._max_length - len(input_mask))
        segment_ids += [0] * (self._max_length - len(segment_ids))
        return input_ids, input_mask, segment_ids


def synthetic_lines(rng, num_documents, max_sentence):
    """Tokenized documents with blank lines (None) between them, some empty sentences."""
    lines = []
    for _ in range(num_documents):
        for _ in range(rng.randint(1, 30)):
            lines.append([rng.randrange(1000, 30000) for _ in range(rng.randint(0, max_sentence))])
        for _ in range(rng.randint(1, 2)):
            lines.append(None)
    return lines


@pytest.mark.parametrize("max_length,max_sentence", [(128, 40), (32, 60), (512, 200)])
def test_identical_to_g_transcription(max_length, max_sentence):
    lines = synthetic_lines(random.Random(7), 400, max_sentence)
    reference = GExampleBuilder(max_length, random.Random(123))
    builder = ExampleBuilder(max_length, random.Random(123))
    expected, produced = [], []
    for line in lines:
        g_example = reference.add_line(line)
        if g_example:
            expected.append(g_example)
        example = builder.end_document() if line is None else builder.add_sentence(line)
        if example is not None:
            produced.append(tuple(a.tolist() for a in example_arrays(*example, max_length,
                                                                     CLS, SEP)))
    g_example = reference.add_line(None)  # G's end of file
    if g_example:
        expected.append(g_example)
    example = builder.end_document()
    if example is not None:
        produced.append(tuple(a.tolist() for a in example_arrays(*example, max_length, CLS, SEP)))
    assert len(expected) > 300
    assert produced == [tuple(e) for e in expected]


def _binomial_tolerance(p, n, sigmas=4.5):
    return sigmas * math.sqrt(p * (1 - p) / n)


def test_single_segment_and_short_target_rates():
    # One-token sentences in very long documents: an example holds exactly `target` text tokens,
    # so a short target t <= max - 4 is visible as an unfilled example, and a two-segment
    # example always has a B segment (A stops at its target), so "no B" means a single-segment
    # draw (G: p = 0.1); short targets (G: p = 0.05) are uniform in [5, max].
    max_length = 128
    builder = ExampleBuilder(max_length, random.Random(2024))
    examples = []
    token = 1000
    while len(examples) < 12000:
        example = builder.add_sentence([token])
        token = token + 1 if token < 29000 else 1000
        if example is not None:
            examples.append(example)
    n = len(examples)
    no_b = sum(1 for _, b in examples if not b) / n
    assert abs(no_b - 0.1) < _binomial_tolerance(0.1, n), no_b
    lengths = np.array([len(a) + len(b) for a, b in examples])
    # positions used: A + B + [CLS] + [SEP] (+ [SEP]); full targets fill all 128.
    positions = np.array([len(a) + len(b) + 2 + (1 if b else 0) for a, b in examples])
    short = positions < max_length
    # a short target t fills t + 3 positions (two segments) or t + 2 (single segment)
    p_short = 0.05 * (0.9 * (124 - 5 + 1) + 0.1 * (125 - 5 + 1)) / (max_length - 5 + 1)
    # the first example always has the full target; example i>0 has the target drawn after i-1
    assert abs(short[1:].mean() - p_short) < _binomial_tolerance(p_short, n), short.mean()
    # short examples hold exactly their target, which is uniform over 5..124
    short_lengths = lengths[short]
    assert short_lengths.min() >= 5 and short_lengths.max() <= 125
    assert abs(short_lengths.mean() - (5 + 124) / 2) < 4.5 * 35 / math.sqrt(len(short_lengths))


def test_layout_segments_and_padding():
    ids, mask, segments = example_arrays([7, 8, 9], [10, 11], 10, CLS, SEP)
    assert ids.tolist() == [CLS, 7, 8, 9, SEP, 10, 11, SEP, 0, 0]
    assert mask.tolist() == [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    assert segments.tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 0, 0]
    ids, mask, segments = example_arrays([7], [], 6, CLS, SEP)
    assert ids.tolist() == [CLS, 7, SEP, 0, 0, 0]
    assert mask.tolist() == [1, 1, 1, 0, 0, 0]
    assert segments.tolist() == [0] * 6


def test_fast_serializer_matches_protobuf():
    from tensorflow.core.example import example_pb2

    rng = random.Random(5)
    serializer = ExampleSerializer(64, CLS, SEP, vocabulary_size=30522)
    for _ in range(300):
        first = [rng.randrange(30522) for _ in range(rng.randint(1, 62))]
        second = [rng.randrange(30522) for _ in range(rng.randint(0, max(0, 61 - len(first))))]
        arrays = example_arrays(first, second, 64, CLS, SEP)
        data = serializer(first, second)
        assert data == serialize_example(*arrays)
        parsed = example_pb2.Example.FromString(data).features.feature
        assert list(parsed["input_ids"].int64_list.value) == arrays[0].tolist()
        assert list(parsed["segment_ids"].int64_list.value) == arrays[2].tolist()
