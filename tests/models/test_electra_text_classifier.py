"""ElectraTextClassifier and its preprocessor: both heads against numpy, losses, packing of
single sentences and pairs, presets (task, new head, backbone-only), layer-wise lr decay,
raw strings on TF and JAX in float32 and mixed_bfloat16."""

import json
import subprocess
import sys

import numpy as np
import pytest
from jax_env import jax_env
from scipy.special import erf

SMALL = dict(vocabulary_size=20, num_layers=2, num_heads=2, hidden_dim=16, embedding_dim=8,
             intermediate_dim=32, max_sequence_length=32, dropout=0.0)
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "dog",
         "ran", "a", "is", ".", "big", "red", "##s", "fast", "slow"]
TEXTS = ["The cat sat on the mat.", "A big red dog ran fast.", "Cats is slow"]
PAIRS = {"text_a": ["The cat sat.", "A dog ran."], "text_b": ["The dog sat.", "Cats ran slow."]}


def _preprocessor(length=16):
    from keras_electra import ElectraTextClassifierPreprocessor, ElectraTokenizer

    return ElectraTextClassifierPreprocessor(ElectraTokenizer(VOCAB), sequence_length=length)


def _classifier(num_classes=3, head="hf", seed=0, dtype=None, **kwargs):
    import keras

    from keras_electra import ElectraBackbone, ElectraTextClassifier

    keras.utils.set_random_seed(seed)
    extra = {} if dtype is None else {"dtype": dtype}
    backbone = ElectraBackbone(**SMALL, **extra)
    return ElectraTextClassifier(backbone, num_classes=num_classes, head=head,
                                 preprocessor=_preprocessor(), **extra, **kwargs)


def _gelu(x):
    return x * 0.5 * (1.0 + erf(x / np.sqrt(2.0)))


