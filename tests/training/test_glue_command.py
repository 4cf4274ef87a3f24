"""`keras-electra glue` end to end on tiny GLUE-layout files: eval.json equals scipy /
scikit-learn on the dev_predictions.tsv it wrote, one row per dev example in file order, the
model is a preset that exports to a raw-string SavedModel with the same logits; bad inputs
stop the command with one line naming the file and line, before any model is built."""

import json

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as sk

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "dog",
         "ran", "a", "is", ".", "big", "red", "fast", "slow", "man"]
WORDS = VOCAB[5:]


def _tiny_backbone_preset(path):
    import keras

    from keras_electra import ElectraBackbone, ElectraTokenizer

    keras.utils.set_random_seed(0)
    backbone = ElectraBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                               hidden_dim=16, embedding_dim=8, intermediate_dim=32,
                               max_sequence_length=32)
    backbone.save_to_preset(str(path))
    ElectraTokenizer(VOCAB).save_to_preset(str(path))
    return path


def _sentence(rng, n):
    return " ".join(rng.choice(WORDS, n)) + " ."


def _stsb_lines(rng, count):
    lines = ["index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2"
             "\tscore"]
    for i in range(count):
        lines.append(f"{i}\tmain-captions\tMSRvid\t2012test\t{i:04d}\tnone\tnone\t"
                     f"{_sentence(rng, 5)}\t{_sentence(rng, 4)}\t{rng.uniform(0, 5):.3f}")
    return lines


def _mnli_lines(rng, count, dev):
    labels = ("contradiction", "entailment", "neutral")
    head = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
            "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\t")
    lines = [head + ("label2\tlabel3\tlabel4\tlabel5\tgold_label" if dev else "gold_label")]
    for i in range(count):
        label = labels[i % 3]
        extra = "\t".join([label] * (5 if dev else 1))
        lines.append(f"{i}\t{i}\t{i}n\tslate\t( a )\t( b )\t(ROOT a)\t(ROOT b)\t"
                     f"{_sentence(rng, 5)}\t{_sentence(rng, 3)}\t{extra}\t{label}")
    return lines


def _write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _read_predictions(path):
    rows = path.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "index\tprediction"
    index, values = zip(*(row.split("\t") for row in rows[1:]))
    assert list(index) == [str(i) for i in range(len(rows) - 1)]
    return list(values)


@pytest.mark.slow
def test_glue_stsb_and_mnli_write_metrics_predictions_and_an_exportable_model(tmp_path, capsys):
    import tensorflow as tf

    from keras_electra import ElectraTextClassifier
    from keras_electra.cli import main

    rng = np.random.default_rng(0)
    preset = _tiny_backbone_preset(tmp_path / "backbone")
    stsb_dev = _stsb_lines(rng, 9)
    _write(tmp_path / "STS-B" / "train.tsv", _stsb_lines(rng, 16))
    _write(tmp_path / "STS-B" / "dev.tsv", stsb_dev)
    common = ["--load_from", "checkpoint", "--checkpoint_path", str(preset),
              "--max_seq_length", "24", "--per_gpu_batch_size", "8", "--total_steps", "3",
              "--learning_rate", "1e-3"]
    out = tmp_path / "stsb_out"
    assert main(["glue", "--task", "stsb", "--data_dir", str(tmp_path), "--output_dir",
                 str(out), *common]) == 0
    evaluation = json.loads((out / "eval.json").read_text())
    scores = [float(v) for v in _read_predictions(out / "dev_predictions.tsv")]
    gold = [float(line.split("\t")[-1]) for line in stsb_dev[1:]]
    assert len(scores) == len(gold) == evaluation["num_examples"] == 9
    assert abs(evaluation["pearson"] - stats.pearsonr(gold, scores)[0]) <= 1e-9
    assert abs(evaluation["spearman"] - stats.spearmanr(gold, scores)[0]) <= 1e-9
    train = json.loads((out / "train.json").read_text())
    assert train["num_train_examples"] == 32  # G's double_unordered: both orders of each pair

    # the model: a preset; its SavedModel (tokenization in the graph) gives the same logits
    classifier = ElectraTextClassifier.from_preset(str(out / "model"))
    assert classifier.num_classes == 1
    pairs = [line.split("\t")[7:9] for line in stsb_dev[1:]]
    text_a, text_b = [p[0] for p in pairs], [p[1] for p in pairs]
    expected = classifier.predict({"text_a": text_a, "text_b": text_b}, verbose=0)
    np.testing.assert_allclose(expected[:, 0] * 5.0, scores, rtol=1e-6, atol=1e-6)
    assert main(["export", "--to", "saved_model", str(out / "model"),
                 str(tmp_path / "served")]) == 0
    served = tf.saved_model.load(str(tmp_path / "served"))
    got = served.signatures["serve_pairs"](text_a=tf.constant(text_a), text_b=tf.constant(text_b))
    np.testing.assert_allclose(got["logits"].numpy(), expected, atol=1e-5)
    single = served.signatures["serving_default"](text=tf.constant(text_a[:2]))
    np.testing.assert_allclose(single["logits"].numpy(),
                               classifier.predict(text_a[:2], verbose=0), atol=1e-5)

    # MNLI: matched and mismatched dev sets, labels written as names, accuracy as sklearn's
    mnli = tmp_path / "MNLI"
    _write(mnli / "train.tsv", _mnli_lines(rng, 12, dev=False))
    matched, mismatched = _mnli_lines(rng, 7, dev=True), _mnli_lines(rng, 5, dev=True)
    _write(mnli / "dev_matched.tsv", matched)
    _write(mnli / "dev_mismatched.tsv", mismatched)
    out = tmp_path / "mnli_out"
    assert main(["glue", "--task", "mnli", "--data_dir", str(mnli), "--output_dir", str(out),
                 *common]) == 0
    evaluation = json.loads((out / "eval.json").read_text())
    for split, lines, name in (("dev_matched", matched, "dev_predictions.tsv"),
                               ("dev_mismatched", mismatched,
                                "dev_mismatched_predictions.tsv")):
        predicted = _read_predictions(out / name)
        gold = [line.split("\t")[-1] for line in lines[1:]]
        assert set(predicted) <= {"contradiction", "entailment", "neutral"}
        assert abs(evaluation["splits"][split]["accuracy"]
                   - sk.accuracy_score(gold, predicted)) <= 1e-9
    assert evaluation["accuracy"] == evaluation["splits"]["dev_matched"]["accuracy"]


