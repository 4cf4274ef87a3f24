"""SQuAD readers: the shared sample reads clean; each malformed entry is named."""

import copy
import json

import pytest

from keras_electra.squad.reader import SquadFormatError, read_squad


def _v2():
    return {"version": "v2.0", "data": [{"title": "Rhine", "paragraphs": [{
        "context": "The Rhine flows into the North Sea.",
        "qas": [
            {"id": "q1", "question": "Where does it flow?",
             "answers": [{"text": "the North Sea", "answer_start": 21}], "is_impossible": False},
            {"id": "q2", "question": "Who built it?", "answers": [], "is_impossible": True},
        ]}]}]}


def test_shared_sample_reads(squad_sample_path):
    squad = read_squad(squad_sample_path, squad_version="squadv2", is_training=True)
    raw = json.loads(squad_sample_path.read_text())
    n_questions = sum(len(p["qas"]) for a in raw["data"] for p in a["paragraphs"])
    assert len(squad) == n_questions == 498
    assert sum(e.is_impossible for e in squad) == 208
    for e in squad:
        for text, start in e.answers:
            assert e.context[start:start + len(text)] == text
        assert e.title == "Rhine"


def test_valid_example_fields():
    squad = read_squad(_v2())
    q1, q2 = squad.examples
    assert (q1.qas_id, q1.answers, q1.is_impossible) == ("q1", [("the North Sea", 21)], False)
    assert (q2.qas_id, q2.answers, q2.is_impossible) == ("q2", [], True)


def _broken(mutate):
    data = _v2()
    mutate(data["data"][0]["paragraphs"][0])
    return data


CASES = [
    ("missing_field", lambda p: p["qas"][0].pop("question"), "question q1.*'question' missing"),
    ("wrong_type", lambda p: p["qas"][0]["answers"][0].update(answer_start="21"),
     "question q1.*answer_start is '21'"),
    ("answer_mismatch", lambda p: p["qas"][0]["answers"][0].update(answer_start=20),
     "question q1: answer_start 20 does not match text 'the North Sea'"),
    ("duplicate_id", lambda p: p["qas"][1].update(id="q1"), "question q1: duplicate id"),
    ("empty_context", lambda p: p.update(context="  "), "article 'Rhine' paragraph 0: empty context"),
    ("wrong_type", lambda p: p["qas"][1].update(is_impossible="yes"), "question q2.*is_impossible"),
]


@pytest.mark.parametrize("kind,mutate,message", CASES)
def test_malformed_entries_raise_or_skip(kind, mutate, message):
    with pytest.raises(SquadFormatError, match=message):
        read_squad(_broken(mutate))
    squad = read_squad(_broken(mutate), lenient=True)
    assert squad.skipped[kind] >= 1
    assert len(squad) == 2 - sum(squad.skipped.values())
    assert squad.problems and "Rhine" in squad.problems[0]


def test_v1_file_given_as_v2():
    v1 = {"version": "1.1", "data": [{"title": "T", "paragraphs": [{
        "context": "abc def", "qas": [
            {"id": "x", "question": "?", "answers": [{"text": "def", "answer_start": 4}]}]}]}]}
    assert read_squad(copy.deepcopy(v1)).version == "squadv1"
    with pytest.raises(SquadFormatError, match="v1.1.*squad_version='squadv2'"):
        read_squad(v1, squad_version="squadv2")
    with pytest.raises(SquadFormatError, match="v2.0.*squadv1"):
        read_squad(_v2(), squad_version="squadv1")


def test_not_squad(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("[1, 2]")
    with pytest.raises(SquadFormatError, match="no top-level 'data'"):
        read_squad(path)
    path.write_text("{oops")
    with pytest.raises(SquadFormatError, match="not valid JSON"):
        read_squad(path)
