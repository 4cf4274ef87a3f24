"""SQuAD post-processing: n-best spans, max-context filter, null decision.

Two null decisions, one per head:

* `"electra"` (G `qa_metrics.SpanBasedQAScorer.write_predictions`): the
  model returns a 20 x 20 beam (`start_top_log_probs`, `start_top_index`,
  `end_top_log_probs`, `end_top_index`) and an `answerable_logit` per
  feature (high = no answer). Span score = start log-prob + end log-prob;
  `null_odds[qid] = min over the question's features of answerable_logit`;
  the answer is "" iff `null_odds > -2.75` (G `qa_na_threshold`).
* `"simple"` (HF `squad_metrics.compute_predictions_logits`): top-20 start
  and top-20 end logits per feature, span score = start + end logit,
  `score_null = min over features of start_logits[0] + end_logits[0]`; the
  answer is "" iff `score_null - best_non_null > 0.0`. `null_odds` holds that
  difference, so the same "odds > threshold" rule applies to both heads.

Filters (both): start and end must be context tokens of the window, the start
token must be the window with maximal context, end >= start, and the span at
most `max_answer_length` (30) tokens. The text is G's (`keras_electra.squad.final_text`:
the joined WordPieces aligned inside the span's whole whitespace words by `get_final_text`,
falling back to those words; "empty" where a question has no valid span), so EM/F1 compare
with G's and the AWS scripts'. `whole_words=True` gives the exact context characters of the
span widened to whole words instead (for people reading answers; not G's).

Example:
```python
from keras_electra.squad.postprocess import NULL_THRESHOLDS
NULL_THRESHOLDS  # {"electra": -2.75, "simple": 0.0}
```
"""

import collections
import json
import os

import numpy as np

from keras_electra.squad.final_text import (
    ContextWords,
    join_pieces,
    vocabulary_lookup,
    widen_to_words,
)

EMPTY_TEXT = "empty"  # G's (and HF's) n-best text where a question has no valid span
NULL_THRESHOLDS = {"electra": -2.75, "simple": 0.0}  # G qa_na_threshold; HF default


def resolve_null_threshold(head, null_threshold=None):
    """The null threshold to use: `null_threshold`, or the head's default. A NaN or infinite
    threshold is refused (`BadValueError`): NaN would switch the no-answer decision off
    (every `odds > NaN` is False) and reach the output JSON as a bare `NaN`."""
    if null_threshold is None:
        return NULL_THRESHOLDS[head]
    from keras_electra.utils.flag_checks import finite

    return finite(null_threshold, "--null_threshold")
N_BEST_SIZE = 20  # G/HF n_best_size
MAX_ANSWER_LENGTH = 30  # G/HF max_answer_length

SquadPredictions = collections.namedtuple(
    "SquadPredictions", ["predictions", "non_null_predictions", "null_odds", "nbest", "threshold"]
)
SquadPredictions.__doc__ = """Post-processing output.

    predictions: `{qid: text}` after the null decision ("" = no answer).
    non_null_predictions: `{qid: best non-empty text}` (G's file; evaluate it
        with `null_odds` and `threshold` to reproduce G's numbers and best_*).
    null_odds: `{qid: float}`, "" is predicted where it exceeds `threshold`.
    nbest: `{qid: [{"text", "score", "char_start", "char_end"}, ...]}`.
    threshold: the null threshold used.
"""


def _valid_span(start, end, char_start, is_max_context, max_answer_length):
    if start <= 0 or end <= 0:
        return False
    if start >= len(char_start) or end >= len(char_start):
        return False
    if char_start[start] < 0 or char_start[end] < 0:
        return False
    if not is_max_context[start]:
        return False
    if end < start or end - start + 1 > max_answer_length:
        return False
    return True


def _candidates_simple(outputs, index, features, n_best_size, max_answer_length):
    start_logits = np.asarray(outputs["start_logits"][index], np.float64)
    end_logits = np.asarray(outputs["end_logits"][index], np.float64)
    char_start = features.token_char_start[index]
    is_max = features.token_is_max_context[index]
    starts = np.argsort(-start_logits, kind="stable")[:n_best_size]
    ends = np.argsort(-end_logits, kind="stable")[:n_best_size]
    found = []
    for s in starts:
        for e in ends:
            if _valid_span(s, e, char_start, is_max, max_answer_length):
                found.append((start_logits[s] + end_logits[e], int(s), int(e)))
    return found, float(start_logits[0] + end_logits[0])


def _candidates_electra(outputs, index, features, n_best_size, max_answer_length):
    start_lp = np.asarray(outputs["start_top_log_probs"][index], np.float64)
    start_ix = np.asarray(outputs["start_top_index"][index])
    end_lp = np.asarray(outputs["end_top_log_probs"][index], np.float64)
    end_ix = np.asarray(outputs["end_top_index"][index])
    char_start = features.token_char_start[index]
    is_max = features.token_is_max_context[index]
    found = []
    for i in range(min(n_best_size, len(start_ix))):
        for j in range(min(n_best_size, end_ix.shape[-1])):
            s, e = int(start_ix[i]), int(end_ix[i, j])
            if _valid_span(s, e, char_start, is_max, max_answer_length):
                found.append((start_lp[i] + end_lp[i, j], s, e))
    return found, float(np.asarray(outputs["answerable_logit"][index]).reshape(()))


