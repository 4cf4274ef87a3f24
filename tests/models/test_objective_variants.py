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

    # the folded discriminator leaves with its RTD head (electra_heads.npz, issue 23)
    assert export_preset_to_hf(str(tmp_path / "disc"), str(tmp_path / "hf")) == \
        "ElectraForPreTraining"
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


# --------------------------------------------------------------------- unigram generator
def unigram_counts(rng):
    counts = rng.integers(1, 500, size=VOCAB).astype(np.int64)
    counts[[5, 17, 60]] = 0  # never seen in the train split
    counts[[CLS, SEP]] = 10_000  # frequent, but never fakes
    return counts


def unigram_probs(counts):
    probs = counts.astype(np.float64).copy()
    probs[[CLS, SEP, MASK, PAD]] = 0
    return probs / probs.sum()


@pytest.mark.parametrize("disallow", [False, True])
def test_unigram_generator_fakes_follow_the_counts(disallow):
    """Chi-square of many sampled fakes against numpy's count / total: the generator's own
    logits play no part; special and unseen ids are never drawn; disallow_correct composes."""
    from scipy import stats

    rng = np.random.default_rng(6)
    counts = unigram_counts(rng)
    model = pretrainer(unigram_generator=counts.tolist(), disallow_correct=disallow)
    words_only_bias(model)  # ignored: the unigram replaces the generator's distribution
    x = batch(rng, size=64)
    sampled, original = [], []
    for _ in range(30):
        out = model(x, training=True)  # a new step, new draws
        weights = ops.convert_to_numpy(out["masked_lm_weights"]) > 0
        sampled.append(ops.convert_to_numpy(out["sampled_ids"])[weights])
        original.append(ops.convert_to_numpy(out["masked_lm_ids"])[weights])
    sampled, original = np.concatenate(sampled), np.concatenate(original)
    assert len(sampled) > 5000
    probs = unigram_probs(counts)
    assert not np.isin(sampled, [CLS, SEP, MASK, PAD, 5, 17, 60]).any()
    if disallow:
        assert not np.any(sampled == original)
        # the draw is from the unigram renormalized without the original: compare per original
        expected = np.zeros(VOCAB)
        for token in np.unique(original):
            p = probs.copy()
            p[token] = 0
            expected += np.sum(original == token) * p / p.sum()
    else:
        expected = probs * len(sampled)
    observed = np.bincount(sampled, minlength=VOCAB)
    keep = expected > 0
    assert observed[~keep].sum() == 0
    # pool the rare ids (expected < 5) into one cell, as a chi-square test needs
    big = keep & (expected >= 5)
    obs = np.append(observed[big], observed[keep & ~big].sum())
    exp = np.append(expected[big], expected[keep & ~big].sum())
    assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 1e-3


def test_unigram_generator_loss_config_and_errors(tmp_path):
    rng = np.random.default_rng(7)
    counts = unigram_counts(rng)
    model = pretrainer(unigram_generator=counts.tolist())
    x = batch(rng)
    out = model(x, training=True)
    weights = ops.convert_to_numpy(out["masked_lm_weights"])
    targets = ops.convert_to_numpy(out["masked_lm_ids"])
    log_probs = np.log(np.maximum(unigram_probs(counts), 1e-12))
    expected = np.sum(weights * -log_probs[targets]) / (weights.sum() + 1e-6)
    assert float(out["gen_loss"]) == pytest.approx(expected, rel=1e-5)
    model.save_to_preset(str(tmp_path / "p"))
    again = ElectraPretrainer.from_preset(str(tmp_path / "p"))
    assert again.unigram_generator == counts.tolist()
    assert again.get_config()["unigram_generator"] == counts.tolist()
    with pytest.raises(ValueError, match="unigram_generator and uniform_generator"):
        pretrainer(unigram_generator=counts.tolist(), uniform_generator=True)
    with pytest.raises(ValueError, match="has 3 counts"):
        pretrainer(unigram_generator=[1, 2, 3])


# ------------------------------------------------------------------------------ Electric
def test_electric_cloze_model_never_sees_its_own_token():
    """Position i's cloze distribution depends on its neighbours, not on token i (G's two
    towers: ltr output at i-1, rtl output at i+1)."""
    model = pretrainer(electric=True)
    rng = np.random.default_rng(8)
    x = batch(rng, size=2)
    base = ops.convert_to_numpy(model.cloze_logits(x["token_ids"], x["segment_ids"],
                                                   x["padding_mask"]))
    length = x["token_ids"].shape[1]
    for i in range(1, length - 1):
        changed = x["token_ids"].copy()
        changed[:, i] = 104 + (changed[:, i] - 104 + 1) % (VOCAB - 104)
        logits = ops.convert_to_numpy(model.cloze_logits(changed, x["segment_ids"],
                                                         x["padding_mask"]))
        np.testing.assert_allclose(logits[:, i], base[:, i], rtol=1e-5, atol=1e-5)
        for j in (i - 1, i + 1):
            if 0 < j < length - 1:
                assert np.abs(logits[:, j] - base[:, j]).max() > 1e-4, (i, j)


