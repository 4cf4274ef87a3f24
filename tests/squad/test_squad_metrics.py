"""Official SQuAD metric: hand-checked cases (expected values worked out by hand)."""

import json
import subprocess
import sys

import pytest

from keras_electra.squad import metrics


def test_normalize_answer_spec_rules():
    # lower-case, punctuation removed, articles removed (word-bounded), whitespace collapsed
    assert metrics.normalize_answer("The  Quick, brown FOX!") == "quick brown fox"
    assert metrics.normalize_answer("an apple a day") == "apple day"
    assert metrics.normalize_answer("theory anthem") == "theory anthem"
    # punctuation goes first, so "the-end" becomes one word "theend" (no article left)
    assert metrics.normalize_answer("the-end") == "theend"
    assert metrics.normalize_answer("\tA\n(b)  ") == "b"
    assert metrics.normalize_answer("the") == ""


def test_exact_and_f1_by_hand():
    assert metrics.compute_exact("The North Sea.", "north sea") == 1
    assert metrics.compute_exact("North Sea", "North Seas") == 0
    # gold [cat, sat], pred [cat, sat, on, mat]: P = 2/4, R = 2/2, F1 = 2PR/(P+R) = 2/3
    assert metrics.compute_f1("the cat sat", "cat sat on mat") == pytest.approx(2 / 3)
    # repeated tokens count with multiplicity: gold [b, b, c], pred [b, c, c]
    # common = min counts: b 1, c 1 -> 2; P = 2/3, R = 2/3, F1 = 2/3
    assert metrics.compute_f1("b b c", "b c c") == pytest.approx(2 / 3)
    # v2 empty handling: both empty -> 1, one empty -> 0, no overlap -> 0
    assert metrics.compute_f1("", "") == 1
    assert metrics.compute_f1("", "Rhine") == 0
    assert metrics.compute_f1("Rhine", "") == 0
    assert metrics.compute_f1("the", "a") == 1  # both normalize to nothing
    assert metrics.compute_f1("Rhine", "Danube") == 0


def _dataset():
    answers = lambda *texts: [{"text": t, "answer_start": 0} for t in texts]  # noqa: E731
    return {"version": "v2.0", "data": [{"title": "T", "paragraphs": [{"context": "c", "qas": [
        {"id": "q1", "question": "?", "answers": answers("North Sea",
                                                         "the North Sea in the Netherlands")},
        {"id": "q2", "question": "?", "answers": answers("the cat sat")},
        {"id": "q3", "question": "?", "answers": [], "is_impossible": True},
        {"id": "q4", "question": "?", "answers": [], "is_impossible": True},
        # a gold answer that normalizes to "" is dropped -> gold becomes [""]
        {"id": "q5", "question": "?", "answers": answers("The")},
    ]}]}]}


PREDICTIONS = {"q1": "North Sea in Netherlands", "q2": "cat sat on mat", "q3": "",
               "q4": "something", "q5": ""}
NULL_ODDS = {"q1": 0.1, "q2": 0.5, "q3": 0.9, "q4": 0.6, "q5": 0.2}


def test_evaluate_v2_by_hand():
    result = metrics.evaluate_v2(_dataset(), PREDICTIONS)
    # q1: matches the 2nd gold exactly (max over golds) -> EM 1, F1 1
    # q2: EM 0, F1 2/3; q3: "" vs [""] -> 1, 1; q4: "something" vs [""] -> 0, 0
    # q5: has answers (HasAns) but its only gold normalizes to "" -> "" scores 1, 1
    assert result["total"] == 5
    assert result["exact"] == pytest.approx(100 * 3 / 5)
    assert result["f1"] == pytest.approx(100 * (1 + 2 / 3 + 1 + 0 + 1) / 5)
    assert result["HasAns_total"] == 3 and result["NoAns_total"] == 2
    assert result["HasAns_exact"] == pytest.approx(100 * 2 / 3)
    assert result["HasAns_f1"] == pytest.approx(100 * (1 + 2 / 3 + 1) / 3)
    assert result["NoAns_exact"] == pytest.approx(50.0)
    assert result["NoAns_f1"] == pytest.approx(50.0)
    assert "best_exact" not in result  # only with a null-odds file