def test_preprocessor_packs_single_sentences_and_pairs():
    preprocessor = _preprocessor(12)
    x = preprocessor(["The cat sat."])
    np.testing.assert_array_equal(np.asarray(x["token_ids"]),
                                  [[2, 5, 6, 7, 14, 3, 0, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(np.asarray(x["segment_ids"]), np.zeros((1, 12)))
    np.testing.assert_array_equal(np.asarray(x["padding_mask"]), [[1] * 6 + [0] * 6])
    assert str(np.asarray(x["padding_mask"]).dtype) == "int32"
    pair = preprocessor({"text_a": ["The cat."], "text_b": ["Dogs ran."]})
    np.testing.assert_array_equal(np.asarray(pair["token_ids"]),
                                  [[2, 5, 6, 14, 3, 10, 17, 11, 14, 3, 0, 0]])
    np.testing.assert_array_equal(np.asarray(pair["segment_ids"]),
                                  [[0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0]])
    # keras-hub's form: a (first, second) tuple given with labels
    same, y = preprocessor((["The cat."], ["Dogs ran."]), [1])
    np.testing.assert_array_equal(np.asarray(same["token_ids"]), np.asarray(pair["token_ids"]))
    # a long pair is truncated to fit, both sentences kept
    long = preprocessor({"text_a": [" ".join(["cat"] * 20)], "text_b": [" ".join(["dog"] * 3)]})
    ids = np.asarray(long["token_ids"])[0]
    assert list(ids).count(3) == 2 and list(ids).count(10) == 3 and ids[-1] == 3


@pytest.mark.parametrize("head", ["hf", "electra"])
def test_heads_match_numpy_on_the_cls_state(head):
    classifier = _classifier(head=head)
    x = _preprocessor()(TEXTS)
    hidden = np.asarray(classifier.backbone(x)["sequence_output"], np.float64)[:, 0]
    w = {v.path: v.numpy().astype(np.float64) for v in classifier.weights
         if v.path.startswith("classifier_")}
    if head == "hf":  # transformers' ElectraClassificationHead: dense, exact GELU, out_proj
        h = _gelu(hidden @ w["classifier_dense/kernel"] + w["classifier_dense/bias"])
        expected = h @ w["classifier_out_proj/kernel"] + w["classifier_out_proj/bias"]
        assert sorted(w) == ["classifier_dense/bias", "classifier_dense/kernel",
                             "classifier_out_proj/bias", "classifier_out_proj/kernel"]
    else:  # G: one dense layer on [CLS]
        expected = hidden @ w["classifier_output/kernel"] + w["classifier_output/bias"]
        assert sorted(w) == ["classifier_output/bias", "classifier_output/kernel"]
    ours = classifier.predict(TEXTS, verbose=0)
    assert ours.dtype == np.float32 and ours.shape == (3, 3)
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_default_losses_are_cross_entropy_and_squared_error():
    classifier = _classifier(num_classes=3)
    x = _preprocessor()(TEXTS)
    y = np.array([0, 2, 1])
    logits = classifier.predict(x, verbose=0).astype(np.float64)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -log_p[np.arange(3), y].mean()
    assert classifier.evaluate(x, y, verbose=0, return_dict=True)["loss"] == pytest.approx(
        expected, rel=1e-5)
    regressor = _classifier(num_classes=1)
    scores = np.array([[0.2], [0.9], [0.4]], np.float32)
    pred = regressor.predict(x, verbose=0)
    assert regressor.evaluate(x, scores, verbose=0, return_dict=True)["loss"] == pytest.approx(
        float(np.mean((pred - scores) ** 2)), rel=1e-5)


def test_layerwise_decay_puts_the_head_at_the_base_rate():
    from keras_electra.models.electra_text_classifier import HEAD_PREFIX
    from keras_electra.optimizers import layerwise_lr_multipliers

    multipliers = layerwise_lr_multipliers(_classifier(), 0.8, head_prefixes=(HEAD_PREFIX,))
    assert multipliers["classifier_out_proj/kernel"] == 1.0
    assert multipliers["classifier_dense/bias"] == 1.0
    assert multipliers["transformer_layer_1/feedforward_output_dense/kernel"] == \
        pytest.approx(0.8 ** 2)
    assert multipliers["embeddings/token_embedding/embeddings"] == pytest.approx(0.8 ** 4)


def test_presets_round_trip_new_head_and_backbone_only(tmp_path):
    from keras_electra import ElectraTextClassifier

    classifier = _classifier(num_classes=2, label_names=["neg", "pos"])
    classifier.compile()
    classifier.fit(TEXTS[:2], np.array([0, 1]), epochs=1, verbose=0)
    classifier.save_to_preset(str(tmp_path / "task"))
    loaded = ElectraTextClassifier.from_preset(str(tmp_path / "task"))
    assert (loaded.num_classes, loaded.label_names, loaded.head) == (2, ["neg", "pos"], "hf")
    np.testing.assert_allclose(loaded.predict(TEXTS, verbose=0),
                               classifier.predict(TEXTS, verbose=0), atol=1e-6)
    # a new head on the fine-tuned backbone (keras-hub: num_classes= starts a new head)
    fresh = ElectraTextClassifier.from_preset(str(tmp_path / "task"), num_classes=1)
    assert fresh.num_classes == 1 and fresh.label_names is None
    np.testing.assert_array_equal(fresh.backbone.weights[0].numpy(),
                                  classifier.backbone.weights[0].numpy())
    # a backbone-only preset (our pretraining exports) with its tokenizer
    classifier.backbone.save_to_preset(str(tmp_path / "backbone"))
    classifier.preprocessor.tokenizer.save_to_preset(str(tmp_path / "backbone"))
    on_backbone = ElectraTextClassifier.from_preset(str(tmp_path / "backbone"), num_classes=4)
    assert on_backbone.predict(PAIRS, verbose=0).shape == (2, 4)


def test_mixed_bfloat16_predicts_raw_strings_close_to_float32():
    full = _classifier(num_classes=3)
    mixed = _classifier(num_classes=3, dtype="mixed_bfloat16")
    for source, target in zip(full.weights, mixed.weights):
        target.assign(source.numpy())
    assert mixed.backbone.dtype_policy.name == "mixed_bfloat16"
    out = mixed.predict(TEXTS, verbose=0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, full.predict(TEXTS, verbose=0), atol=0.1)
    mixed.compile()
    mixed.fit(TEXTS, np.array([0, 1, 2]), epochs=1, verbose=0)


_JAX_SCRIPT = """
import json, sys
import numpy as np
import keras
assert keras.backend.backend() == "jax"
from keras_electra import (ElectraBackbone, ElectraTextClassifier,
                           ElectraTextClassifierPreprocessor, ElectraTokenizer)
small, vocab, texts, pairs = (json.loads(a) for a in sys.argv[3:7])
weights = np.load(sys.argv[1])
out = {}
for dtype in ("float32", "mixed_bfloat16"):
    backbone = ElectraBackbone(**small, dtype=dtype)
    classifier = ElectraTextClassifier(
        backbone, num_classes=3, dtype=dtype,
        preprocessor=ElectraTextClassifierPreprocessor(ElectraTokenizer(vocab), 16))
    for v in classifier.weights:
        v.assign(weights[v.path])
    out[dtype + "_single"] = classifier.predict(texts, verbose=0)
    out[dtype + "_pairs"] = classifier.predict(pairs, verbose=0)
    classifier.compile()
    history = classifier.fit(texts, np.array([0, 1, 2]), epochs=1, verbose=0)
    out[dtype + "_loss"] = np.array(history.history["loss"])
classifier.save_to_preset(sys.argv[7])
out["reloaded"] = ElectraTextClassifier.from_preset(sys.argv[7]).predict(texts, verbose=0)
out["after_fit"] = classifier.predict(texts, verbose=0)
np.savez(sys.argv[2], **out)
"""


@pytest.mark.jax
@pytest.mark.slow
def test_raw_strings_on_jax_match_tensorflow(tmp_path):
    """predict/fit on raw strings and pairs, float32 and mixed_bfloat16, and a preset round
    trip run on JAX; float32 logits equal TensorFlow's."""
    classifier = _classifier(num_classes=3)
    np.savez(tmp_path / "w.npz", **{v.path: v.numpy() for v in classifier.weights})
    script = tmp_path / "run_jax.py"
    script.write_text(_JAX_SCRIPT)
    env = jax_env(TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "w.npz"),
                           str(tmp_path / "o.npz"), json.dumps(SMALL), json.dumps(VOCAB),
                           json.dumps(TEXTS), json.dumps(PAIRS), str(tmp_path / "preset")],
                          env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jax_out = np.load(tmp_path / "o.npz")
    np.testing.assert_allclose(jax_out["float32_single"], classifier.predict(TEXTS, verbose=0),
                               atol=1e-5)
    np.testing.assert_allclose(jax_out["float32_pairs"], classifier.predict(PAIRS, verbose=0),
                               atol=1e-5)
    np.testing.assert_allclose(jax_out["mixed_bfloat16_single"], jax_out["float32_single"],
                               atol=0.1)
    assert np.isfinite(jax_out["float32_loss"]).all()
    assert np.isfinite(jax_out["mixed_bfloat16_loss"]).all()
    np.testing.assert_allclose(jax_out["reloaded"], jax_out["after_fit"], atol=1e-5)
