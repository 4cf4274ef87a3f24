"""Whole ElectraPretrainer from HF (discriminator + generator dirs) and from a G TF1
checkpoint: both backbones and both heads, run through the pretrainer's own layers,
match HF's ElectraForPreTraining / ElectraForMaskedLM to 1e-5."""

import numpy as np
import pytest
import test_hf_parity as parity
from test_google_checkpoint import google_variables, make_pretraining_pair

pytestmark = pytest.mark.parity


@pytest.fixture(scope="module")
def pair():
    return make_pretraining_pair()


def check_against_hf(pretrainer, disc_hf, gen_hf):
    inputs = parity.make_inputs(parity.CONFIGS["emb_ne_hidden_2heads"][0], seed=4)
    mask = inputs["padding_mask"]
    ref_disc_seq, ref_disc_logits = parity.hf_forward(disc_hf, inputs)
    ref_gen_seq, ref_gen_logits = parity.hf_forward(gen_hf, inputs)

    assert pretrainer.generator.embeddings is pretrainer.discriminator.embeddings
    disc_seq = pretrainer.discriminator(inputs)["sequence_output"]
    parity.assert_close_on_tokens(np.asarray(disc_seq), ref_disc_seq, mask, "discriminator")
    disc_logits = np.asarray(pretrainer.discriminator_head(disc_seq))
    parity.assert_close_on_tokens(disc_logits, ref_disc_logits, mask, "RTD logits")

    gen_seq = pretrainer.generator(inputs)["sequence_output"]
    parity.assert_close_on_tokens(np.asarray(gen_seq), ref_gen_seq, mask, "generator")
    positions = np.array([[1, 4, 7], [0, 2, 8], [3, 5, 1]], "int32")  # non-pad positions
    mlm = np.asarray(pretrainer.generator_head(gen_seq, mask_positions=positions))
    ref = np.take_along_axis(ref_gen_logits, positions[..., None], axis=1)
    assert np.abs(mlm - ref).max() <= parity.TOL


def test_pretrainer_from_hf_dirs(tmp_path, pair):
    from keras_electra import ElectraPretrainer

    disc_hf, gen_hf = pair
    disc_hf.save_pretrained(tmp_path / "disc")
    gen_hf.save_pretrained(tmp_path / "gen")
    pretrainer = ElectraPretrainer.from_preset(str(tmp_path / "disc"),
                                               generator_preset=str(tmp_path / "gen"))
    assert pretrainer.generator.hidden_dim == 24 and pretrainer.generator.num_heads == 2
    check_against_hf(pretrainer, disc_hf, gen_hf)

    with pytest.raises(ValueError, match="ElectraForMaskedLM"):
        ElectraPretrainer.from_preset(str(tmp_path / "gen"))


def test_pretrainer_from_google_checkpoint(tmp_path, pair):
    from keras_electra import ElectraPretrainer
    from keras_electra.convert import google
    from keras_electra.convert.pretrainer import pretrainer_from_google

    prefix = google.write_google_checkpoint(str(tmp_path / "model.ckpt-3"),
                                            google_variables(*pair))
    pretrainer = pretrainer_from_google(ElectraPretrainer, prefix, num_heads=2,
                                        generator_num_heads=2)
    check_against_hf(pretrainer, *pair)