def test_electric_labels_correction_and_cloze_loss():
    """Labels = every updated position (a sample equal to the original too); the
    discriminator logit = head logit + stop_gradient(log q(corrupted token)) +
    log(p / (1 - p)); the generator loss = cloze cross-entropy over the candidates."""
    model = pretrainer(electric=True)
    words_only_bias(model)  # six words: samples often equal the original
    rng = np.random.default_rng(9)
    x = batch(rng, size=32)
    out = model(x, training=False)
    host = {k: ops.convert_to_numpy(v) for k, v in out.items()}
    updated = np.zeros_like(x["token_ids"])
    rows = np.arange(len(updated))[:, None].repeat(host["positions"].shape[1], 1)
    slots = host["masked_lm_weights"] > 0
    updated[rows[slots], host["positions"][slots]] = 1
    updated[:, 0] = 0  # G's scatter_update never writes position 0
    np.testing.assert_array_equal(host["labels"], updated)
    same = (host["corrupted_ids"] == x["token_ids"]) & (updated == 1)
    assert same.any()  # labelled noise although the sample is the original

    logits = ops.convert_to_numpy(model.cloze_logits(x["token_ids"], x["segment_ids"],
                                                     x["padding_mask"])).astype(np.float64)
    log_q_all = logits - logits.max(-1, keepdims=True)
    log_q_all -= np.log(np.exp(log_q_all).sum(-1, keepdims=True))
    corrupted = host["corrupted_ids"]
    log_q = np.take_along_axis(log_q_all, corrupted[..., None], -1)[..., 0]
    head = ops.convert_to_numpy(model.discriminator_head(model.backbone(
        {"token_ids": corrupted, "segment_ids": x["segment_ids"],
         "padding_mask": x["padding_mask"]})["sequence_output"]))
    expected = head + log_q + np.log(0.15 / 0.85)
    np.testing.assert_allclose(host["disc_logits"], expected, rtol=1e-4, atol=1e-4)

    candidates = ~np.isin(x["token_ids"], [CLS, SEP, MASK, PAD])
    nll = -np.take_along_axis(log_q_all, x["token_ids"][..., None], -1)[..., 0]
    expected_loss = nll[candidates].sum() / (candidates.sum() + 1e-6)
    assert float(out["gen_loss"]) == pytest.approx(expected_loss, rel=1e-5)
    # the sampled fakes come from the cloze logits at the masked positions
    gathered = np.take_along_axis(logits, host["positions"][..., None], 1)
    np.testing.assert_allclose(
        host["gen_logits"], gathered - np.log(np.exp(gathered - gathered.max(-1, keepdims=True))
                                              .sum(-1, keepdims=True)) - gathered.max(
                                                  -1, keepdims=True), rtol=1e-4, atol=1e-4)


def test_electric_gradients_config_and_errors(tmp_path):
    import tensorflow as tf

    model = pretrainer(electric=True)
    assert model.generator.attention_direction == "ltr"
    assert model.generator_rtl.attention_direction == "rtl"
    assert model.generator_rtl.embeddings is model.backbone.embeddings  # shared, as G
    x = batch(np.random.default_rng(10))
    with tf.GradientTape() as tape:
        out = model(x, training=True)
    rtl = model.generator_rtl.transformer_layers[0].trainable_weights
    ltr = model.generator.transformer_layers[0].trainable_weights
    disc_grads = tape.gradient(out["disc_loss"], ltr + rtl)
    # stop_gradient(log q): the RTD loss never reaches the cloze towers
    assert all(g is None or float(tf.reduce_max(tf.abs(g))) == 0.0 for g in disc_grads)
    model.save_to_preset(str(tmp_path / "p"))
    again = ElectraPretrainer.from_preset(str(tmp_path / "p"))
    assert again.electric and again.generator_rtl.attention_direction == "rtl"
    for w, v in zip(model.generator_rtl.weights, again.generator_rtl.weights, strict=True):
        np.testing.assert_array_equal(w.numpy(), v.numpy())
    untied = pretrainer(electric=True, untied_generator_embeddings=True)
    assert untied.generator_rtl.embeddings is not untied.backbone.embeddings
    for bad in ({"gdes": True}, {"uniform_generator": True},
                {"unigram_generator": [1] * VOCAB}):
        with pytest.raises(ValueError, match="electric"):
            pretrainer(electric=True, **bad)
