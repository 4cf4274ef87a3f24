"""Official SQuAD evaluation (v2.0 and v1.1), re-implemented line for line.

Pure Python (no Keras, no TensorFlow). Semantics follow the official v2.0
script as shipped in G `finetune/qa/squad_official_eval.py` and the official
v1.1 `evaluate-v1.1.py`:

* `normalize_answer`: lower-case, drop `string.punctuation`, drop the
  articles `a|an|the` (word-bounded), collapse whitespace.
* v2.0 EM/F1: max over the gold answers whose normalized text is non-empty;
  a question with no such answer has gold `[""]`. F1 is 1 when both sides
  normalize to nothing, 0 when only one does.
* `apply_no_ans_threshold`: where `na_prob > thresh` the prediction counts
  as "no answer" (score 1 for a NoAns question, 0 otherwise).
* `find_best_thresh`: sort by null odds, start from the "all null" score,
  add each question's delta, keep the best prefix.
* v1.1: EM/F1 averaged over every question (missing predictions score 0);
  F1 is 0 when no token is shared (no special case for empty strings).

Example:
```python
from keras_electra.squad.metrics import evaluate_v2

dataset = [{"title": "t", "paragraphs": [{"context": "The cat sat.", "qas": [
    {"id": "q1", "question": "Who sat?",
     "answers": [{"text": "The cat", "answer_start": 0}]},
    {"id": "q2", "question": "Who stood?", "answers": [], "is_impossible": True},
]}]}]
evaluate_v2(dataset, {"q1": "cat", "q2": ""})["exact"]  # 100.0
```
"""

import collections
import math
import numbers
import re
import string
import sys

