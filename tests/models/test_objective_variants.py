"""G's objective switches on ElectraPretrainer (issue 18): what each one changes, checked
against what G's code does, plus save/load of the setting."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_electra import ElectraBackbone, ElectraPretrainer
from keras_electra.models import electra_masking as masking

VOCAB = 110  # ids 104..109 are the only words: a sample often equals the original
CLS, SEP, MASK, PAD = 101, 102, 103, 0


def pretrainer(**kwargs):
    keras.utils.set_random_seed(0)
    backbone = ElectraBackbone(vocabulary_size=VOCAB, num_layers=2, num_heads=2, hidden_dim=32,
                               embedding_dim=16, intermediate_dim=64, dropout=0.0,
                               max_sequence_length=32)
    return ElectraPretrainer(backbone, generator_hidden_size=0.5, **kwargs)


def batch(rng, size=16, length=24):
    ids = rng.integers(104, VOCAB, size=(size, length)).astype(np.int32)
    ids[:, 0], ids[:, length // 2], ids[:, -1] = CLS, SEP, SEP
    segments = (np.arange(length)[None] > length // 2).astype(np.int32).repeat(size, 0)
    return {"token_ids": ids, "segment_ids": segments,
            "padding_mask": np.ones((size, length), np.int32)}


def words_only_bias(model):
    """Generator output bias +20 on the six words: every fake is one of them."""
    bias = np.full(VOCAB, -20.0, np.float32)
    bias[104:] = 20.0
    model.generator_head._bias.assign(bias)  # keras-hub 0.32 MaskedLMHead private name


def test_gumbel_argmax_disallow_is_g_sample_from_softmax():
    """G: logits / T - 1000 * one_hot(disallow) + Gumbel, argmax."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 5, 7)).astype(np.float32) * 3
    uniform = rng.random((4, 5, 7)).astype(np.float32)
    disallow = rng.integers(0, 7, size=(4, 5)).astype(np.int32)
    gumbel = -np.log(-np.log(uniform + 1e-9) + 1e-9)
    expected = np.argmax(logits / 0.7 - 1000 * np.eye(7)[disallow] + gumbel, axis=-1)
    got = masking.gumbel_argmax(logits, uniform, 0.7, disallow=disallow)
    assert np.array_equal(ops.convert_to_numpy(got), expected)
    assert not np.any(expected == disallow)


@pytest.mark.parametrize("disallow", [False, True])
def test_disallow_correct_never_samples_the_original(disallow):
    rng = np.random.default_rng(1)
    model = pretrainer(disallow_correct=disallow)
    words_only_bias(model)
    out = model(batch(rng), training=True)
    weights = ops.convert_to_numpy(out["masked_lm_weights"]) > 0
    sampled = ops.convert_to_numpy(out["sampled_ids"])[weights]
    original = ops.convert_to_numpy(out["masked_lm_ids"])[weights]
    same = np.mean(sampled == original)
    if disallow:
        assert same == 0.0
        assert np.all(ops.convert_to_numpy(out["labels"]).sum(axis=1) > 0)
    else:  # one word in six: the switch is what removes these
        assert 0.05 < same < 0.4


def test_generator_layers_sets_the_generator_depth_and_survives_save_load(tmp_path):
    model = ElectraPretrainer.from_preset("electra_tiny", vocabulary_size=VOCAB,
                                          generator_layers=0.5)
    assert model.backbone.num_layers == 2 and model.generator.num_layers == 1
    assert ElectraPretrainer.from_preset("electra_tiny",
                                         vocabulary_size=VOCAB).generator.num_layers == 2
    model.save_to_preset(str(tmp_path / "p"))
    again = ElectraPretrainer.from_preset(str(tmp_path / "p"))
    assert again.generator.num_layers == 1 and again.generator_layers == 0.5


def test_untied_generator_embeddings_gives_the_generator_its_own_table(tmp_path):
    tied, untied = pretrainer(), pretrainer(untied_generator_embeddings=True)
    assert tied.generator.token_embedding is tied.backbone.token_embedding
    assert tied.generator_head.token_embedding is tied.backbone.token_embedding
    assert untied.generator.token_embedding is not untied.backbone.token_embedding
    assert untied.generator_head.token_embedding is untied.generator.token_embedding
    # the generator's loss alone reaches only its own table
    rng = np.random.default_rng(2)
    x = batch(rng)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        out = untied(x, training=True)
    disc_table = untied.backbone.token_embedding.embeddings
    gen_table = untied.generator.token_embedding.embeddings
    grads = tape.gradient(out["gen_loss"], [disc_table, gen_table])
    assert grads[0] is None or float(tf.reduce_max(tf.abs(grads[0]))) == 0.0
    assert float(tf.reduce_max(tf.abs(grads[1]))) > 0
    untied.save_to_preset(str(tmp_path / "u"))
    again = ElectraPretrainer.from_preset(str(tmp_path / "u"))
    assert again.untied_generator_embeddings
    assert again.generator.token_embedding is not again.backbone.token_embedding
    np.testing.assert_array_equal(again.generator.token_embedding.embeddings.numpy(),
                                  gen_table.numpy())


