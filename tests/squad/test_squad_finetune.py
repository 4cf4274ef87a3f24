"""The whole loop learns: a tiny ELECTRA fine-tuned on the shared sample beats all-null."""

import json

import pytest


@pytest.mark.slow
def test_tiny_model_beats_all_null_on_its_training_questions(tmp_path, squad_sample_path,
                                                             bert_vocab_path):
    from keras_electra.squad import metrics
    from keras_electra.squad.answering import answer_question
    from keras_electra.training.finetune import run_squad

    # The first 8 Rhine paragraphs (115 questions, 39 unanswerable) of the shared sample keep
    # this under ~3 min on a busy 2-core CPU (the whole sample needs ~400 steps).
    dataset = json.loads(squad_sample_path.read_text())
    dataset["data"][0]["paragraphs"] = dataset["data"][0]["paragraphs"][:8]
    subset = tmp_path / "squad_subset.json"
    subset.write_text(json.dumps(dataset))
    result = run_squad(
        output_dir=str(tmp_path / "out"), train_file=str(subset), predict_file=str(subset),
        preset="electra_tiny", vocab_file=str(bert_vocab_path), head="electra",
        per_gpu_batch_size=16, total_steps=200, learning_rate=1e-3, layerwise_lr_decay=1.0,
        dropout=0.0, max_seq_length=192, doc_stride=64, verbose=0, seed=0)
    qids = [qa["id"] for a in dataset["data"] for p in a["paragraphs"] for qa in p["qas"]]
    baseline = metrics.evaluate_v2(dataset, {qid: "" for qid in qids})
    evaluation = result["eval"]
    print(f"all-null F1 {baseline['f1']:.2f}; fine-tuned EM {evaluation['exact']:.2f} "
          f"F1 {evaluation['f1']:.2f} HasAns F1 {evaluation['HasAns_f1']:.2f} "
          f"({result['total_steps']} steps, {result['train_seconds']:.0f} s)")
    # at G's null threshold -2.75 (the default for the electra head)
    assert evaluation["f1"] > baseline["f1"] + 15.0
    assert evaluation["HasAns_f1"] > 20.0  # it answers, not only abstains

    # the files agree with the official evaluation of what was written
    predictions = json.loads((tmp_path / "out" / "predictions.json").read_text())
    null_odds = json.loads((tmp_path / "out" / "null_odds.json").read_text())
    assert set(predictions) == set(null_odds) == set(qids)
    final = metrics.evaluate_v2(dataset, predictions)
    assert final["exact"] == pytest.approx(evaluation["exact"], abs=0.5)

    # the saved preset answers with a span of the given context
    task = result["model"]
    example = next(e for e in (dataset["data"][0]["paragraphs"][0]["qas"])
                   if e["answers"])
    context = dataset["data"][0]["paragraphs"][0]["context"]
    answer = answer_question(task, example["question"], context)
    assert answer["best_span"] and context[answer["char_start"]:answer["char_end"]] == \
        answer["best_span"]