OFFICIAL_V2_KEYS = (
    "exact", "f1", "total",
    "HasAns_exact", "HasAns_f1", "HasAns_total",
    "NoAns_exact", "NoAns_f1", "NoAns_total",
    "best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh",
)

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text):
    """Lower text and remove punctuation, articles and extra whitespace."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = re.sub(_ARTICLES, " ", text)
    return " ".join(text.split())


def get_tokens(text):
    """Normalized whitespace tokens (`[]` for an empty string)."""
    if not text:
        return []
    return normalize_answer(text).split()


def compute_exact(gold, prediction):
    """1 if the normalized strings are equal, else 0."""
    return int(normalize_answer(gold) == normalize_answer(prediction))


def compute_f1(gold, prediction):
    """v2.0 token-overlap F1 (empty vs empty = 1, empty vs non-empty = 0)."""
    gold_tokens = get_tokens(gold)
    pred_tokens = get_tokens(prediction)
    common = collections.Counter(gold_tokens) & collections.Counter(pred_tokens)
    num_same = sum(common.values())
    if len(gold_tokens) == 0 or len(pred_tokens) == 0:
        # If either is no-answer, F1 is 1 if they agree, 0 otherwise.
        return int(gold_tokens == pred_tokens)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_tokens)
    recall = 1.0 * num_same / len(gold_tokens)
    return (2 * precision * recall) / (precision + recall)


def make_qid_to_has_ans(dataset):
    """`{qid: bool(answers)}` over a SQuAD `data` list."""
    qid_to_has_ans = {}
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                qid_to_has_ans[qa["id"]] = bool(qa["answers"])
    return qid_to_has_ans


def get_raw_scores(dataset, predictions, log=None):
    """Per-question EM and F1 before any null threshold (v2.0 rules)."""
    exact_scores, f1_scores = {}, {}
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                qid = qa["id"]
                gold_answers = [a["text"] for a in qa["answers"] if normalize_answer(a["text"])]
                if not gold_answers:
                    # For unanswerable questions the only correct answer is "".
                    gold_answers = [""]
                if qid not in predictions:
                    print(f"Missing prediction for {qid}", file=log or sys.stderr)
                    continue
                prediction = predictions[qid]
                exact_scores[qid] = max(compute_exact(a, prediction) for a in gold_answers)
                f1_scores[qid] = max(compute_f1(a, prediction) for a in gold_answers)
    return exact_scores, f1_scores


def check_null_odds(na_probs, source="na_probs"):
    """Refuse null odds that would silently change the metrics: NaN, +-Inf, non-numbers.

    The official script sorts and thresholds the odds as they are: a NaN compares False with
    everything, so it scrambles the `best_*` threshold search (and an Inf or a string breaks
    it) without any error. `source` (e.g. the file name) is named in the message.

    Raises:
        ValueError: `na_probs` is not a `{qid: number}` dict, or a value is not a finite
            number (the first offending question id is named, and how many there are).
    """
    if not isinstance(na_probs, dict):
        raise ValueError(
            f"{source}: null odds must be a JSON object {{question id: number}}, not "
            f"{type(na_probs).__name__}; pass the null_odds.json written with the predictions."
        )
    bad = [(qid, value) for qid, value in na_probs.items()
           if isinstance(value, bool) or not isinstance(value, numbers.Real)
           or not math.isfinite(value)]
    if bad:
        qid, value = bad[0]
        raise ValueError(
            f"{source}: question {qid!r}: null odds {value!r} is not a finite number "
            f"({len(bad)} of {len(na_probs)} values are NaN, Inf or not numbers). Every value "
            "must be a finite number (the model's no-answer score; NaN/Inf usually mean the "
            "model diverged): re-create the file from a model with a finite loss, or evaluate "
            "without --na_prob_file."
        )


def apply_no_ans_threshold(scores, na_probs, qid_to_has_ans, na_prob_thresh):
    """Score questions whose null odds exceed the threshold as "no answer"."""
    new_scores = {}
    for qid, score in scores.items():
        if na_probs[qid] > na_prob_thresh:
            new_scores[qid] = float(not qid_to_has_ans[qid])
        else:
            new_scores[qid] = score
    return new_scores


def make_eval_dict(exact_scores, f1_scores, qid_list=None):
    """`{"exact", "f1", "total"}` in percent, over all scores or `qid_list`."""
    if not qid_list:
        total = len(exact_scores)
        return collections.OrderedDict([
            ("exact", 100.0 * sum(exact_scores.values()) / total),
            ("f1", 100.0 * sum(f1_scores.values()) / total),
            ("total", total),
        ])
    total = len(qid_list)
    return collections.OrderedDict([
        ("exact", 100.0 * sum(exact_scores[k] for k in qid_list) / total),
        ("f1", 100.0 * sum(f1_scores[k] for k in qid_list) / total),
        ("total", total),
    ])


def merge_eval(main_eval, new_eval, prefix):
    for key in new_eval:
        main_eval[f"{prefix}_{key}"] = new_eval[key]


def find_best_thresh(predictions, scores, na_probs, qid_to_has_ans):
    """Best score (percent) over null-odds thresholds, and that threshold.

    Starts from "predict null everywhere" (= number of NoAns questions), walks
    the questions in increasing null odds, and adds each one's delta: its raw
    score if answerable, -1 if unanswerable but given a non-empty answer.
    """
    num_no_ans = sum(1 for k in qid_to_has_ans if not qid_to_has_ans[k])
    cur_score = num_no_ans
    best_score = cur_score
    best_thresh = 0.0
    qid_list = sorted(na_probs, key=lambda k: na_probs[k])
    for qid in qid_list:
        if qid not in scores:
            continue
        if qid_to_has_ans[qid]:
            diff = scores[qid]
        else:
            diff = -1 if predictions[qid] else 0
        cur_score += diff
        if cur_score > best_score:
            best_score = cur_score
            best_thresh = na_probs[qid]
    return 100.0 * best_score / len(scores), best_thresh


def find_all_best_thresh(main_eval, predictions, exact_raw, f1_raw, na_probs, qid_to_has_ans):
    best_exact, exact_thresh = find_best_thresh(predictions, exact_raw, na_probs, qid_to_has_ans)
    best_f1, f1_thresh = find_best_thresh(predictions, f1_raw, na_probs, qid_to_has_ans)
    main_eval["best_exact"] = best_exact
    main_eval["best_exact_thresh"] = exact_thresh
    main_eval["best_f1"] = best_f1
    main_eval["best_f1_thresh"] = f1_thresh


def evaluate_v2(dataset, predictions, na_probs=None, na_prob_thresh=1.0, log=None):
    """The official SQuAD v2.0 evaluation.

    Args:
        dataset: the `data` list of a SQuAD JSON file (or the whole dict).
        predictions: `{qid: answer text}` ("" = no answer).
        na_probs: optional `{qid: null odds}`; without it every question gets
            0.0 and the `best_*` keys are not produced (as in the official
            script).
        na_prob_thresh: predict "" where `na_probs[qid] > na_prob_thresh`.

    Returns:
        An ordered dict with the official keys (`OFFICIAL_V2_KEYS`; HasAns/NoAns
        only when such questions exist, `best_*` only with `na_probs`).

    Raises:
        ValueError: a null odds value is NaN, Inf or not a number (`check_null_odds`; the
            official script would silently compute wrong `best_*` values), or a question
            has no prediction.
    """
    if isinstance(dataset, dict):
        dataset = dataset["data"]
    has_na_file = na_probs is not None
    if has_na_file:
        check_null_odds(na_probs)
    if not has_na_file:
        na_probs = {k: 0.0 for k in predictions}
    qid_to_has_ans = make_qid_to_has_ans(dataset)
    has_ans_qids = [k for k, v in qid_to_has_ans.items() if v]
    no_ans_qids = [k for k, v in qid_to_has_ans.items() if not v]
    exact_raw, f1_raw = get_raw_scores(dataset, predictions, log=log)
    missing = [k for k in qid_to_has_ans if k not in exact_raw]
    if missing and (has_ans_qids or no_ans_qids):
        # The official script dies here with a bare KeyError; say why instead.
        raise ValueError(
            f"SQuAD v2 evaluation: no prediction for {len(missing)} of "
            f"{len(qid_to_has_ans)} questions (e.g. {missing[0]!r}); predict \"\" for "
            "unanswered questions (the official script fails with KeyError here)."
        )
    exact_thresh = apply_no_ans_threshold(exact_raw, na_probs, qid_to_has_ans, na_prob_thresh)
    f1_thresh = apply_no_ans_threshold(f1_raw, na_probs, qid_to_has_ans, na_prob_thresh)
    out_eval = make_eval_dict(exact_thresh, f1_thresh)
    if has_ans_qids:
        merge_eval(out_eval, make_eval_dict(exact_thresh, f1_thresh, qid_list=has_ans_qids),
                   "HasAns")
    if no_ans_qids:
        merge_eval(out_eval, make_eval_dict(exact_thresh, f1_thresh, qid_list=no_ans_qids),
                   "NoAns")
    if has_na_file:
        find_all_best_thresh(out_eval, predictions, exact_raw, f1_raw, na_probs, qid_to_has_ans)
    return out_eval


# --- SQuAD v1.1 (official evaluate-v1.1.py) ---------------------------------

def f1_score_v1(prediction, ground_truth):
    """v1.1 F1: 0 when no normalized token is shared (empty strings included)."""
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def exact_match_score_v1(prediction, ground_truth):
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    return max(metric_fn(prediction, gt) for gt in ground_truths)


def evaluate_v1(dataset, predictions, log=None):
    """The official SQuAD v1.1 evaluation: `{"exact_match", "f1"}` in percent."""
    if isinstance(dataset, dict):
        dataset = dataset["data"]
    f1 = exact_match = total = 0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                if qa["id"] not in predictions:
                    print(f"Unanswered question {qa['id']} will receive score 0.",
                          file=log or sys.stderr)
                    continue
                ground_truths = [a["text"] for a in qa["answers"]]
                prediction = predictions[qa["id"]]
                exact_match += metric_max_over_ground_truths(
                    exact_match_score_v1, prediction, ground_truths)
                f1 += metric_max_over_ground_truths(f1_score_v1, prediction, ground_truths)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


def evaluate(dataset, predictions, na_probs=None, na_prob_thresh=1.0, version=None):
    """Dispatch on the file's `version` ("1.1" -> v1.1, otherwise v2.0)."""
    if version is None and isinstance(dataset, dict):
        version = str(dataset.get("version", "v2.0"))
    if version is not None and version.lstrip("v").startswith("1"):
        return evaluate_v1(dataset, predictions)
    return evaluate_v2(dataset, predictions, na_probs=na_probs, na_prob_thresh=na_prob_thresh)
