"""`ElectraPretrainer.from_preset` of any pair of released weights (to continue pretraining):
a google-research/electra TF1 checkpoint, a keras-hub preset, our converted presets, an HF pair
with differing embedding tables; each compared with its source (HF forward to 1e-5, keras-hub
weights exactly)."""

import logging

import numpy as np
import pytest
from test_google_checkpoint import google_variables, make_pretraining_pair
from test_keras_hub_preset import build_keras_hub_preset
from test_pretrainer_convert import check_against_hf

pytestmark = pytest.mark.parity


@pytest.fixture(scope="module")
def pair():
    return make_pretraining_pair()


def test_from_preset_of_a_google_checkpoint_holds_both_models_and_heads(tmp_path, pair):
    from keras_electra import ElectraPretrainer
    from keras_electra.convert import google

    prefix = google.write_google_checkpoint(str(tmp_path / "g" / "model.ckpt-3"),
                                            google_variables(*pair))
    for source in (prefix, str(tmp_path / "g")):  # the prefix, or its directory
        pretrainer = ElectraPretrainer.from_preset(source, num_heads=2, generator_num_heads=2)
        check_against_hf(pretrainer, *pair)
    with pytest.raises(ValueError, match="holds its own generator"):
        ElectraPretrainer.from_preset(prefix, generator_preset=prefix, num_heads=2)


def test_from_preset_of_our_converted_presets_keeps_heads(tmp_path, pair):
    from keras_electra import ElectraPretrainer
    from keras_electra.convert import preset_io

    disc_hf, gen_hf = pair
    disc_hf.save_pretrained(tmp_path / "disc_hf")
    gen_hf.save_pretrained(tmp_path / "gen_hf")
    preset_io.convert_to_preset("hf", str(tmp_path / "disc_hf"), str(tmp_path / "disc"))
    preset_io.convert_to_preset("hf", str(tmp_path / "gen_hf"), str(tmp_path / "gen"))
    pretrainer = ElectraPretrainer.from_preset(str(tmp_path / "disc"),
                                               generator_preset=str(tmp_path / "gen"))
    check_against_hf(pretrainer, disc_hf, gen_hf)


def test_hf_pair_with_differing_embeddings_keeps_the_discriminators(tmp_path, pair, caplog):
    import torch

    from keras_electra import ElectraPretrainer

    disc_hf, gen_hf = pair
    disc_hf.save_pretrained(tmp_path / "disc")
    with torch.no_grad():
        gen_hf.electra.embeddings.position_embeddings.weight.add_(1.0)
    try:
        gen_hf.save_pretrained(tmp_path / "gen")
    finally:
        with torch.no_grad():
            gen_hf.electra.embeddings.position_embeddings.weight.sub_(1.0)
    with caplog.at_level(logging.WARNING, logger="keras_electra.convert.pretrainer"):
        pretrainer = ElectraPretrainer.from_preset(str(tmp_path / "disc"),
                                                   generator_preset=str(tmp_path / "gen"))
    lines = [r.getMessage() for r in caplog.records if "differ" in r.getMessage()]
    assert len(lines) == 1 and "discriminator's" in lines[0] and "position" in lines[0]
    check_against_hf(pretrainer, disc_hf, gen_hf)  # the shared table is the discriminator's


def test_keras_hub_pair_fresh_heads_said(tmp_path, caplog):
    import keras

    from keras_electra import ElectraPretrainer

    disc = build_keras_hub_preset(tmp_path / "disc")
    with caplog.at_level(logging.WARNING, logger="keras_electra.convert.pretrainer"):
        pretrainer = ElectraPretrainer.from_preset(str(tmp_path / "disc"))
    messages = " | ".join(r.getMessage() for r in caplog.records)
    assert "no discriminator (RTD) head" in messages and "a fresh generator" in messages
    ours = {v.path: keras.ops.convert_to_numpy(v) for v in pretrainer.backbone.weights}
    word = "token_embedding/embeddings"
    kh = {v.path: keras.ops.convert_to_numpy(v) for v in disc.weights}
    assert np.array_equal(next(a for p, a in ours.items() if word in p),
                          next(a for p, a in kh.items() if word in p))
    assert pretrainer.generator.embeddings is pretrainer.backbone.embeddings