def test_threshold_and_best_thresh_by_hand():
    result = metrics.evaluate_v2(_dataset(), PREDICTIONS, na_probs=NULL_ODDS, na_prob_thresh=0.55)
    # null odds > 0.55: q3 (0.9), q4 (0.6) -> predicted null -> NoAns -> 1 each
    assert result["exact"] == pytest.approx(100 * (1 + 0 + 1 + 1 + 1) / 5)
    assert result["f1"] == pytest.approx(100 * (1 + 2 / 3 + 1 + 1 + 1) / 5)
    assert result["NoAns_exact"] == pytest.approx(100.0)
    # find_best_thresh: start = #NoAns = 2; walk by null odds:
    # q1 0.1 (+1 -> 3, best, t=0.1), q5 0.2 (+1 -> 4, best, t=0.2),
    # q2 0.5 (EM +0 -> 4 | F1 +2/3 -> 4.667 best t=0.5), q4 0.6 (-1), q3 0.9 (+0)
    assert result["best_exact"] == pytest.approx(100 * 4 / 5)
    assert result["best_exact_thresh"] == pytest.approx(0.2)
    assert result["best_f1"] == pytest.approx(100 * (4 + 2 / 3) / 5)
    assert result["best_f1_thresh"] == pytest.approx(0.5)
    assert list(result) == list(metrics.OFFICIAL_V2_KEYS)


def test_all_null_baseline_and_missing_prediction():
    data = _dataset()
    all_null = {k: "" for k in PREDICTIONS}
    result = metrics.evaluate_v2(data, all_null)
    # q3, q4 (NoAns) and q5 (gold normalizes to "") are right -> 3/5
    assert result["exact"] == pytest.approx(60.0)
    partial = dict(PREDICTIONS)
    del partial["q2"]
    # the official script crashes (KeyError) on a missing prediction; ours names it
    with pytest.raises(ValueError, match="'q2'"):
        metrics.evaluate_v2(data, partial)


def test_evaluate_v1_by_hand():
    data = {"version": "1.1", "data": [{"title": "T", "paragraphs": [{"context": "c", "qas": [
        {"id": "a", "question": "?", "answers": [{"text": "Denver Broncos", "answer_start": 0},
                                                 {"text": "the Broncos", "answer_start": 0}]},
        {"id": "b", "question": "?", "answers": [{"text": "Santa Clara", "answer_start": 0}]},
        {"id": "c", "question": "?", "answers": [{"text": "Levi's Stadium", "answer_start": 0}]},
    ]}]}]}
    preds = {"a": "Broncos", "b": "Santa Clara, California"}
    result = metrics.evaluate(data, preds)
    # a: EM vs "the Broncos" = 1; F1 1. b: EM 0, F1: P 2/3, R 1 -> 0.8. c missing -> 0 (counted)
    assert result["exact_match"] == pytest.approx(100 * 1 / 3)
    assert result["f1"] == pytest.approx(100 * 1.8 / 3)
    # v1.1 F1 of two empty strings is 0 (no shared token), unlike v2
    assert metrics.f1_score_v1("", "") == 0


def test_cli_matches_api(tmp_path):
    data_file = tmp_path / "data.json"
    pred_file = tmp_path / "predictions.json"
    odds_file = tmp_path / "null_odds.json"
    data_file.write_text(json.dumps(_dataset()))
    pred_file.write_text(json.dumps(PREDICTIONS))
    odds_file.write_text(json.dumps(NULL_ODDS))
    proc = subprocess.run(
        [sys.executable, "-m", "keras_electra.cli", "squad-eval", str(data_file), str(pred_file),
         "--na-prob-file", str(odds_file), "--na-prob-thresh", "0.55"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    api = metrics.evaluate_v2(_dataset(), PREDICTIONS, na_probs=NULL_ODDS, na_prob_thresh=0.55)
    assert list(printed) == list(metrics.OFFICIAL_V2_KEYS)
    for key in metrics.OFFICIAL_V2_KEYS:
        assert printed[key] == pytest.approx(api[key])
