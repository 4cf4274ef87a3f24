"""`make demo` (python -m keras_electra.demo): built-in data, the end-to-end run, failures.

The end-to-end test runs the real pipeline with `--quick` sizes (30 pretraining steps,
a small QA set) in a subprocess and checks what it wrote against independent
recomputations: the all-null baseline from the dev file's own counts, the model's
metrics against the squad command's eval.json, the answers against their contexts.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from keras_electra.demo.data.corpus import pydoc_documents, write_pydoc_corpus
from keras_electra.demo.data.qa import generate_squad_v2, squad_statistics, write_demo_squad

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", HF_HUB_OFFLINE="1",
                KERAS_BACKEND="tensorflow", MPLBACKEND="Agg",
                PYTHONPATH=str(PROJECT_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


# ---------------------------------------------------------------- built-in data

def test_generated_squad_is_valid_v2_with_exact_answer_offsets():
    from keras_electra.squad.reader import read_squad

    data = generate_squad_v2(num_paragraphs=200, seed=3, split="train")
    stats = squad_statistics(data)
    assert stats["paragraphs"] == 200
    assert 0.2 < stats["unanswerable"] / stats["questions"] < 0.45
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                if qa["is_impossible"]:
                    assert qa["answers"] == []
                    continue
                (answer,) = qa["answers"]
                start = answer["answer_start"]
                assert context[start:start + len(answer["text"])] == answer["text"]
                # the answer is a whole phrase, not part of a longer word
                assert start == 0 or not context[start - 1].isalnum()
    examples = read_squad(data, squad_version="squadv2", is_training=True).examples
    assert len(examples) == stats["questions"]


def _fact_of(question, facts):
    """(entity, attribute) a generated question asks about, from the question templates."""
    for attribute, (_, questions) in facts.items():
        for template in questions:
            pattern = "^" + re.escape(template).replace(re.escape("{e}"), "(\\w+)") + "$"
            match = re.match(pattern, question)
            if match:
                return match.group(1), attribute
    return None, None


def test_questions_match_what_the_paragraph_states():
    """Answerable: a fact sentence about that entity states the answer; unanswerable: none."""
    from keras_electra.demo.data.qa import KINDS

    data = generate_squad_v2(num_paragraphs=120, seed=5)
    seen = {True: 0, False: 0}
    for article in data["data"]:
        facts = KINDS["function" if "function" in article["title"] else "class"]
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                entity, attribute = _fact_of(qa["question"], facts)
                assert entity in context, qa["question"]
                sentences = re.split(r"(?<=\.) ", context)
                stated = []
                for template in facts[attribute][0]:
                    pattern = re.escape(template).replace(re.escape("{e}"), re.escape(entity))
                    pattern = pattern.replace(re.escape("{v}"), "(.+)")
                    stated += [m.group(1) for m in map(re.compile(pattern).fullmatch, sentences)
                               if m]
                if qa["is_impossible"]:
                    assert stated == [], (qa["question"], context)
                else:
                    assert qa["answers"][0]["text"] in stated, (qa["question"], context)
                seen[qa["is_impossible"]] += 1
    assert seen[True] > 50 and seen[False] > 100


def test_generated_squad_is_deterministic_and_train_dev_differ(tmp_path):
    a = write_demo_squad(tmp_path / "a", train_paragraphs=30, dev_paragraphs=10, seed=0)
    b = write_demo_squad(tmp_path / "b", train_paragraphs=30, dev_paragraphs=10, seed=0)
    for split in ("train", "dev"):
        assert pathlib.Path(a[split]).read_bytes() == pathlib.Path(b[split]).read_bytes()
    train = json.loads(pathlib.Path(a["train"]).read_text())
    dev = json.loads(pathlib.Path(a["dev"]).read_text())
    contexts = lambda d: {p["context"] for x in d["data"] for p in x["paragraphs"]}  # noqa: E731
    assert not contexts(train) & contexts(dev)


def test_corpus_is_prose_one_sentence_per_line(tmp_path):
    stats = write_pydoc_corpus(tmp_path / "corpus", num_files=2)
    assert len(stats["files"]) == 2 and stats["words"] > 50_000
    text = "\n".join(pathlib.Path(f).read_text(encoding="utf-8") for f in stats["files"])
    documents = [d for d in text.split("\n\n") if d.strip()]
    assert len(documents) == stats["documents"]
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == stats["sentences"]
    assert not any(line.startswith((">>>", " ")) or "::=" in line for line in lines)
    assert sum(line.rstrip().endswith((".", "?", "!", ":", ")", '"')) for line in lines) \
        > 0.9 * len(lines)
    # pydoc's own prose is in there (the "if" statement topic)
    topics = [" ".join(d) for d in pydoc_documents()]
    assert any("conditional execution" in t for t in topics)


# ---------------------------------------------------------------- the CLI of the demo

def test_demo_fails_clearly_on_a_corpus_glob_that_matches_nothing(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "keras_electra.demo", "--output-dir", str(out),
         "--corpus", str(tmp_path / "nothing" / "*.txt"), "--quick"],
        env=_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 1
    assert "FAILED in stage corpus" in result.stderr
    assert "matches no files" in result.stderr
    report = (out / "report.md").read_text()
    assert "FAILED" in report and "matches no files" in report
    assert "ok" not in json.loads((out / "summary.json").read_text())["status"]


def test_demo_rejects_inconsistent_squad_flags():
    from keras_electra.demo import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--squad-train", "t.json"])
    with pytest.raises(SystemExit):
        parse_args(["--squad", "a.json", "--squad-train", "t.json", "--squad-dev", "d.json"])
    with pytest.raises(SystemExit):
        parse_args(["--steps", "0"])


# ---------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo_output"
    result = subprocess.run(
        [sys.executable, "-m", "keras_electra.demo", "--output-dir", str(out), "--quick"],
        env=_env(), capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, (result.stdout[-5000:], result.stderr[-5000:])
    summary = json.loads((out / "summary.json").read_text())
    return out, summary, result.stdout


@pytest.mark.slow
def test_demo_runs_every_stage(quick_demo):
    out, summary, stdout = quick_demo
    names = [s["name"] for s in summary["stages"]]
    assert names == ["corpus", "build-vocab", "prepare", "pretrain", "export", "rtd-baseline",
                     "qa-data", "squad", "squad-eval", "squad-random-init", "qa-baselines",
                     "answer", "classify", "report"]
    assert all(s["status"] == "ok" for s in summary["stages"])
    # every stage's command was printed, and still parses with the real CLI parser
    from keras_electra.cli import build_parser

    commands = summary["commands"]
    for command in ("build-vocab", "prepare", "pretrain", "export", "squad", "squad-eval",
                    "answer"):
        assert any(c.startswith(f"keras-electra {command} ") for c in commands), command
    import shlex

    for command in commands:
        assert f"$ {command}" in stdout
        build_parser().parse_args(shlex.split(command)[1:])
    assert (out / "hf_discriminator" / "config.json").exists()
    assert "keras-electra demo summary" in stdout
    # the random-init control: the same squad flags, only the starting weights differ
    squads = [shlex.split(c) for c in commands if c.startswith("keras-electra squad ")]
    assert len(squads) == 2
    pretrained, scratch = ({k: v for k, v in zip(c[2::2], c[3::2])} for c in squads)
    assert pretrained.pop("--load_from") == "checkpoint" and scratch.pop("--load_from") == \
        "scratch"
    pretrained.pop("--checkpoint_path"), pretrained.pop("--output_dir")
    scratch.pop("--model_size"), scratch.pop("--vocab_file"), scratch.pop("--output_dir")
    assert pretrained == scratch


@pytest.mark.slow
def test_demo_sweep_runs_on_the_demos_shards(quick_demo, tmp_path):
    """benchmarks/demo_sweep.py (RESULTS.md section 6): one pretrain with an override, and a
    JSON line of the pretrain command's own cue-free validations. Its data stages are the
    demo's (built-in corpus, 2,048 pieces, the same `prepare` flags), so it is given the
    vocabulary and shards this module's demo run built and does not build them again."""
    out, _, _ = quick_demo
    work = tmp_path / "work"
    (work / "corpus").mkdir(parents=True)  # the built-in corpus: not needed, not written
    shutil.copytree(out / "shards", work / "vocab2048" / "shards")
    shutil.copy(out / "vocab.txt", work / "vocab2048" / "vocab.txt")
    jsonl = tmp_path / "sweep.jsonl"
    proc = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "benchmarks" / "demo_sweep.py"), "--settings",
         "gen0.5", "--steps", "2", "--work_dir", str(work), "--out", str(jsonl)],
        env=_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    assert not (work / "vocab2048" / "log.txt").exists()  # no build-vocab / prepare ran
    (record,) = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == record
    assert record["setting"] == "gen0.5" and record["steps"] == 2
    assert record["overrides"] == {"generator_hidden_size": 0.5}
    assert record["final"]["step"] == 2 and len(record["curve"]) == 2  # every step
    final = record["final"]
    assert 0.0 <= final["val_cue_free_auc"] <= 1.0 and 0.0 <= final["val_context_free_auc"] <= 1
    assert record["learns_context"] == (final["val_cue_free_auc"]
                                        > final["val_context_free_auc"] + 0.01)
    # the override reached the model: electra_tiny's generator at 1/2 of H 128, not 1/4
    preset = work / "runs" / "gen0.5-2" / "presets" / "sweep-step2-generator"
    assert json.loads((preset / "config.json").read_text())["config"]["hidden_dim"] == 64


