"""ElectraPretrainer: G's objective vs a numpy re-computation, sharing, save/load, fit."""

import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
from electra_numpy_reference import (
    auc,
    fake_data,
    gumbel_sample,
    losses,
    mask,
    same_bin_pair_fraction,
)
from jax_env import jax_env
from keras import ops

from keras_electra import ElectraBackbone, ElectraPretrainer
from keras_electra.models.electra_masking import max_predictions_per_seq

HERE = pathlib.Path(__file__).parent
VOCAB = 400
CLS, SEP, MASK, PAD = 101, 102, 103, 0


def tiny_pretrainer(dropout=0.0, **kwargs):
    backbone = ElectraBackbone(
        vocabulary_size=VOCAB, num_layers=2, num_heads=2, hidden_dim=32, embedding_dim=16,
        intermediate_dim=64, dropout=dropout, max_sequence_length=64,
    )
    return ElectraPretrainer(backbone, generator_hidden_size=0.5, **kwargs)


def batch(rng, size=6, length=24):
    ids = rng.integers(104, VOCAB, size=(size, length)).astype(np.int32)
    lengths = rng.integers(8, length + 1, size=size)
    pad = (np.arange(length)[None] < lengths[:, None]).astype(np.int32)
    ids[:, 0] = CLS
    ids[np.arange(size), lengths - 1] = SEP
    ids[np.arange(size), lengths // 2] = SEP
    ids *= pad
    segments = ((np.arange(length)[None] > (lengths // 2)[:, None]) * pad).astype(np.int32)
    return {"token_ids": ids, "segment_ids": segments, "padding_mask": pad}


def noise_for(rng, x, mask_prob=0.15):
    b, s = x["token_ids"].shape
    n = max_predictions_per_seq(s, mask_prob)
    return {
        "position_noise": rng.random((b, n)).astype(np.float32),
        "mask_noise": rng.random((b, n)).astype(np.float32),
        "gumbel_noise": rng.random((b, n, VOCAB)).astype(np.float32),
    }


def test_objective_and_metrics_equal_numpy_recomputation():
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    model = tiny_pretrainer()
    # Spread the untrained discriminator's logits (std ~0.8 instead of ~0.05) so that the
    # 200-threshold AUC below is checked tightly rather than within one bin's slack.
    kernel = model.discriminator_head.dense_prediction.kernel
    kernel.assign(kernel * 15.0)
    x = batch(rng)
    noise = noise_for(rng, x)
    out = {k: ops.convert_to_numpy(v) for k, v in model.forward(x, noise).items()}

    masked_ids, positions, masked_lm_ids, weights = mask(
        x["token_ids"], x["padding_mask"], noise["position_noise"], noise["mask_noise"],
        0.15, (SEP, CLS, MASK, PAD), MASK,
    )
    np.testing.assert_array_equal(out["masked_ids"], masked_ids)
    np.testing.assert_array_equal(out["positions"], positions)
    np.testing.assert_array_equal(out["masked_lm_ids"], masked_lm_ids)
    np.testing.assert_array_equal(out["masked_lm_weights"], weights)
    # The generator really sees the masked ids: recompute its logits independently.
    gen_seq = model.generator({"token_ids": masked_ids, "segment_ids": x["segment_ids"],
                               "padding_mask": x["padding_mask"]})["sequence_output"]
    hidden = np.take_along_axis(ops.convert_to_numpy(gen_seq), positions[..., None], 1)
    head = model.generator_head
    h = ops.convert_to_numpy(head._intermediate_layer_norm(head._intermediate_dense(hidden)))
    table = ops.convert_to_numpy(model.backbone.token_embedding.embeddings)
    logits = h @ table.T + ops.convert_to_numpy(head._bias)
    np.testing.assert_allclose(out["gen_logits"], logits, atol=1e-5)

    sampled = gumbel_sample(out["gen_logits"], noise["gumbel_noise"])
    np.testing.assert_array_equal(out["sampled_ids"], sampled)
    corrupted, labels, _ = fake_data(masked_ids, positions, masked_lm_ids, sampled)
    np.testing.assert_array_equal(out["corrupted_ids"], corrupted)
    np.testing.assert_array_equal(out["labels"], labels)
    mlm, disc, total = losses(out["gen_logits"], masked_lm_ids, weights, out["disc_logits"],
                              labels, x["padding_mask"])
    np.testing.assert_allclose(out["gen_loss"], mlm, rtol=1e-5)
    np.testing.assert_allclose(out["disc_loss"], disc, rtol=1e-5)
    np.testing.assert_allclose(out["loss"], total, rtol=1e-5)

    model.update_metrics(model.forward(x, noise))
    got = {m.name: float(ops.convert_to_numpy(m.result())) for m in model.metrics}
    m = x["padding_mask"].astype(bool)
    preds = out["disc_logits"] > 0
    lab = labels.astype(bool)
    assert got["gen_loss"] == pytest.approx(mlm, rel=1e-5)
    assert got["disc_loss"] == pytest.approx(disc, rel=1e-5)
    assert got["gen_accuracy"] == pytest.approx(
        (weights * (out["gen_logits"].argmax(-1) == masked_lm_ids)).sum() / weights.sum(), abs=1e-6)
    assert got["sampled_accuracy"] == pytest.approx(
        (weights * (sampled == masked_lm_ids)).sum() / weights.sum(), abs=1e-6)
    assert got["disc_accuracy"] == pytest.approx((preds == lab)[m].mean(), abs=1e-6)
    if preds[m].any():
        assert got["disc_precision"] == pytest.approx(lab[m & preds].mean(), abs=1e-6)
    assert got["disc_recall"] == pytest.approx(preds[m & lab].mean(), abs=1e-6)
    assert got["replaced_fraction"] == pytest.approx(lab[m].mean(), abs=1e-6)
    probs = 1 / (1 + np.exp(-out["disc_logits"]))
    # disc_auc is Keras' 200-threshold AUC: exact up to the pairs that share a bin.
    bound = same_bin_pair_fraction(labels, probs, x["padding_mask"])
    assert bound < 0.05, f"logits too concentrated to check the AUC tightly ({bound=})"
    assert abs(got["disc_auc"] - auc(labels, probs, x["padding_mask"])) <= bound + 1e-6


def test_embedding_block_shared_and_projection_private():
    model = tiny_pretrainer()
    assert model.generator.embeddings is model.backbone.embeddings
    assert model.generator_head.token_embedding is model.backbone.token_embedding
    assert model.generator.embeddings_project is not model.backbone.embeddings_project
    ids = [id(v) for v in model.trainable_variables]
    assert len(ids) == len(set(ids))
    tables = [v for v in model.trainable_variables if v.path.endswith("token_embedding/embeddings")]
    assert len(tables) == 1
    # generator: G sizes (heads = max(1, Hg // 64), FFN = 4 Hg)
    assert model.generator.hidden_dim == 16
    assert model.generator.num_heads == 1 and model.generator.intermediate_dim == 64


def test_gradient_reaches_shared_embeddings_from_both_losses():
    import tensorflow as tf

    rng = np.random.default_rng(1)
    model = tiny_pretrainer()
    x = batch(rng)
    noise = noise_for(rng, x)
    table = model.backbone.token_embedding.embeddings
    with tf.GradientTape(persistent=True) as tape:
        out = model.forward(x, noise, training=True)
    g_gen = tf.convert_to_tensor(tape.gradient(out["gen_loss"], table))
    g_disc = tf.convert_to_tensor(tape.gradient(out["disc_loss"], table))
    assert float(tf.reduce_sum(tf.abs(g_gen))) > 0
    assert float(tf.reduce_sum(tf.abs(g_disc))) > 0
    # stop-gradient on the sample: no discriminator gradient into generator-only weights
    gen_only = model.generator.transformer_layers[0].trainable_variables[0]
    assert tape.gradient(out["disc_loss"], gen_only) is None


def test_save_to_preset_round_trip_is_bit_exact(tmp_path):
    rng = np.random.default_rng(2)
    model = tiny_pretrainer(seed=7)
    x = batch(rng)
    model.fit(x, batch_size=3, epochs=1, verbose=0)
    model.save_to_preset(str(tmp_path / "pretrainer"))
    restored = ElectraPretrainer.from_preset(str(tmp_path / "pretrainer"))
    before = {v.path: ops.convert_to_numpy(v) for v in model.weights}
    after = {v.path: ops.convert_to_numpy(v) for v in restored.weights}
    assert before.keys() == after.keys()
    for path in before:
        np.testing.assert_array_equal(before[path], after[path], err_msg=path)
    assert int(ops.convert_to_numpy(restored.rng_step)) == 2
    assert restored.generator.embeddings is restored.backbone.embeddings
    noise = noise_for(rng, x)
    a, b = model.forward(x, noise), restored.forward(x, noise)
    for key in ("gen_logits", "disc_logits", "loss"):
        np.testing.assert_array_equal(ops.convert_to_numpy(a[key]), ops.convert_to_numpy(b[key]))
    # the discriminator exports for fine-tuning
    model.export_discriminator(str(tmp_path / "disc"))
    disc = ElectraBackbone.from_preset(str(tmp_path / "disc"))
    np.testing.assert_array_equal(
        ops.convert_to_numpy(disc(x)["sequence_output"]),
        ops.convert_to_numpy(model.backbone(x)["sequence_output"]),
    )
    model.export_generator(str(tmp_path / "gen"))
    gen = ElectraBackbone.from_preset(str(tmp_path / "gen"))
    np.testing.assert_array_equal(
        ops.convert_to_numpy(gen(x)["sequence_output"]),
        ops.convert_to_numpy(model.generator(x)["sequence_output"]),
    )


@pytest.mark.parametrize("xla", [True, False])
def test_fit_tf_backend_xla_on_and_off(xla):
    rng = np.random.default_rng(3)
    model = tiny_pretrainer(dropout=0.1, xla=xla)
    x = batch(rng, size=8)
    before = ops.convert_to_numpy(model.backbone.token_embedding.embeddings).copy()
    history = model.fit(x, batch_size=4, epochs=2, verbose=0)
    for name in ("loss", "gen_loss", "gen_accuracy", "sampled_accuracy", "disc_loss",
                 "disc_accuracy", "disc_precision", "disc_recall", "disc_auc",
                 "replaced_fraction"):
        assert name in history.history and np.isfinite(history.history[name]).all(), name
    assert int(ops.convert_to_numpy(model.rng_step)) == 4
    after = ops.convert_to_numpy(model.backbone.token_embedding.embeddings)
    assert np.abs(after - before).max() > 0


def test_first_fit_traces_the_tf_train_step_once(monkeypatch):
    """The optimizer's variables exist before `fit` traces the step: a traced function that
    creates variables is traced twice by TensorFlow (twice the tracing and XLA work)."""
    from keras_electra.models import electra_tf_train_step

    traced, original = [], electra_tf_train_step.tf_train_step
    monkeypatch.setattr(electra_tf_train_step, "tf_train_step",
                        lambda model, data: traced.append(model.optimizer.built)
                        or original(model, data))
    model = tiny_pretrainer(xla=False)
    model.compile(optimizer="adam")
    model.fit(batch(np.random.default_rng(0), size=8), batch_size=4, epochs=1, verbose=0)
    assert traced == [True]


def test_random_streams_depend_on_step_not_on_history():
    model = tiny_pretrainer()
    s3 = {k: ops.convert_to_numpy(v) for k, v in model._seeds(3).items()}
    s4 = {k: ops.convert_to_numpy(v) for k, v in model._seeds(4).items()}
    assert all((s3[k] != s4[k]).any() for k in s3)
    assert len({tuple(v) for v in s3.values()}) == 3  # three distinct streams
    n1 = model.draw_noise(6, 24, model._seeds(3))
    n2 = model.draw_noise(6, 24, model._seeds(3))
    for key in n1:
        np.testing.assert_array_equal(ops.convert_to_numpy(n1[key]), ops.convert_to_numpy(n2[key]))
    other = tiny_pretrainer(seed=5)
    other_seed = other.draw_noise(6, 24, other._seeds(3))
    assert not np.array_equal(ops.convert_to_numpy(other_seed["gumbel_noise"]),
                              ops.convert_to_numpy(n1["gumbel_noise"]))


def test_noise_of_a_row_does_not_depend_on_how_the_batch_is_split():
    """Replica r of N draws rows [r*b, (r+1)*b) of the one-device noise."""
    model = tiny_pretrainer()
    seeds = model._seeds(7)
    whole = model.draw_noise(6, 24, seeds)
    first = model.draw_noise(2, 24, seeds, row_offset=0)
    rest = model.draw_noise(4, 24, seeds, row_offset=2)
    for key in whole:
        joined = np.concatenate([ops.convert_to_numpy(first[key]), ops.convert_to_numpy(rest[key])])
        np.testing.assert_array_equal(ops.convert_to_numpy(whole[key]), joined, err_msg=key)
    rows = ops.convert_to_numpy(whole["gumbel_noise"])
    assert not np.array_equal(rows[0], rows[1])  # rows are independent draws


def test_fit_on_raw_strings_with_preprocessor(bert_vocab_path):
    from keras_electra import ElectraPretrainerPreprocessor, ElectraTokenizer

    tokenizer = ElectraTokenizer(str(bert_vocab_path))
    preprocessor = ElectraPretrainerPreprocessor(tokenizer, sequence_length=32)
    model = ElectraPretrainer.from_preset(
        "electra_tiny", preprocessor=preprocessor, num_layers=1, max_sequence_length=64
    )
    assert model.mask_token_id == 103 and model.cls_token_id == 101
    texts = ["The river Rhine flows through Switzerland and Germany."] * 4
    history = model.fit(texts, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_mirrored_strategy_same_loss_and_gradients_as_one_device():
    """2 logical CPUs: global-batch loss and summed gradients equal one device (1e-5)."""
    script = HERE / "pretrainer_mirrored_script.py"
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "MIRRORED-PARITY-OK" in proc.stdout


@pytest.mark.jax
def test_fit_on_jax_backend():
    script = HERE / "pretrainer_jax_script.py"
    env = jax_env(TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "JAX-FIT-OK" in proc.stdout


def test_compile_rejects_external_loss():
    model = tiny_pretrainer()
    with pytest.raises(ValueError, match="own loss"):
        model.compile(loss="mse")


def test_unknown_backbone_type_is_rejected():
    with pytest.raises(TypeError, match="ElectraBackbone"):
        ElectraPretrainer(keras.layers.Dense(3))


def test_sequence_longer_than_position_table_is_a_clear_error():
    backbone = ElectraBackbone(vocabulary_size=50, num_layers=1, num_heads=1, hidden_dim=8,
                               embedding_dim=8, intermediate_dim=16, max_sequence_length=16)
    ids = np.ones((1, 20), dtype="int32")
    with pytest.raises(ValueError, match="sequence length 20 exceeds .*max_sequence_length=16"):
        backbone({"token_ids": ids, "segment_ids": ids * 0, "padding_mask": ids})
