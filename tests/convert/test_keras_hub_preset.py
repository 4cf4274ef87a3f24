"""keras-hub's ElectraBackbone preset (saved locally, offline) -> our ElectraBackbone."""

import json

import numpy as np

KERAS_HUB_CONFIG = dict(vocab_size=60, num_layers=2, num_heads=2, hidden_dim=16,
                        embedding_dim=8, intermediate_dim=32, max_sequence_length=24)
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "rhine", "river", "##s", "."]
VOCAB += [f"w{i}" for i in range(60 - len(VOCAB))]


def build_keras_hub_preset(path):
    import keras_hub

    source = keras_hub.models.ElectraBackbone(**KERAS_HUB_CONFIG)
    rng = np.random.RandomState(0)
    for variable in source.weights:  # non-trivial biases / LayerNorm params too
        variable.assign(rng.normal(size=variable.shape).astype("float32") * 0.1)
    source.save_to_preset(str(path))
    keras_hub.models.ElectraTokenizer(vocabulary=VOCAB).save_to_preset(str(path))
    return source


def test_local_keras_hub_preset_weights_copy_exactly(tmp_path):
    from keras_electra import ElectraBackbone

    source = build_keras_hub_preset(tmp_path / "kh")
    config = json.loads((tmp_path / "kh" / "config.json").read_text())
    assert config["registered_name"] == "keras_hub>ElectraBackbone"

    backbone = ElectraBackbone.from_preset(str(tmp_path / "kh"))
    assert isinstance(backbone, ElectraBackbone)
    ours = {v.path: v.numpy() for v in backbone.weights}
    theirs = {v.path: v.numpy() for v in source.weights}
    # Every keras-hub weight except the pooler lands in ours, by the expected name.
    expected = {
        "token_embedding/embeddings": "embeddings/token_embedding/embeddings",
        "position_embedding/embeddings": "embeddings/position_embedding/embeddings",
        "segment_embedding/embeddings": "embeddings/segment_embedding/embeddings",
        "embeddings_layer_norm/gamma": "embeddings/embeddings_layer_norm/gamma",
        "embeddings_layer_norm/beta": "embeddings/embeddings_layer_norm/beta",
        "embeddings_projection/kernel": "embeddings_project/kernel",
        "embeddings_projection/bias": "embeddings_project/bias",
    }
    compared = 0
    for path, value in theirs.items():
        if path.startswith("pooled_dense/"):
            continue
        target = expected.get(path, path)
        np.testing.assert_array_equal(ours[target], value, err_msg=path)
        compared += 1
    assert compared == len(ours)  # nothing of ours left unfilled
    assert not any("pooled" in p for p in ours)

    inputs = {"token_ids": np.array([[2, 5, 6, 7, 3, 0]], "int32"),
              "segment_ids": np.array([[0, 0, 0, 1, 1, 0]], "int32"),
              "padding_mask": np.array([[1, 1, 1, 1, 1, 0]], "int32")}
    ours_out = backbone(inputs)["sequence_output"].numpy()[:, :5]
    theirs_out = source(inputs)["sequence_output"].numpy()[:, :5]
    # keras-hub uses tanh-approximate GELU, we use exact erf GELU: close, not equal.
    assert np.abs(ours_out - theirs_out).max() < 5e-2
    assert not np.array_equal(ours_out, theirs_out)


def test_convert_cli_from_keras_hub_writes_backbone_and_tokenizer(tmp_path):
    from keras_electra import ElectraBackbone, ElectraTokenizer
    from keras_electra.cli import main

    source = build_keras_hub_preset(tmp_path / "kh")
    assert main(["convert", "--from", "keras-hub", str(tmp_path / "kh"), str(tmp_path / "out")]) == 0
    backbone = ElectraBackbone.from_preset(str(tmp_path / "out"))
    np.testing.assert_array_equal(backbone.token_embedding.embeddings.numpy(),
                                  source.token_embedding.embeddings.numpy())
    tokenizer = ElectraTokenizer.from_preset(str(tmp_path / "out"))
    assert list(tokenizer.get_vocabulary()) == VOCAB
    assert tokenizer.lowercase and tokenizer.strip_accents  # uncased conventions
    assert list(np.asarray(tokenizer("The Rhines."))) == [5, 6, 8, 9]


def test_task_classes_on_a_keras_hub_preset_give_dtype_to_the_backbone(tmp_path):
    """`dtype=` reaches the backbone of every task built on a keras-hub preset (the QA class
    once left its backbone in float32 while its head ran in the policy asked for)."""
    from keras_electra import ElectraQuestionAnswerer
    from keras_electra.models.electra_text_classifier import ElectraTextClassifier

    build_keras_hub_preset(tmp_path / "kh")
    qa = ElectraQuestionAnswerer.from_preset(str(tmp_path / "kh"), dtype="mixed_bfloat16")
    classifier = ElectraTextClassifier.from_preset(str(tmp_path / "kh"), num_classes=2,
                                                   dtype="mixed_bfloat16")
    for task in (qa, classifier):
        assert task.backbone.dtype_policy.name == "mixed_bfloat16", type(task).__name__
        assert task.preprocessor is not None  # the preset's vocabulary came along
