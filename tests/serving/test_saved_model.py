"""The QA SavedModel (issue 18): loaded in a fresh process with TensorFlow and
tensorflow-text only, it gives the Keras model's windows exactly, its logits to 1e-5 and the
same answers, on real SQuAD v2.0 questions (long contexts over several windows, unanswerable
questions, characters G's tokenizer deletes or reads as spaces)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import tiny_question_answerer

HERE = os.path.dirname(os.path.abspath(__file__))
WINDOW_KEYS = ("token_ids", "segment_ids", "padding_mask", "token_char_start",
               "token_char_end", "token_is_max_context", "example_index", "window_index")


@pytest.fixture(scope="module")
def examples(squad_sample_path):
    from keras_electra.squad.reader import SquadExample, read_squad

    data = read_squad(str(squad_sample_path))
    chosen = data.examples[:24] + [e for e in data.examples if e.is_impossible][:8]
    assert any(e.is_impossible for e in chosen) and not all(e.is_impossible for e in chosen)
    # characters G's tokenizer deletes (inside words) or reads as spaces: the graph cleans too
    edited = []
    for i, e in enumerate(chosen[:3]):
        words = e.context.split(" ")
        words[3] = words[3][:2] + "\u200b" + words[3][2:] + "\x0c"
        words[6] = words[6] + "\u00a0" + words[7][:1] + "\ufeff" + words[7][1:]
        del words[7]
        edited.append(SquadExample(f"{e.qas_id}-edited", e.question, " ".join(words), [], True))
    return chosen + edited


def _model(bert_vocab_path, head):
    # 64 tokens, stride 24: every SQuAD context needs several windows
    return tiny_question_answerer(bert_vocab_path, head, doc_stride=24, seed=1)


@pytest.mark.slow
@pytest.mark.parametrize("head", ["electra", "simple"])
def test_saved_model_in_a_fresh_process_equals_the_keras_model(head, examples, bert_vocab_path,
                                                               tmp_path):
    from keras_electra.serving import answers_from_outputs, export_question_answerer
    from keras_electra.squad.answering import answer_question

    qa = _model(bert_vocab_path, head)
    export_question_answerer(qa, str(tmp_path / "served"))
    pairs = [(e.question, e.context) for e in examples]
    (tmp_path / "pairs.json").write_text(json.dumps(pairs), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, "serve_in_fresh_process.py"),
         str(tmp_path / "served"), str(tmp_path / "pairs.json"), str(tmp_path / "out.npz")],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    served = dict(np.load(tmp_path / "out.npz"))

    features = qa.preprocessor.featurize(examples, is_training=False, progress=False)
    assert len(features) > 3 * len(examples)  # several windows per context
    for key in WINDOW_KEYS:
        assert np.array_equal(served[key], np.asarray(getattr(features, key))), key
    expected = {k: np.asarray(v) for k, v in qa.predict(features.inputs(), verbose=0).items()}
    context = features.token_char_start >= 0
    for key, value in expected.items():
        got = served[key]
        assert got.shape == value.shape, key
        if "index" in key:
            assert np.array_equal(got, value), key
        elif value.shape == context.shape:  # logits: 1e-5 on context tokens; the masked
            # non-context positions sit near -1000 (float32 ulp there is 6e-5)
            np.testing.assert_allclose(got[context], value[context], rtol=0, atol=1e-5)
            np.testing.assert_allclose(got, value, rtol=1e-6, atol=1e-5)
        else:
            np.testing.assert_allclose(got, value, rtol=0, atol=1e-5)

    served["head"] = served["head"].item()
    answers = answers_from_outputs(served, [p[0] for p in pairs], [p[1] for p in pairs])
    for example, answer in zip(examples, answers):
        reference = answer_question(qa, example.question, example.context)
        for key in ("answer", "best_span", "char_start", "char_end", "null_threshold"):
            assert answer[key] == reference[key], (example.qas_id, key)
        assert abs(answer["score"] - reference["score"]) < 1e-5
        assert abs(answer["null_odds"] - reference["null_odds"]) < 1e-5
    if head == "simple":  # a random model still finds spans: the check is not vacuous
        assert sum(bool(a["best_span"]) for a in answers) > len(answers) // 2


def test_saved_model_cli_lists_the_raw_string_signature(bert_vocab_path, tmp_path, capsys):
    """`keras-electra export --to saved_model QA_PRESET OUT_DIR`, then TF's own CLI."""
    from keras_electra.cli import main

    _model(bert_vocab_path, "simple").save_to_preset(str(tmp_path / "qa"))
    assert main(["export", "--to", "saved_model", str(tmp_path / "qa"),
                 str(tmp_path / "served")]) == 0
    assert "serving_default(question, context)" in capsys.readouterr().out
    assert main(["export", "--to", "saved_model", str(tmp_path / "qa"),
                 str(tmp_path / "qa" / "served")]) == 2  # never inside its source
    assert "the output directory is inside the input" in capsys.readouterr().err
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    proc = subprocess.run([cli, "show", "--dir", str(tmp_path / "served"), "--tag_set", "serve",
                           "--signature_def", "serving_default"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("inputs['question']", "inputs['context']", "dtype: DT_STRING",
                 "outputs['start_logits']", "outputs['token_char_start']",
                 "outputs['example_index']", "outputs['null_threshold']"):
        assert name in proc.stdout, (name, proc.stdout[-2000:])
