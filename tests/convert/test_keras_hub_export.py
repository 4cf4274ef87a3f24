"""keras-hub both ways (issue 23, point 5), offline: `export --to keras-hub` writes a preset
keras-hub 0.32's own `ElectraBackbone` / `ElectraTokenizer.from_preset` load, and our
tokenizer and QA task load keras-hub Electra presets (built locally, no download)."""

import logging

import numpy as np
import pytest
from test_keras_hub_preset import VOCAB, build_keras_hub_preset

SIZES = dict(vocabulary_size=len(VOCAB), num_layers=2, num_heads=2, hidden_dim=16,
             embedding_dim=8, intermediate_dim=32, max_sequence_length=24, dropout=0.0)
INPUTS = {"token_ids": np.array([[2, 5, 6, 7, 3, 8, 9, 3, 0, 0]], "int32"),
          "segment_ids": np.array([[0, 0, 0, 0, 0, 1, 1, 1, 0, 0]], "int32"),
          "padding_mask": np.array([[1, 1, 1, 1, 1, 1, 1, 1, 0, 0]], "int32")}
REAL = INPUTS["padding_mask"][0].astype(bool)


@pytest.fixture()
def our_preset(tmp_path):
    """A pretraining discriminator export of ours (tokenizer + RTD head beside it)."""
    from keras_electra import ElectraPretrainer, ElectraTokenizer
    from keras_electra.models.electra_pretrainer_preprocessor import (
        ElectraPretrainerPreprocessor,
    )

    tokenizer = ElectraTokenizer(vocabulary=VOCAB)
    pretrainer = ElectraPretrainer.from_preset(
        "electra_tiny", xla=False, generator_hidden_size=0.5,
        preprocessor=ElectraPretrainerPreprocessor(tokenizer, sequence_length=16), **SIZES)
    rng = np.random.RandomState(0)
    for variable in pretrainer.backbone.weights:  # non-trivial biases / LayerNorm params
        variable.assign(variable.numpy() + rng.normal(size=variable.shape).astype("f") * 0.1)
    pretrainer.export_discriminator(str(tmp_path / "disc"))
    return pretrainer.backbone, tokenizer, tmp_path / "disc"


def test_keras_hub_loads_our_export(our_preset, tmp_path, monkeypatch, capsys):
    import keras_hub
    from keras_hub.src.models.electra import electra_backbone as keras_hub_electra

    from keras_electra import ElectraBackbone
    from keras_electra.cli import main
    from keras_electra.models.electra_layers import gelu_exact

    backbone, tokenizer, preset = our_preset
    out = tmp_path / "kh"
    assert main(["export", "--to", "keras-hub", str(preset), str(out)]) == 0
    assert "ElectraBackbone, ElectraTokenizer" in capsys.readouterr().out

    theirs = keras_hub.models.ElectraBackbone.from_preset(str(out))
    assert type(theirs) is keras_hub.models.ElectraBackbone
    hub_tokenizer = keras_hub.models.ElectraTokenizer.from_preset(str(out))
    assert type(hub_tokenizer) is keras_hub.models.ElectraTokenizer
    assert list(hub_tokenizer.get_vocabulary()) == VOCAB
    text = "the rhines."
    np.testing.assert_array_equal(np.asarray(hub_tokenizer(text)), np.asarray(tokenizer(text)))

    ours_out = backbone(INPUTS)["sequence_output"].numpy()[0][REAL]
    out_theirs = theirs(INPUTS)
    theirs_out = out_theirs["sequence_output"].numpy()[0][REAL]
    # ELECTRA has no pooler: keras-hub's pooled_dense is written as zeros
    np.testing.assert_array_equal(out_theirs["pooled_output"].numpy(), 0.0)
    # keras-hub's FFN uses the tanh-approximate GELU (ours: G's and HF's exact erf GELU):
    # the only difference, as the patched load below shows
    gelu_gap = np.abs(ours_out - theirs_out).max()
    assert 0 < gelu_gap < 1e-2, gelu_gap
    monkeypatch.setattr(keras_hub_electra, "gelu_approximate", gelu_exact)
    exact = keras_hub.models.ElectraBackbone.from_preset(str(out))
    np.testing.assert_allclose(exact(INPUTS)["sequence_output"].numpy()[0][REAL], ours_out,
                               atol=1e-4, rtol=0)
    # and back: our loader reads keras-hub's preset into the same weights, bit for bit
    again = ElectraBackbone.from_preset(str(out))
    for a, b in zip(again.weights, backbone.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_our_tokenizer_and_question_answerer_load_a_keras_hub_preset(tmp_path, caplog):
    from keras_electra import ElectraQuestionAnswerer, ElectraTokenizer

    source = build_keras_hub_preset(tmp_path / "kh")
    tokenizer = ElectraTokenizer.from_preset(str(tmp_path / "kh"))
    assert type(tokenizer) is ElectraTokenizer and list(tokenizer.get_vocabulary()) == VOCAB
    assert tokenizer.lowercase and tokenizer.strip_accents
    with caplog.at_level(logging.WARNING):
        qa = ElectraQuestionAnswerer.from_preset(str(tmp_path / "kh"), head="simple",
                                                 sequence_length=16)
    lines = [r.getMessage() for r in caplog.records if "holds no QA head" in r.getMessage()]
    assert len(lines) == 1 and "head='simple'" in lines[0], caplog.text
    assert qa.head == "simple" and qa.preprocessor.sequence_length == 16
    assert list(qa.preprocessor.tokenizer.get_vocabulary()) == VOCAB
    np.testing.assert_array_equal(qa.backbone.token_embedding.embeddings.numpy(),
                                  source.token_embedding.embeddings.numpy())
    assert qa.predict(INPUTS, verbose=0)["start_logits"].shape == (1, 10)
    g_head = ElectraQuestionAnswerer.from_preset(str(tmp_path / "kh"), beam_size=4)
    assert g_head.head == "electra"  # the task's default head, fresh
