"""ElectraTextClassifier <-> transformers' ElectraForSequenceClassification: the export loads
with no missing or unexpected keys and the same logits; a locally built HF classifier
converts to ours with the same logits; G's single-dense head is refused with one line."""

import json

import numpy as np
import pytest
from conftest import import_or_fail

SMALL = dict(vocabulary_size=30, num_layers=2, num_heads=2, hidden_dim=16, embedding_dim=8,
             intermediate_dim=32, max_sequence_length=32, dropout=0.0)
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(25)]


def _inputs(batch=3, length=12, seed=0):
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(5, SMALL["vocabulary_size"], (batch, length)).astype("int32")
    segment_ids = np.zeros((batch, length), "int32")
    padding_mask = np.ones((batch, length), "int32")
    for b in range(batch):
        n = length - 2 * b
        token_ids[b, 0], token_ids[b, 4], token_ids[b, n - 1] = 2, 3, 3
        token_ids[b, n:] = 0
        segment_ids[b, 5:n] = 1
        padding_mask[b, n:] = 0
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def _hf_logits(model, x):
    import torch

    with torch.no_grad():
        return model(input_ids=torch.tensor(x["token_ids"], dtype=torch.long),
                     attention_mask=torch.tensor(x["padding_mask"], dtype=torch.long),
                     token_type_ids=torch.tensor(x["segment_ids"], dtype=torch.long)
                     ).logits.numpy()


def _classifier(num_classes, head="hf", label_names=None, seed=3):
    import keras

    from keras_electra import (
        ElectraBackbone,
        ElectraTextClassifier,
        ElectraTextClassifierPreprocessor,
        ElectraTokenizer,
    )

    keras.utils.set_random_seed(seed)
    backbone = ElectraBackbone(**SMALL)
    classifier = ElectraTextClassifier(
        backbone, num_classes=num_classes, head=head, label_names=label_names,
        preprocessor=ElectraTextClassifierPreprocessor(ElectraTokenizer(VOCAB), 16))
    rng = np.random.default_rng(seed)
    for w in classifier.weights:  # non-trivial values everywhere (biases, LayerNorm too)
        w.assign(rng.normal(1.0 if w.path.endswith("gamma") else 0.0, 0.2, w.shape))
    return classifier


@pytest.mark.parity
@pytest.mark.parametrize("num_classes,label_names", [(3, ["contradiction", "entailment",
                                                          "neutral"]), (1, None)])
def test_export_loads_in_transformers_with_no_missing_keys_and_equal_logits(
        num_classes, label_names, tmp_path):
    import_or_fail("torch")
    transformers = import_or_fail("transformers")
    from keras_electra.convert.text_classifier import export_text_classifier_to_hf

    classifier = _classifier(num_classes, label_names=label_names)
    export_text_classifier_to_hf(classifier, tmp_path / "hf")
    model, info = transformers.ElectraForSequenceClassification.from_pretrained(
        str(tmp_path / "hf"), output_loading_info=True)
    model.eval()
    assert info["missing_keys"] in ([], set()) and info["unexpected_keys"] in ([], set())
    assert not info.get("mismatched_keys")
    x = _inputs()
    ours, theirs = classifier.predict(x, verbose=0), _hf_logits(model, x)
    assert ours.shape == theirs.shape == (3, num_classes)
    assert np.abs(ours - theirs).max() <= 1e-4
    assert np.abs(theirs).max() > 0.01 and np.ptp(theirs) > 0.01  # not trivially equal
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["problem_type"] == ("regression" if num_classes == 1
                                      else "single_label_classification")
    if label_names:
        assert [model.config.id2label[i] for i in range(3)] == label_names
    assert (tmp_path / "hf" / "vocab.txt").read_text().split("\n")[:5] == VOCAB[:5]


