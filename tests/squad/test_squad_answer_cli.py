"""`keras-electra answer` on a saved QA preset returns a span of the given context."""

import json
import subprocess
import sys

import pytest
from conftest import tiny_question_answerer


@pytest.mark.parametrize("head", ["electra"])
def test_answer_cli_returns_span_of_context(head, tmp_path, bert_vocab_path):
    qa = tiny_question_answerer(bert_vocab_path, head, doc_stride=16)
    qa.save_to_preset(str(tmp_path / "qa"))
    # long enough for several 64-token windows; accents to exercise char offsets
    context = ("The Rhine rises in the Swiss canton of Graubünden in the southeastern Swiss "
               "Alps, forms part of the Swiss-Austrian, Swiss-Liechtenstein border, "
               "Swiss-German and then the Franco-German border, then flows through the "
               "Rhineland and eventually empties into the North Sea in the Netherlands.")
    proc = subprocess.run(
        [sys.executable, "-m", "keras_electra.cli", "answer", "--model", str(tmp_path / "qa"),
         "--question", "Where does the Rhine empty?", "--context", context, "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    span = result["best_span"]
    assert span and context[result["char_start"]:result["char_end"]] == span
    assert result["answer"] in ("", span)
    assert (result["answer"] == "") == (result["null_odds"] > result["null_threshold"])


def test_answer_cli_batched_input_equals_one_question_at_a_time(tmp_path, bert_vocab_path,
                                                                squad_sample_path, capsys):
    """`answer --input q.jsonl --output a.jsonl` (batched) gives, line for line, what the
    one-question form gives; a malformed line is one error line naming the file and line."""
    from keras_electra.cli import main
    from keras_electra.squad.answering import answer_question
    from keras_electra.squad.reader import read_squad

    qa = tiny_question_answerer(bert_vocab_path, "simple", doc_stride=24)
    qa.save_to_preset(str(tmp_path / "qa"))
    examples = read_squad(str(squad_sample_path)).examples[:12]
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps({"id": e.qas_id, "question": e.question,
                                             "context": e.context}) + "\n" for e in examples))
    out = tmp_path / "answers.jsonl"
    assert main(["answer", "--model", str(tmp_path / "qa"), "--input", str(questions),
                 "--output", str(out), "--batch_size", "8", "--no_progress"]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == [e.qas_id for e in examples]
    for example, line in zip(examples, lines):
        single = answer_question(qa, example.question, example.context)
        for key in ("answer", "best_span", "char_start", "char_end"):
            assert line[key] == single[key], (example.qas_id, key)
        assert abs(line["score"] - single["score"]) < 1e-5
    assert sum(bool(line["best_span"]) for line in lines) > len(lines) // 2
    capsys.readouterr()
    questions.write_text(questions.read_text() + '{"question": "Where?"}\n')
    assert main(["answer", "--model", str(tmp_path / "qa"), "--input", str(questions)]) == 2
    err = capsys.readouterr().err
    assert f'{questions}: line 13: needs non-empty string fields "question" and "context"' in err
    assert main(["answer", "--model", str(tmp_path / "qa"), "--input", str(questions),
                 "--question", "Where?"]) == 2
    assert "give either --input" in capsys.readouterr().err