def postprocess_predictions(features, outputs, head="electra", n_best_size=N_BEST_SIZE,
                            max_answer_length=MAX_ANSWER_LENGTH, null_threshold=None,
                            tokenizer=None, whole_words=False, do_lower_case=None):
    """Turns per-feature model outputs into per-question answers.

    Args:
        features: the `SquadFeatures` the outputs were computed on (same order).
        outputs: dict of numpy arrays, first axis = features. "simple":
            `start_logits`, `end_logits` `[N, S]`. "electra":
            `start_top_log_probs` `[N, K]`, `start_top_index` `[N, K]`,
            `end_top_log_probs` `[N, K, K]`, `end_top_index` `[N, K, K]`,
            `answerable_logit` `[N]`.
        head: "electra" or "simple" (which null decision to use).
        n_best_size, max_answer_length: G/HF 20 and 30.
        null_threshold: defaults to `NULL_THRESHOLDS[head]`.
        tokenizer: the `ElectraTokenizer` the features were made with (or its vocabulary as a
            list, or a dict id -> piece): G's texts join its WordPieces. Required unless
            `whole_words`.
        whole_words: texts are the span's context characters widened to whole words.
        do_lower_case: `get_final_text`'s flag; default: the tokenizer's `lowercase` (True for
            a plain vocabulary).

    Returns:
        `SquadPredictions`.
    """
    if head not in NULL_THRESHOLDS:
        raise ValueError(f"head must be one of {sorted(NULL_THRESHOLDS)}, got {head!r}")
    threshold = resolve_null_threshold(head, null_threshold)
    _check_outputs(features, outputs, head)
    candidates_fn = _candidates_electra if head == "electra" else _candidates_simple
    if tokenizer is None and not whole_words:
        raise ValueError("postprocess_predictions needs tokenizer= (the ElectraTokenizer the "
                         "features were made with): answer texts join its WordPieces as G does")
    vocabulary, lower = (vocabulary_lookup(tokenizer) if tokenizer is not None else ({}, True))
    if do_lower_case is not None:
        lower = bool(do_lower_case)
    words_of = {}

    def span_text(example, index, s, e):
        char_start = int(features.token_char_start[index][s])
        char_end = int(features.token_char_end[index][e])
        context = example.context
        if whole_words:
            char_start, char_end = widen_to_words(context, char_start, char_end)
            return context[char_start:char_end], char_start, char_end
        words = words_of.get(id(example))
        if words is None:
            words = words_of[id(example)] = ContextWords(context)
        pieces = [vocabulary.get(int(t), "[UNK]") for t in features.token_ids[index][s:e + 1]]
        return words.text_and_chars(words.char_to_word[char_start],
                                    words.char_to_word[char_end - 1], join_pieces(pieces), lower)

    by_example = collections.defaultdict(list)
    for index, example_index in enumerate(features.example_index):
        by_example[int(example_index)].append(index)

    predictions, non_null, null_odds, nbest_out = {}, {}, {}, {}
    for example_index, example in enumerate(features.examples):
        spans, score_null = [], None
        for index in by_example.get(example_index, []):
            found, null = candidates_fn(outputs, index, features, n_best_size, max_answer_length)
            score_null = null if score_null is None else min(score_null, null)
            spans.extend((score, index, s, e) for score, s, e in found)
        nbest = _nbest(spans, lambda index, s, e: span_text(example, index, s, e), n_best_size)
        words_of.pop(id(example), None)
        qid = example.qas_id
        best_text = nbest[0]["text"]
        if score_null is None:
            score_null = 0.0
        if head == "electra":
            odds = score_null
        else:
            # HF: with no valid span the n-best holds "empty" with score 0.0
            best_score = nbest[0]["score"]
            odds = score_null - best_score
        non_null[qid] = best_text
        null_odds[qid] = float(odds)
        predictions[qid] = "" if odds > threshold else best_text
        nbest_out[qid] = nbest
    return SquadPredictions(predictions, non_null, null_odds, nbest_out, threshold)


def _check_outputs(features, outputs, head):
    """`outputs` holds the arrays of `head`, one per feature; else a ValueError."""
    first_key = "answerable_logit" if head == "electra" else "start_logits"
    if first_key not in outputs:
        raise ValueError(f"head={head!r} post-processing needs outputs[{first_key!r}]; got "
                         f"keys {sorted(outputs)} (is the model's head {head!r}?)")
    if len(outputs[first_key]) != len(features):
        raise ValueError(f"{len(outputs[first_key])} model outputs for {len(features)} features")


def _nbest(spans, text_of, n_best_size):
    """The `n_best_size` best `(score, feature index, start, end)` spans of one question with
    distinct texts (`text_of(index, start, end)` -> `(text, char_start, char_end)`), best
    first; G's "empty" nonce prediction when no span is valid."""
    spans.sort(key=lambda item: -item[0])
    nbest, seen = [], set()
    for score, index, s, e in spans:
        text, char_start, char_end = text_of(index, s, e)
        if text in seen:
            continue
        seen.add(text)
        nbest.append({"text": text, "score": float(score),
                      "char_start": char_start, "char_end": char_end})
        if len(nbest) >= n_best_size:
            break
    if not nbest:  # G: "a nonce prediction" when no span is valid
        nbest.append({"text": EMPTY_TEXT, "score": 0.0, "char_start": -1, "char_end": -1})
    return nbest


def write_predictions(result, output_dir):
    """Writes `predictions.json`, `null_odds.json`, `non_null_predictions.json`, `nbest.json`.

    Returns the dict of written paths.
    """
    os.makedirs(output_dir, exist_ok=True)
    paths = {}
    for name, value in (("predictions", result.predictions), ("null_odds", result.null_odds),
                        ("non_null_predictions", result.non_null_predictions),
                        ("nbest", result.nbest)):
        path = os.path.join(output_dir, f"{name}.json")
        from keras_electra.utils.output_dirs import write_file_atomically

        write_file_atomically(path, json.dumps(value, indent=1, ensure_ascii=False))
        paths[name] = path
    return paths
