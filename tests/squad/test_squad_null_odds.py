"""Null odds that are NaN, Inf or not numbers are refused (issue 15): the official script
sorts and thresholds them as they are, so a NaN silently changes best_exact / best_f1."""

import json
import math

import pytest

from keras_electra.cli import main
from keras_electra.commands.squad_eval import squad_eval
from keras_electra.squad import metrics

NUM_QUESTIONS = 30


def _dataset():
    qas = []
    for i in range(NUM_QUESTIONS):
        answerable = i % 2 == 0
        qas.append({"id": f"q{i:02d}", "question": "?", "is_impossible": not answerable,
                    "answers": [{"text": f"answer {i}", "answer_start": 0}] if answerable
                    else []})
    return {"version": "v2.0", "data": [{"title": "T", "paragraphs": [
        {"context": "c", "qas": qas}]}]}


def _perfect():
    """Perfect predictions, and null odds that separate the two kinds of question."""
    predictions, odds = {}, {}
    for i in range(NUM_QUESTIONS):
        answerable = i % 2 == 0
        predictions[f"q{i:02d}"] = f"answer {i}" if answerable else ""
        odds[f"q{i:02d}"] = -3.0 - i / 10 if answerable else 4.0 + i / 10
    return predictions, odds


def _files(tmp_path, odds):
    predictions, _ = _perfect()
    paths = tmp_path / "data.json", tmp_path / "predictions.json", tmp_path / "null_odds.json"
    paths[0].write_text(json.dumps(_dataset()))
    paths[1].write_text(json.dumps(predictions))
    paths[2].write_text(json.dumps(odds))  # json writes float('nan') as NaN, inf as Infinity
    return [str(p) for p in paths]


def _with_nan(odds, count=8):
    odds = dict(odds)
    for qid in sorted(odds)[3:3 + count]:
        odds[qid] = math.nan
    return odds


def test_valid_null_odds_give_the_perfect_score(tmp_path, capsys):
    data, predictions, odds_file = _files(tmp_path, _perfect()[1])
    assert main(["squad-eval", data, predictions, "--na-prob-file", odds_file]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["exact"] == result["best_exact"] == 100.0


def test_cli_refuses_nan_null_odds_with_one_line(tmp_path, capsys):
    data, predictions, odds_file = _files(tmp_path, _with_nan(_perfect()[1]))
    code = main(["squad-eval", data, predictions, "--na-prob-file", odds_file])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""  # no metrics printed
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert lines[0].startswith(f"keras-electra squad-eval: error: {odds_file}: question 'q03': "
                               "null odds nan is not a finite number (8 of 30 values")
    assert "re-create the file" in lines[0]


@pytest.mark.parametrize("value, shown", [(math.inf, "inf"), (-math.inf, "-inf"),
                                          ("0.5", "'0.5'"), (None, "None"), (True, "True")])
def test_python_api_refuses_non_finite_or_non_numbers(tmp_path, value, shown):
    odds = dict(_perfect()[1], q07=value)
    data, predictions, odds_file = _files(tmp_path, odds)
    with pytest.raises(ValueError, match=rf"^{odds_file}: question 'q07': null odds "
                                         rf"{shown} is not a finite number \(1 of 30"):
        squad_eval(data, predictions, odds_file)
    with pytest.raises(ValueError, match=rf"^na_probs: question 'q07': null odds {shown} "):
        metrics.evaluate_v2(_dataset(), _perfect()[0], na_probs=odds)


def test_null_odds_that_are_not_an_object(tmp_path, capsys):
    data, predictions, odds_file = _files(tmp_path, [0.5] * NUM_QUESTIONS)
    assert main(["squad-eval", data, predictions, "--na-prob-file", odds_file]) == 2
    assert f"{odds_file}: null odds must be a JSON object" in capsys.readouterr().err