@pytest.mark.slow
def test_demo_pretraining_metrics_and_plots(quick_demo):
    out, summary, _ = quick_demo
    pre = summary["pretraining"]
    steps = summary["settings"]["pretrain_steps"]
    records = [json.loads(line) for line in open(pre["metrics_jsonl"])]
    train = [r for r in records if r["split"] == "train"]
    val = [r for r in records if r["split"] == "validation"]
    assert [r["step"] for r in train][-1] == steps
    assert val[-1]["step"] == steps
    assert pre["final_validation"]["val_disc_auc"] == val[-1]["val_disc_auc"]
    trained = pre["trained_validation"]
    reset = pre["untrained_discriminator_validation"]
    # re-evaluating the final checkpoint, eval stream rewound to the last validation's start,
    # replays the run's own last validation (same weights, batches, masks and fakes)
    for key in ("val_disc_auc", "val_gen_accuracy", "val_replaced_fraction", "val_disc_loss"):
        assert trained[key] == pytest.approx(val[-1][key], abs=1e-4), key
    # the reset-discriminator baseline sees the very same replacements: the generator's
    # numbers are identical, only the discriminator's differ
    assert reset["val_gen_accuracy"] == pytest.approx(trained["val_gen_accuracy"], abs=1e-6)
    assert reset["val_replaced_fraction"] == pytest.approx(trained["val_replaced_fraction"],
                                                           abs=1e-6)
    assert reset["val_disc_loss"] != pytest.approx(trained["val_disc_loss"], abs=1e-6)
    # the untrained model (random generator and discriminator) is at chance; the reset
    # discriminator is not necessarily (it reads the trained shared embeddings)
    assert abs(pre["untrained_validation"]["val_disc_auc"] - 0.5) < 0.1
    assert 0.0 <= reset["val_disc_auc"] <= 1.0
    # the honest RTD numbers come from the pretrain command's own validations
    assert [r["step"] for r in pre["cue_free_curve"]] == [r["step"] for r in val]
    for record in val:
        assert 0.0 <= record["val_cue_free_auc"] <= 1.0
        assert 0.0 <= record["val_context_free_auc"] <= 1.0
    for name in ("pretrain_loss.png", "pretrain_accuracy.png", "qa_metrics.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, name


@pytest.mark.slow
def test_demo_qa_metrics_and_baselines(quick_demo):
    out, summary, _ = quick_demo
    qa = summary["qa"]
    dev = json.loads((out / "qa" / "dev-v2.0.json").read_text())
    counts = squad_statistics(dev)
    # all-null: EM = F1 = share of unanswerable questions (independent count)
    all_null = qa["baselines"]["all_null"]
    expected = 100.0 * counts["unanswerable"] / counts["questions"]
    assert all_null["exact"] == pytest.approx(expected)
    assert all_null["f1"] == pytest.approx(expected)
    assert all_null["HasAns_exact"] == 0.0
    random_span = qa["baselines"]["random_span"]
    # a random span only "matches" no-answer when it normalizes to "" (e.g. "a", "the.")
    assert random_span["NoAns_exact"] < 15.0 and random_span["total"] == counts["questions"]
    assert random_span["HasAns_f1"] < 30.0
    # the model's numbers are the squad command's official evaluation of all dev questions
    squad_eval = json.loads((out / "squad" / "eval.json").read_text())
    assert qa["eval"]["exact"] == pytest.approx(squad_eval["exact"])
    assert qa["eval"]["f1"] == pytest.approx(squad_eval["f1"])
    assert qa["eval"]["total"] == counts["questions"]
    predictions = json.loads((out / "squad" / "predictions.json").read_text())
    assert len(predictions) == counts["questions"]
    # the random-init control is scored by the same official evaluation of all questions
    random_init = qa["random_init_eval"]
    assert random_init["total"] == counts["questions"]
    assert random_init == json.loads(
        (out / "squad_random_init" / "eval_official.json").read_text())


@pytest.mark.slow
def test_demo_report_and_answers(quick_demo):
    out, summary, _ = quick_demo
    report = (out / "report.md").read_text()
    for text in ("## Stages and timings", "disc_auc", "untrained discriminator, same replacements",
                 "Did the discriminator learn context?", "context-free baseline",
                 "cue-free AUC", "same fine-tuning from random init", "all-null baseline",
                 "random-span baseline", "fine-tuned ELECTRA (ours)", "pretrain_loss.png",
                 "keras-electra pretrain", "keras-electra answer"):
        assert text in report, text
    em = f"{summary['qa']['eval']['exact']:.1f}"
    assert em in report
    answers = summary["answers"]
    assert len(answers) >= 4
    for item in answers:
        assert item["answer"] == "" or item["answer"] in item["context"]
    # the verdict is computed, not assumed: --quick never claims success it did not measure
    from keras_electra.demo.pipeline import claims

    assert summary["claims"] == claims(summary)
    assert len(summary["claims"]) == 4
    shown = [c["shown"] for c in summary["claims"].values()]
    assert summary["status"] == "all claims shown" if all(shown) else "NOT" in summary["status"]
    for name, claim in summary["claims"].items():
        assert claim["evidence"] in report and name in report


@pytest.mark.slow
def test_demo_classification_stage(quick_demo):
    """`keras-electra glue` on the QA set as QNLI pairs: both runs and the majority class are
    measured on the same dev file and reported."""
    out, summary, _ = quick_demo
    cls = summary["classification"]
    dev = (out / "qnli" / "dev.tsv").read_text().splitlines()[1:]
    labels = [line.split("\t")[-1] for line in dev]
    assert len(labels) == sum(cls["dev"].values()) == summary["settings"]["cls_dev_examples"]
    assert cls["majority_accuracy"] == max(labels.count(x) for x in set(labels)) / len(labels)
    for name, key in (("pretrained", "accuracy"), ("random_init", "random_init_accuracy")):
        evaluation = json.loads((out / f"glue_qnli_{name}" / "eval.json").read_text())
        assert evaluation["accuracy"] == cls[key]
        predicted = (out / f"glue_qnli_{name}" / "dev_predictions.tsv").read_text().splitlines()
        assert len(predicted) == len(labels) + 1
    assert (out / "glue_qnli_pretrained" / "model" / "task.json").exists()
    report = (out / "report.md").read_text()
    assert "## Text classification" in report and "majority class" in report


def test_qnli_rows_from_squad_follow_answerability(tmp_path):
    from keras_electra.demo.data.classification import write_qnli_from_squad
    from keras_electra.demo.data.qa import write_demo_squad
    from keras_electra.glue.tasks import read_glue_split

    write_demo_squad(str(tmp_path / "qa"), 6, 4, 0)
    counts = write_qnli_from_squad(str(tmp_path / "qa" / "train-v2.0.json"),
                                   str(tmp_path / "qa" / "dev-v2.0.json"), str(tmp_path / "qnli"),
                                   max_dev=5)
    squad = json.loads((tmp_path / "qa" / "train-v2.0.json").read_text())
    qas = [(qa, p["context"]) for a in squad["data"] for p in a["paragraphs"] for qa in p["qas"]]
    examples = read_glue_split("qnli", str(tmp_path / "qnli"), "train")  # GLUE's own reader
    assert len(examples) == len(qas) == sum(counts["train"].values())
    for example, (qa, context) in zip(examples, qas):
        assert example.text_a == " ".join(qa["question"].split())
        assert example.text_b == " ".join(context.split())
        assert example.label == ("not_entailment" if qa["is_impossible"] else "entailment")
    assert set(counts["train"].values()) != {0}
    assert len(read_glue_split("qnli", str(tmp_path / "qnli"), "dev")) == 5


# ---------------------------------------------------------------- the claims


def _summary(cue_free, context_free, gen, f1, random_f1, null_f1=30.0):
    validation = {"val_gen_accuracy": gen, "val_disc_auc": 0.6}
    return {
        "pretraining": {
            "final_validation": {"val_cue_free_auc": cue_free,
                                 "val_context_free_auc": context_free, "val_disc_auc": 0.6},
            "trained_validation": validation,
            "untrained_validation": {"val_gen_accuracy": 0.0, "val_disc_auc": 0.5}},
        "qa": {"eval": {"f1": f1}, "random_init_eval": {"f1": random_f1},
               "baselines": {"all_null": {"f1": null_f1}, "random_span": {"f1": 5.0}}},
    }


def test_claims_follow_the_numbers_and_the_verdict_says_what_is_not_shown():
    from keras_electra.demo.pipeline import (
        CONTEXT_CLAIM,
        GENERATOR_CLAIM,
        PRETRAINING_CLAIM,
        QA_CLAIM,
        claims,
        verdict,
    )

    # the case: plain AUC fine, but no better than token identity on cue-free positions
    result = claims(_summary(0.531, 0.527, 0.15, 60.0, 60.5))
    assert not result[CONTEXT_CLAIM]["shown"]
    assert "0.531" in result[CONTEXT_CLAIM]["evidence"]
    assert "0.527" in result[CONTEXT_CLAIM]["evidence"]
    assert result[GENERATOR_CLAIM]["shown"] and result[QA_CLAIM]["shown"]
    assert not result[PRETRAINING_CLAIM]["shown"]  # 60.0 vs 60.5 from random init
    text = verdict(result)
    assert text.index("NOT shown") < text.index(CONTEXT_CLAIM)
    assert text.index("NOT shown") < text.index(PRETRAINING_CLAIM)
    assert text.index(QA_CLAIM) < text.index("NOT shown")

    result = claims(_summary(0.58, 0.53, 0.15, 60.0, 45.0))
    assert all(c["shown"] for c in result.values())
    assert "NOT" not in verdict(result)
    # QA must beat the best trivial baseline by 10 F1; an untrained generator shows nothing
    result = claims(_summary(0.58, 0.53, 0.01, 39.0, 20.0, null_f1=30.0))
    assert not result[QA_CLAIM]["shown"] and not result[GENERATOR_CLAIM]["shown"]
    assert "all-null baseline" in result[QA_CLAIM]["evidence"]
