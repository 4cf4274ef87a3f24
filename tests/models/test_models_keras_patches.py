"""The upstream behaviour `keras_electra.models.keras_patches` (and the private reads of the
models, converters and optimizers) rely on: each test fails when keras / keras-hub change it."""

import inspect

import keras
import keras_hub
import numpy as np
import pytest

from keras_electra.models import keras_patches


def _parameters(function):
    return list(inspect.signature(function).parameters)


# ------------------------------------------------------------------ version guard
def test_the_installed_versions_are_the_ones_the_patches_were_written_for():
    assert keras_patches.upstream_mismatch(keras_hub=True) is None


def test_another_version_is_refused_naming_the_patch(monkeypatch):
    monkeypatch.setattr(keras, "__version__", "3.99.0")
    keras_patches.check_upstream.cache_clear()
    try:
        with pytest.raises(keras_patches.UpstreamVersionError,
                           match=r"some patch: keras 3\.99\.0 \(written for 3\.15\.x\)"):
            keras_patches.check_upstream("some patch")
    finally:
        keras_patches.check_upstream.cache_clear()


# --------------------------------------------------------------- 1. attention
def test_multi_head_attention_internals_the_attention_patch_uses():
    assert _parameters(keras.layers.MultiHeadAttention._compute_attention) == [
        "self", "query", "key", "value", "attention_mask", "training",
        "return_attention_scores", "use_causal_mask"]
    layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.0)
    layer.build((2, 3, 8), (2, 3, 8))
    for name in ("_dropout", "_dropout_layer", "_inverse_sqrt_key_dim", "_flash_attention"):
        assert hasattr(layer, name), name
    # keras Dropout makes its SeedGenerator only at a rate > 0 (the patch adds one)
    assert not hasattr(layer._dropout_layer, "seed_generator")


def test_keras_hub_encoder_builds_a_plain_attention_sublayer():
    encoder = keras_hub.layers.TransformerEncoder(intermediate_dim=8, num_heads=2)
    encoder.build((2, 3, 8))
    assert type(encoder._self_attention_layer) is keras.layers.MultiHeadAttention


# ------------------------------------------------------------ 2. tokenizer flag
def test_keras_hub_tokenize_reads_lowercase_at_every_call_and_casefolds():
    vocab = ["[UNK]", "the", "ss"]
    tokenizer = keras_hub.tokenizers.WordPieceTokenizer(vocabulary=vocab, lowercase=True,
                                                       oov_token="[UNK]")
    assert np.asarray(tokenizer("THE ß")).tolist() == [1, 2]  # NFKC casefold: ß -> ss
    with keras_patches.keras_hub_lowercase_off(tokenizer):
        assert np.asarray(tokenizer("THE")).tolist() == [0]
    assert tokenizer.lowercase is True


# ------------------------------------------------------------ 3. JAX PRNG seeds
def test_keras_jax_draw_seed_is_where_the_prng_patch_expects_it():
    pytest.importorskip("jax")
    from keras.src.backend.jax import random as keras_jax_random

    assert _parameters(keras_jax_random.jax_draw_seed) == ["seed"]


# ------------------------------------------ private reads (not patches) elsewhere
def test_masked_lm_head_private_names_the_converters_map():
    head = keras_hub.layers.MaskedLMHead(vocabulary_size=10, intermediate_activation="gelu")
    head.build((2, 3, 8), (2, 1))
    assert {v.path.split("/", 1)[1] for v in head.weights} >= {
        "intermediate_dense/kernel", "intermediate_dense/bias",
        "intermediate_layer_norm/gamma", "intermediate_layer_norm/beta", "output_bias"}
    for name in ("_intermediate_dense", "_intermediate_layer_norm", "_bias"):
        assert hasattr(head, name), name


def test_keras_hub_private_imports():
    from keras_hub.src.tokenizers.word_piece_tokenizer import pretokenize
    from keras_hub.src.utils.preset_utils import load_json

    assert _parameters(pretokenize)[:5] == ["text", "lowercase", "strip_accents", "split",
                                            "split_on_cjk"]
    assert _parameters(load_json)[:2] == ["preset", "config_file"]


def test_keras_hub_task_fit_is_the_pipeline_fit_the_pretrainer_bypasses():
    assert keras_hub.models.Task.fit is not keras.Model.fit
    assert keras_hub.models.Task.evaluate is not keras.Model.evaluate


def test_optimizer_private_hooks_the_electra_optimizers_override():
    optimizer = keras.optimizers.Optimizer
    assert _parameters(optimizer._clip_gradients) == ["self", "grads"]
    assert _parameters(optimizer._apply_weight_decay) == ["self", "variables"]
    assert _parameters(optimizer._use_weight_decay) == ["self", "variable"]
    assert _parameters(optimizer._get_variable_index) == ["self", "variable"]
    if keras.backend.backend() == "tensorflow":
        assert _parameters(optimizer._all_reduce_sum_gradients) == ["self", "grads_and_vars"]
    adam = keras.optimizers.Adam()
    adam.build([keras.Variable(np.zeros(2, "float32"))])
    assert hasattr(adam, "_iterations") and hasattr(adam, "_trainable_variables")