def test_uniform_generator_loss_is_log_v_and_fakes_cover_the_vocabulary():
    rng = np.random.default_rng(3)
    model = pretrainer(uniform_generator=True)
    words_only_bias(model)  # ignored: the logits are zeroed
    out = model(batch(rng, size=64), training=True)
    assert float(out["gen_loss"]) == pytest.approx(math.log(VOCAB), rel=1e-5)
    weights = ops.convert_to_numpy(out["masked_lm_weights"]) > 0
    sampled = ops.convert_to_numpy(out["sampled_ids"])[weights]
    assert np.mean(sampled < 104) > 0.8  # 104 of 110 ids are not words: uniform, not learned


def test_gdes_gradients_are_disentangled_and_the_export_is_folded(tmp_path):
    """GDES (DeBERTa-v3): the RTD loss has exactly zero gradient on the shared word table and
    moves only the residual; the MLM loss never reaches the residual; the exported
    discriminator is a plain ElectraBackbone whose table is shared + residual and that
    computes what the GDES discriminator computes."""
    import tensorflow as tf

    model = pretrainer(gdes=True)
    shared = model.generator.token_embedding.embeddings
    residual = model.backbone.embeddings.residual.embeddings
    assert model.generator.embeddings is model.backbone.embeddings.base
    assert float(tf.reduce_max(tf.abs(residual))) == 0.0  # zero-initialised
    rng = np.random.default_rng(4)
    x = batch(rng)
    with tf.GradientTape(persistent=True) as tape:
        out = model(x, training=True)
    disc_shared, disc_residual = tape.gradient(out["disc_loss"], [shared, residual])
    gen_shared, gen_residual = tape.gradient(out["gen_loss"], [shared, residual])
    dense = tf.convert_to_tensor
    assert disc_shared is None or float(tf.reduce_max(tf.abs(dense(disc_shared)))) == 0.0
    assert float(tf.reduce_max(tf.abs(dense(disc_residual)))) > 0
    assert gen_residual is None or float(tf.reduce_max(tf.abs(dense(gen_residual)))) == 0.0
    assert float(tf.reduce_max(tf.abs(dense(gen_shared)))) > 0

    residual.assign(rng.normal(size=residual.shape).astype("float32") * 0.1)
    model.export_discriminator(str(tmp_path / "disc"))
    exported = ElectraBackbone.from_preset(str(tmp_path / "disc"))
    assert type(exported.embeddings).__name__ == "ElectraEmbedding"  # plain: HF export works
    assert not exported.token_residual and "token_residual" not in exported.get_config()
    np.testing.assert_allclose(exported.token_embedding.embeddings.numpy(),
                               shared.numpy() + residual.numpy(), rtol=0, atol=1e-7)
    inputs = {k: v[:4] for k, v in batch(rng).items()}
    np.testing.assert_allclose(exported(inputs)["sequence_output"].numpy(),
                               model.backbone(inputs)["sequence_output"].numpy(),
                               rtol=1e-5, atol=1e-5)
    from keras_electra.convert.preset_io import export_preset_to_hf

    assert export_preset_to_hf(str(tmp_path / "disc"), str(tmp_path / "hf")) == "ElectraModel"
    # the pretrainer itself round-trips with its residual
    model.save_to_preset(str(tmp_path / "p"))
    again = ElectraPretrainer.from_preset(str(tmp_path / "p"))
    assert again.gdes
    np.testing.assert_array_equal(again.backbone.embeddings.residual.embeddings.numpy(),
                                  residual.numpy())
    with pytest.raises(ValueError, match="cannot be combined with untied"):
        pretrainer(gdes=True, untied_generator_embeddings=True)


def test_gdes_starts_from_the_same_function_as_electra():
    """Same seed, same weights: before training GDES computes exactly what ELECTRA does (the
    residual is zero), so a learning-curve comparison starts from one point."""
    plain, gdes = pretrainer(), pretrainer(gdes=True)
    for part in ("generator", "generator_head", "discriminator_head"):
        for w, v in zip(getattr(plain, part).weights, getattr(gdes, part).weights, strict=True):
            np.testing.assert_array_equal(w.numpy(), v.numpy(), err_msg=f"{part} {w.path}")
    pairs = list(zip(plain.backbone.transformer_layers, gdes.backbone.transformer_layers,
                     strict=True))
    pairs.append((plain.backbone.embeddings_project, gdes.backbone.embeddings_project))
    for a, b in pairs:
        for w, v in zip(a.weights, b.weights, strict=True):
            np.testing.assert_array_equal(w.numpy(), v.numpy(), err_msg=w.path)
    x = batch(np.random.default_rng(5))
    a, b = plain(x, training=False), gdes(x, training=False)
    np.testing.assert_allclose(ops.convert_to_numpy(b["disc_logits"]),
                               ops.convert_to_numpy(a["disc_logits"]), rtol=1e-6, atol=1e-6)
