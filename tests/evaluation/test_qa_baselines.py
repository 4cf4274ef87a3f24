"""keras_electra.evaluation.qa_baselines: the all-null and random-span SQuAD v2.0 baselines,
checked against the dev set's own counts and a plain-Python re-scoring of their predictions."""

import collections
import json
import random
import re
import string

import pytest

from keras_electra.evaluation.qa_baselines import baseline_predictions, qa_baselines, random_span

WORDS = ["alpha", "beta", "gamma", "delta", "kappa", "epsilon", "zeta", "eta", "theta", "iota"]


def _dataset(num_paragraphs=12, seed=0):
    """Short contexts (so random spans sometimes hit), 3 questions each, 1 of them unanswerable."""
    rng = random.Random(seed)
    paragraphs = []
    for p in range(num_paragraphs):
        words = [rng.choice(WORDS) for _ in range(rng.randint(4, 9))]
        context = " ".join(words) + "."
        qas = []
        for q in range(3):
            qid = f"p{p}q{q}"
            if q == 2:
                qas.append({"id": qid, "question": "unanswerable?", "answers": [],
                            "is_impossible": True})
                continue
            start = rng.randrange(len(words))
            text = " ".join(words[start:start + rng.randint(1, 2)])
            qas.append({"id": qid, "question": "what?", "is_impossible": False,
                        "answers": [{"text": text, "answer_start": context.index(text)}]})
        paragraphs.append({"context": context, "qas": qas})
    return {"version": "v2.0", "data": [{"title": "t", "paragraphs": paragraphs}]}


def _normalize(text):
    text = "".join(c for c in text.lower() if c not in set(string.punctuation))
    return " ".join(w for w in text.split() if w not in ("a", "an", "the"))


def _f1(truth, prediction):
    truth, prediction = _normalize(truth).split(), _normalize(prediction).split()
    if not truth or not prediction:
        return float(truth == prediction)
    common = sum((collections.Counter(truth) & collections.Counter(prediction)).values())
    if not common:
        return 0.0
    precision, recall = common / len(prediction), common / len(truth)
    return 2 * precision * recall / (precision + recall)


def _rescore(dataset, predictions):
    """EM/F1 in percent (all, HasAns, NoAns): max over gold answers, gold "" when none."""
    scores = {"all": [], "HasAns": [], "NoAns": []}
    for article in dataset["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                golds = [a["text"] for a in qa["answers"] if _normalize(a["text"])] or [""]
                prediction = predictions[qa["id"]]
                em = max(float(_normalize(g) == _normalize(prediction)) for g in golds)
                f1 = max(_f1(g, prediction) for g in golds)
                for key in ("all", "HasAns" if qa["answers"] else "NoAns"):
                    scores[key].append((em, f1))
    return {key: (100 * sum(e for e, _ in v) / len(v), 100 * sum(f for _, f in v) / len(v))
            for key, v in scores.items()}


@pytest.fixture
def dev_file(tmp_path):
    path = tmp_path / "dev-v2.0.json"
    path.write_text(json.dumps(_dataset()), encoding="utf-8")
    return path


def test_all_null_scores_the_unanswerable_share(dev_file):
    result = qa_baselines(dev_file)["all_null"]
    dataset = json.loads(dev_file.read_text())
    questions = [qa for p in dataset["data"][0]["paragraphs"] for qa in p["qas"]]
    share = 100 * sum(qa["is_impossible"] for qa in questions) / len(questions)
    assert result["total"] == len(questions)
    assert result["exact"] == pytest.approx(share) and result["f1"] == pytest.approx(share)
    assert result["HasAns_exact"] == 0.0 and result["NoAns_exact"] == 100.0


def test_random_span_metrics_equal_a_rescoring_of_its_predictions(dev_file):
    dataset = json.loads(dev_file.read_text())
    predictions = baseline_predictions(dataset, seed=3)
    assert set(predictions["all_null"].values()) == {""}
    spans = predictions["random_span"]
    for paragraph in dataset["data"][0]["paragraphs"]:
        words = paragraph["context"].split()
        for qa in paragraph["qas"]:
            span = spans[qa["id"]].split()
            assert 1 <= len(span) <= 4
            assert any(words[i:i + len(span)] == span for i in range(len(words)))
    result = qa_baselines(dev_file, seed=3)["random_span"]
    expected = _rescore(dataset, spans)
    assert (result["exact"], result["f1"]) == pytest.approx(expected["all"])
    assert (result["HasAns_exact"], result["HasAns_f1"]) == pytest.approx(expected["HasAns"])
    assert (result["NoAns_exact"], result["NoAns_f1"]) == pytest.approx(expected["NoAns"])
    assert 0 < result["HasAns_f1"] < 100  # the short contexts make some spans overlap
    # a function of the seed: the same spans again, other spans with another seed
    assert baseline_predictions(dataset, seed=3)["random_span"] == spans
    assert baseline_predictions(dataset, seed=4)["random_span"] != spans


def test_random_span_takes_whole_words_within_the_limit():
    rng = random.Random(0)
    assert random_span("", rng) == ""
    assert {random_span("a b", rng, max_words=4) for _ in range(50)} == {"a", "b", "a b"}
    context = "one two three four five six seven"
    for _ in range(50):
        span = random_span(context, rng, max_words=2)
        assert re.fullmatch(r"\w+( \w+)?", span) and span in context