@pytest.mark.parity
def test_hf_sequence_classifier_converts_to_ours_with_equal_logits(tmp_path):
    torch = import_or_fail("torch")
    transformers = import_or_fail("transformers")
    from keras_electra import ElectraTextClassifier

    config = transformers.ElectraConfig(
        vocab_size=SMALL["vocabulary_size"], embedding_size=SMALL["embedding_dim"],
        hidden_size=SMALL["hidden_dim"], num_hidden_layers=SMALL["num_layers"],
        num_attention_heads=SMALL["num_heads"], intermediate_size=SMALL["intermediate_dim"],
        max_position_embeddings=SMALL["max_sequence_length"], hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, num_labels=2,
        id2label={0: "not_entailment", 1: "entailment"},
        label2id={"not_entailment": 0, "entailment": 1})
    torch.manual_seed(0)
    model = transformers.ElectraForSequenceClassification(config).eval()
    for name, p in model.named_parameters():
        torch.nn.init.normal_(p, mean=1.0 if "LayerNorm.weight" in name else 0.0, std=0.2)
    model.save_pretrained(str(tmp_path / "hf"))
    (tmp_path / "hf" / "vocab.txt").write_text("\n".join(VOCAB) + "\n")

    classifier = ElectraTextClassifier.from_preset(str(tmp_path / "hf"))
    assert (classifier.num_classes, classifier.head) == (2, "hf")
    assert classifier.label_names == ["not_entailment", "entailment"]
    x = _inputs(seed=1)
    assert np.abs(classifier.predict(x, verbose=0) - _hf_logits(model, x)).max() <= 1e-4
    # raw strings through the preprocessor found next to the weights
    assert classifier.predict(["w1 w2 w3"], verbose=0).shape == (1, 2)
    with pytest.raises(ValueError, match="num_classes=3"):
        ElectraTextClassifier.from_preset(str(tmp_path / "hf"), num_classes=3)


def test_g_single_dense_head_is_refused_by_hf_export_with_one_line(tmp_path, capsys):
    from keras_electra.cli import main
    from keras_electra.convert.text_classifier import export_text_classifier_to_hf

    classifier = _classifier(2, head="electra")
    with pytest.raises(ValueError, match="head='electra'"):
        export_text_classifier_to_hf(classifier, tmp_path / "direct")
    assert not (tmp_path / "direct").exists()
    classifier.save_to_preset(str(tmp_path / "preset"))
    assert main(["export", "--to", "hf", str(tmp_path / "preset"), str(tmp_path / "hf")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("keras-electra export: error: ")
    assert "ElectraForSequenceClassification" in err[0]
    assert not (tmp_path / "hf").exists()


def test_from_preset_of_a_keras_hub_backbone_and_of_a_qa_preset(tmp_path, bert_vocab_path):
    from conftest import tiny_question_answerer
    from test_keras_hub_preset import build_keras_hub_preset

    from keras_electra import ElectraBackbone, ElectraTextClassifier

    build_keras_hub_preset(tmp_path / "kh")
    classifier = ElectraTextClassifier.from_preset(str(tmp_path / "kh"), num_classes=2)
    reference = ElectraBackbone.from_preset(str(tmp_path / "kh"))
    for ours, theirs in zip(classifier.backbone.weights, reference.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert classifier.preprocessor.sequence_length == 24  # clamped to the backbone's positions
    assert classifier.predict(["the rhine rivers ."], verbose=0).shape == (1, 2)
    with pytest.raises(ValueError, match="num_classes"):
        ElectraTextClassifier.from_preset(str(tmp_path / "kh"))

    qa = tiny_question_answerer(bert_vocab_path)
    qa.save_to_preset(str(tmp_path / "qa"))
    on_qa = ElectraTextClassifier.from_preset(str(tmp_path / "qa"), num_classes=3)
    for ours, theirs in zip(on_qa.backbone.weights, qa.backbone.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert on_qa.predict({"text_a": ["Who?"], "text_b": ["Nobody."]}, verbose=0).shape == (1, 3)