def _one_line_error(capsys, argv):
    from keras_electra.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("keras-electra glue: error: "), err
    return err[0]


def test_bad_glue_inputs_stop_with_one_line_naming_file_and_line(tmp_path, capsys):
    out = ["--output_dir", str(tmp_path / "out"), "--vocab_file", str(tmp_path / "none.txt")]
    cola = tmp_path / "CoLA"
    _write(cola / "train.tsv", ["source\tlabel\tmark\tsentence", "gj04\t1\t\tA sentence ."])
    _write(cola / "dev.tsv", ["gj04\t1\t\tA sentence ."])
    message = _one_line_error(capsys, ["glue", "--task", "cola", "--data_dir", str(cola), *out])
    assert str(cola / "train.tsv") in message and "line 1" in message and "header" in message
    rte = tmp_path / "RTE"
    _write(rte / "train.tsv", ["index\tsentence1\tsentence2\tlabel", "0\ta .\tb .\tentailment"])
    _write(rte / "dev.tsv", ["index\tsentence1\tsentence2\tlabel"])
    message = _one_line_error(capsys, ["glue", "--task", "rte", "--data_dir", str(rte), *out])
    assert str(rte / "dev.tsv") in message and "no examples" in message
    _write(rte / "dev.tsv", ["index\tsentence1\tsentence2\tlabel", "0\ta .\tb .\tmaybe"])
    message = _one_line_error(capsys, ["glue", "--task", "rte", "--data_dir", str(rte), *out])
    assert str(rte / "dev.tsv") in message and "line 2" in message and "'maybe'" in message
    jsonl = tmp_path / "train.jsonl"
    _write(jsonl, ['{"text": "a", "label": "x"}', '{"text": "b"}'])
    message = _one_line_error(capsys, ["glue", "--train_file", str(jsonl), "--text_columns",
                                       "text", *out])
    assert str(jsonl) in message and "line 2" in message and "'label'" in message
    assert not (tmp_path / "out").exists()  # refused before anything was written
    message = _one_line_error(capsys, ["glue", "--task", "rte", "--output_dir", str(tmp_path)])
    assert "--data_dir" in message


@pytest.mark.slow
def test_generic_jsonl_mode_trains_and_scores_like_scikit_learn(tmp_path):
    from keras_electra.training.glue import run_glue

    rng = np.random.default_rng(1)
    preset = _tiny_backbone_preset(tmp_path / "backbone")

    def write(path, count):
        rows = [{"review": _sentence(rng, 6), "stars": str(rng.choice(["good", "bad", "ok"]))}
                for _ in range(count)]
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
        return rows

    write(tmp_path / "train.jsonl", 16)
    dev = write(tmp_path / "dev.jsonl", 7)
    result = run_glue(str(tmp_path / "out"), train_file=str(tmp_path / "train.jsonl"),
                      dev_file=str(tmp_path / "dev.jsonl"), text_columns="review",
                      label_column="stars", load_from="checkpoint", checkpoint_path=str(preset),
                      max_seq_length=16, per_gpu_batch_size=8, total_steps=2, verbose=0)
    assert result["model"].label_names == ["bad", "good", "ok"]  # sorted training labels
    predicted = _read_predictions(tmp_path / "out" / "dev_predictions.tsv")
    gold = [r["stars"] for r in dev]
    assert abs(result["eval"]["accuracy"] - sk.accuracy_score(gold, predicted)) <= 1e-9
    assert abs(result["eval"]["mcc"] - sk.matthews_corrcoef(gold, predicted)) <= 1e-9
