"""SQuAD features + post-processing on the shared sample: gold labels round-trip."""

import numpy as np
import pytest

from keras_electra.squad import metrics
from keras_electra.squad.features import convert_examples_to_features, window_starts
from keras_electra.squad.postprocess import postprocess_predictions, write_predictions
from keras_electra.squad.reader import read_squad


@pytest.fixture(scope="module")
def tokenizer(bert_vocab_path):
    from keras_electra import ElectraTokenizer

    return ElectraTokenizer(str(bert_vocab_path))


@pytest.fixture(scope="module")
def squad(squad_sample_path):
    return read_squad(squad_sample_path)


@pytest.fixture(scope="module")
def features_384(squad, tokenizer):
    return convert_examples_to_features(squad.examples, tokenizer, max_seq_length=384,
                                        doc_stride=128, max_query_length=64, progress=False)


@pytest.fixture(scope="module")
def features_96(squad, tokenizer):
    # short windows so most contexts need several of them
    return convert_examples_to_features(squad.examples, tokenizer, max_seq_length=96,
                                        doc_stride=32, max_query_length=24, progress=False)


def test_window_rule_by_hand():
    # n=10 tokens, 4 per window, stride 3: starts 0, 3, 6 (6+4 reaches the end)
    assert window_starts(10, 4, 3) == [(0, 4), (3, 4), (6, 4)]
    # stride 5 > window 4: next start moves by min(4, 5) = 4
    assert window_starts(10, 4, 5) == [(0, 4), (4, 4), (8, 2)]
    assert window_starts(3, 4, 2) == [(0, 3)]


def test_layout_and_segments(features_384, tokenizer):
    f = features_384
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    for i in range(0, len(f), 37):
        ids, seg, mask = f.token_ids[i], f.segment_ids[i], f.padding_mask[i]
        n = int(mask.sum())
        seps = np.nonzero(ids[:n] == sep_id)[0]
        assert ids[0] == cls_id and ids[n - 1] == sep_id and len(seps) == 2
        q_len = seps[0] - 1
        assert q_len <= 64
        assert (seg[:seps[0] + 1] == 0).all() and (seg[seps[0] + 1:n] == 1).all()
        assert (ids[n:] == tokenizer.pad_token_id).all() and (seg[n:] == 0).all()
        context_positions = np.nonzero(f.token_char_start[i] >= 0)[0]
        assert context_positions[0] == seps[0] + 1 and context_positions[-1] == n - 2
        # the question tokens are the tokenizer's own ids for the question
        expected_q = tokenizer.tokenize_with_offsets(f.examples[f.example_index[i]].question)[0]
        assert ids[1:seps[0]].tolist() == expected_q[:64].tolist()


@pytest.mark.parametrize("which", ["features_384", "features_96"])
def test_labels_cover_answer(which, request):
    f = request.getfixturevalue(which)
    n_inside = 0
    for i in range(len(f)):
        example = f.examples[f.example_index[i]]
        s, e = int(f.start_positions[i]), int(f.end_positions[i])
        starts, ends = f.token_char_start[i], f.token_char_end[i]
        if example.is_impossible:
            assert (s, e, f.is_impossible[i]) == (0, 0, 1)
            continue
        assert f.is_impossible[i] == 0
        text, a_start = example.answers[0]
        a_end = a_start + len(text)
        ctx = np.nonzero(starts >= 0)[0]
        if s == 0:
            assert e == 0
            # the answer is not wholly inside this window's context tokens
            assert not (starts[ctx[0]] <= a_start and a_end <= ends[ctx[-1]])
            continue
        n_inside += 1
        assert starts[s] <= a_start < ends[s]  # the start token covers the first char
        assert starts[e] < a_end <= ends[e]  # the end token covers the last char
        assert s <= e
    assert n_inside > 0


@pytest.mark.parametrize("head", ["simple", "electra"])
@pytest.mark.parametrize("which", ["features_384", "features_96"])
def test_gold_positions_recover_answers(which, head, request, tmp_path, tokenizer):
    f = request.getfixturevalue(which)
    n, seq = f.token_ids.shape
    rows = np.arange(n)
    if head == "simple":
        start_logits = np.zeros((n, seq), np.float32)
        end_logits = np.zeros((n, seq), np.float32)
        start_logits[rows, f.start_positions] = 10.0
        end_logits[rows, f.end_positions] = 10.0
        outputs = {"start_logits": start_logits, "end_logits": end_logits}
    else:
        k = 20
        start_top_index = np.tile(np.arange(k), (n, 1))
        start_top_index[:, 0] = f.start_positions
        start_top_index[:, 1:] = 0
        start_top_log_probs = np.full((n, k), -50.0)
        start_top_log_probs[:, 0] = 0.0
        end_top_index = np.zeros((n, k, k), np.int64)
        end_top_index[:, 0, 0] = f.end_positions
        end_top_log_probs = np.full((n, k, k), -50.0)
        end_top_log_probs[:, 0, 0] = 0.0
        answerable_logit = np.where(f.is_impossible == 1, 10.0, -10.0)
        outputs = {"start_top_index": start_top_index, "start_top_log_probs": start_top_log_probs,
                   "end_top_index": end_top_index, "end_top_log_probs": end_top_log_probs,
                   "answerable_logit": answerable_logit}
    result = postprocess_predictions(f, outputs, head=head, tokenizer=tokenizer)
    answerable = [e for e in f.examples if not e.is_impossible]
    f1s = [max(metrics.compute_f1(t, result.predictions[e.qas_id]) for t, _ in e.answers)
           for e in answerable]
    perfect = sum(x == 1.0 for x in f1s) / len(f1s)
    print(f"{which} {head}: F1=100 on {perfect:.2%} of {len(f1s)} answerable questions")
    assert perfect >= 0.995
    # the recovered text is exactly the original context characters of the first gold answer
    exact_chars = sum(result.predictions[e.qas_id] == e.answers[0][0] for e in answerable)
    assert exact_chars / len(answerable) >= 0.99
    for e in f.examples:
        if e.is_impossible:
            assert result.predictions[e.qas_id] == ""
    evaluation = metrics.evaluate_v2(
        [{"paragraphs": [{"qas": [{"id": e.qas_id, "answers": [{"text": t} for t, _ in e.answers]}
                                  for e in f.examples]}]}],
        result.predictions)
    assert evaluation["NoAns_exact"] == 100.0 and evaluation["HasAns_f1"] >= 99.5
    paths = write_predictions(result, tmp_path)
    assert set(paths) >= {"predictions", "null_odds"}


def test_max_context_unique(features_96):
    f = features_96
    for example_index in range(0, len(f.examples), 25):
        rows = np.nonzero(f.example_index == example_index)[0]
        counts = {}
        for i in rows:
            for pos in np.nonzero(f.token_is_max_context[i])[0]:
                key = int(f.token_char_start[i][pos])
                counts[key] = counts.get(key, 0) + 1
            assert (f.token_char_start[i][f.token_is_max_context[i]] >= 0).all()
        # every context token is "max context" in exactly one window
        all_starts = {int(c) for i in rows for c in f.token_char_start[i] if c >= 0}
        assert set(counts) == all_starts and set(counts.values()) == {1}
    assert np.bincount(f.window_index).size > 1  # several windows were exercised
