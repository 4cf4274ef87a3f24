"""The encoder's fused attention path (`keras.ops.dot_product_attention`) vs the einsum path.

`ElectraSelfAttention` sends attention to `keras.ops.dot_product_attention` whenever no
attention dropout is applied and keeps Keras' einsum path (scores materialized, dropout on the
probabilities) where dropout is applied. Checked here, on whichever backend runs the file
(TensorFlow in-process; `test_the_same_checks_pass_on_the_jax_backend` reruns this file under
KERAS_BACKEND=jax in a subprocess):

* which path runs (spies on the backend's `dot_product_attention` and on Keras' einsum-path
  softmax), for attention dropout 0 / 0.1, training and inference;
* the fused path against an independent numpy transcription of G's layer (additive -10000
  padding mask) and against Keras' einsum path (`return_attention_scores=True` forces it):
  forward and gradients w.r.t. the inputs and every weight, with padding, to 1e-5;
* JAX only: the mask handed to `jax.nn.dot_product_attention` passes cuDNN's layout check
  (full query length) where Keras' own (B, 1, 1, S) mask does not; `use_jax_prng("rbg")`
  really switches dropout and the pretrainer's noise to RngBitGenerator with the same
  Bernoulli / uniform distributions.
"""

import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from jax_env import jax_env
from keras.src.layers.attention import multi_head_attention as keras_mha

from keras_electra.models.electra_layers import ElectraTransformerLayer, gelu_exact
from keras_electra.models.keras_patches import ElectraSelfAttention

BACKEND = keras.backend.backend()
HIDDEN, HEADS, FFN, BATCH, LENGTH = 16, 2, 32, 3, 7
LENGTHS = (7, 4, 2)  # valid tokens per example: one unpadded, two right-padded rows
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
def jax_only(test):
    """Collect `test` only on the JAX backend: it runs in the JAX subprocess run of this file
    (`test_the_same_checks_pass_on_the_jax_backend`), and does not show up as skipped on TF."""
    return test if BACKEND == "jax" else None


def make_layer(attention_dropout, dropout=0.0, seed=0):
    layer = ElectraTransformerLayer(
        intermediate_dim=FFN, num_heads=HEADS, dropout=dropout,
        attention_dropout=attention_dropout, activation=gelu_exact, layer_norm_epsilon=1e-12)
    layer.build((None, None, HIDDEN))
    rng = np.random.RandomState(seed)
    for v in layer.weights:
        v.assign(rng.normal(size=v.shape).astype("float32") * 0.3)
    return layer


def make_inputs(seed=1):
    rng = np.random.RandomState(seed)
    x = rng.normal(size=(BATCH, LENGTH, HIDDEN)).astype("float32")  # padded rows too
    mask = (np.arange(LENGTH)[None, :] < np.array(LENGTHS)[:, None]).astype("int32")
    return x, mask


class PathSpy:
    """Counts calls of the backend's fused attention and of Keras' einsum-path softmax."""

    def __init__(self, monkeypatch):
        self.fused, self.einsum, self.masks = 0, 0, []
        backend_nn = keras.src.backend.nn
        fused, masked_softmax = backend_nn.dot_product_attention, keras_mha.MultiHeadAttention._masked_softmax

        def spy_fused(*args, **kwargs):
            self.fused += 1
            self.masks.append(kwargs.get("mask"))
            return fused(*args, **kwargs)

        def spy_softmax(layer, *args, **kwargs):
            self.einsum += 1
            return masked_softmax(layer, *args, **kwargs)

        monkeypatch.setattr(backend_nn, "dot_product_attention", spy_fused)
        monkeypatch.setattr(keras_mha.MultiHeadAttention, "_masked_softmax", spy_softmax)

    def reset(self):
        self.fused, self.einsum, self.masks = 0, 0, []


def run(layer, x, mask, training, einsum):
    """The layer's output; `einsum=True` forces Keras' einsum path (scores requested)."""
    out = layer(x, padding_mask=mask, training=training, return_attention_scores=einsum)
    return out[0] if einsum else out


# ------------------------------------------------------------------ numpy reference
def numpy_layer(layer, x, mask):
    """G's post-LN transformer layer in numpy: additive -10000 mask, exact GELU, eps 1e-12."""
    attention = layer._self_attention_layer
    w = {v.path.split("/", 1)[1]: np.asarray(v, dtype=np.float64) for v in layer.weights}

    def project(name, t):  # EinsumDense "abc,cde->abde" + bias (N, H/N)
        return np.einsum("btc,cnh->btnh", t, w[f"self_attention_layer/{name}/kernel"]) \
            + w[f"self_attention_layer/{name}/bias"]

    def layer_norm(t, name):
        mean = t.mean(-1, keepdims=True)
        var = ((t - mean) ** 2).mean(-1, keepdims=True)
        return (t - mean) / np.sqrt(var + 1e-12) * w[f"{name}/gamma"] + w[f"{name}/beta"]

    q, k, v = project("query", x), project("key", x), project("value", x)
    scores = np.einsum("btnh,bsnh->bnts", q, k) / math.sqrt(HIDDEN // HEADS)
    scores = scores + (1.0 - mask[:, None, None, :]) * -10000.0
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    context = np.einsum("bnts,bsnh->btnh", probs, v)
    attended = np.einsum("btnh,nhd->btd", context,
                         w["self_attention_layer/attention_output/kernel"]) \
        + w["self_attention_layer/attention_output/bias"]
    assert attention._output_dense.name == "attention_output"
    h = layer_norm(x + attended, "self_attention_layer_norm")
    inner = h @ w["feedforward_intermediate_dense/kernel"] + w["feedforward_intermediate_dense/bias"]
    inner = inner * 0.5 * (1.0 + np.vectorize(math.erf)(inner / math.sqrt(2.0)))
    out = inner @ w["feedforward_output_dense/kernel"] + w["feedforward_output_dense/bias"]
    return layer_norm(h + out, "feedforward_layer_norm")


# ------------------------------------------------------------------ gradients
def loss_and_grads(layer, x, mask, einsum):
    """d/d(inputs, every trainable weight) of sum(output * R), R a fixed random projection."""
    projection = np.random.RandomState(7).normal(size=(BATCH, LENGTH, HIDDEN)).astype("float32")
    if BACKEND == "tensorflow":
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            loss = tf.reduce_sum(run(layer, xt, mask, True, einsum) * projection)
        grads = tape.gradient(loss, [xt] + list(layer.trainable_variables))
        return float(loss), [np.asarray(g) for g in grads]
    import jax
    import jax.numpy as jnp

    trainable = [v.value for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def loss_fn(inputs, weights):
        out, _ = layer.stateless_call(weights, non_trainable, inputs, padding_mask=mask,
                                      training=True, return_attention_scores=einsum)
        return jnp.sum((out[0] if einsum else out) * projection)

    loss, (gx, gw) = jax.value_and_grad(loss_fn, argnums=(0, 1))(jnp.asarray(x), trainable)
    return float(loss), [np.asarray(gx)] + [np.asarray(g) for g in gw]


# ------------------------------------------------------------------ tests
def test_the_attention_sublayer_is_the_fused_subclass_with_unchanged_weights():
    layer = make_layer(0.1)
    attention = layer._self_attention_layer
    assert type(attention) is ElectraSelfAttention
    assert isinstance(attention, keras.layers.MultiHeadAttention)
    names = sorted(v.path for v in attention.weights)
    assert names == sorted(f"{attention.path}/{part}/{kind}"
                           for part in ("query", "key", "value", "attention_output")
                           for kind in ("kernel", "bias"))


@pytest.mark.parametrize("attention_dropout, training, path", [
    (0.0, True, "fused"), (0.0, False, "fused"),
    (0.1, False, "fused"),  # inference: dropout is a no-op, so fused too
    (0.1, True, "einsum"),  # G's recipe in training: dropout on the probabilities
])
def test_which_path_runs(monkeypatch, attention_dropout, training, path):
    spy = PathSpy(monkeypatch)
    layer = make_layer(attention_dropout)
    x, mask = make_inputs()
    spy.reset()
    run(layer, x, mask, training, einsum=False)
    assert (spy.fused, spy.einsum) == ((1, 0) if path == "fused" else (0, 1))
    if path == "fused":
        # the padding mask reaches the fused op, broadcast to (B, 1, T, S)
        (fused_mask,) = spy.masks
        assert tuple(fused_mask.shape) == (BATCH, 1, LENGTH, LENGTH)
        expected = np.broadcast_to(mask[:, None, None, :].astype(bool), (BATCH, 1, LENGTH, LENGTH))
        np.testing.assert_array_equal(np.asarray(fused_mask), expected)
    spy.reset()
    run(layer, x, mask, training, einsum=True)  # the reference path really is the einsum one
    assert (spy.fused, spy.einsum) == (0, 1)


def test_attention_dropout_is_still_applied_in_training():
    layer = make_layer(0.5)
    x, mask = make_inputs()
    a = np.asarray(run(layer, x, mask, True, einsum=False))
    b = np.asarray(run(layer, x, mask, True, einsum=False))
    assert np.abs(a - b).max() > 1e-2  # two dropout draws
    c = np.asarray(run(layer, x, mask, False, einsum=False))
    d = np.asarray(run(layer, x, mask, False, einsum=False))
    np.testing.assert_array_equal(c, d)


@pytest.mark.parametrize("attention_dropout", [0.0, 0.1])
def test_fused_forward_matches_numpy_reference_and_einsum_path(monkeypatch, attention_dropout):
    spy = PathSpy(monkeypatch)
    layer = make_layer(attention_dropout)
    x, mask = make_inputs()
    training = attention_dropout == 0.0  # with 0.1 the fused path is the inference one
    spy.reset()
    fused = np.asarray(run(layer, x, mask, training, einsum=False))
    assert (spy.fused, spy.einsum) == (1, 0)
    einsum = np.asarray(run(layer, x, mask, training and attention_dropout == 0.0, einsum=True))
    reference = numpy_layer(layer, x.astype(np.float64), mask)
    np.testing.assert_allclose(fused, reference, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fused, einsum, rtol=1e-5, atol=1e-5)
    # the check is sensitive to the mask: without it the padded rows' outputs change
    unmasked = numpy_layer(layer, x.astype(np.float64), np.ones_like(mask))
    assert np.abs(unmasked[1:] - reference[1:]).max() > 1e-2


def test_fused_gradients_match_the_einsum_path(monkeypatch):
    spy = PathSpy(monkeypatch)
    layer = make_layer(0.0)
    x, mask = make_inputs()
    spy.reset()
    loss_fused, grads_fused = loss_and_grads(layer, x, mask, einsum=False)
    assert spy.fused >= 1 and spy.einsum == 0
    spy.reset()
    loss_einsum, grads_einsum = loss_and_grads(layer, x, mask, einsum=True)
    assert spy.fused == 0 and spy.einsum >= 1
    assert loss_fused == pytest.approx(loss_einsum, rel=1e-5, abs=1e-5)
    names = ["inputs"] + [v.path for v in layer.trainable_variables]
    assert len(grads_fused) == len(names) == 1 + 16  # q, k, v, output, 2 LN, 2 dense: kernel+bias
    for name, a, b in zip(names, grads_fused, grads_einsum):
        assert a.shape == b.shape and np.abs(b).max() > 0, name
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name)


@jax_only
def test_the_fused_mask_passes_cudnn_layout_check_and_keras_own_mask_does_not(monkeypatch):
    import jax
    import jax.numpy as jnp
    from jax._src.cudnn import fused_attention_stablehlo as cudnn

    seen = []
    original = jax.nn.dot_product_attention

    def spy(query, key, value, bias=None, mask=None, **kwargs):
        seen.append((query.shape, key.shape, value.shape, mask, kwargs.get("implementation")))
        return original(query, key, value, bias, mask, **kwargs)

    monkeypatch.setattr(jax.nn, "dot_product_attention", spy)
    layer = make_layer(0.0)
    x, mask = make_inputs()
    run(layer, x, mask, True, einsum=False)
    (q_shape, k_shape, v_shape, fused_mask, implementation) = seen[0]
    assert implementation == "xla"  # CPU: Keras tries cuDNN only on a GPU

    def layout_check(m):
        q, k, v = (jnp.zeros(s, jnp.bfloat16) for s in (q_shape, k_shape, v_shape))
        bias = cudnn.combine_bias_and_mask(None, m, jnp.bfloat16)
        cudnn.check_layout(q, k, v, bias, None, None, None, None, None, None,
                           cudnn._normalize_layout("BTNH"))

    layout_check(fused_mask)  # accepted
    keras_own = jnp.asarray(mask[:, None, None, :].astype(bool))  # what plain Keras passes
    with pytest.raises(ValueError, match="Bias must have same seq length"):
        layout_check(keras_own)


@jax_only
def test_rbg_prng_switches_the_generator_but_not_the_distribution():
    import jax
    from keras.src.backend.jax import random as keras_jax_random

    from keras_electra.models import electra_backend_utils
    from keras_electra.models.electra_layers import use_jax_prng

    def lowered(fn):
        return jax.jit(fn).lower(np.zeros(2, "uint32")).as_text()

    def dropout_hlo(seed):
        return keras.random.dropout(np.ones((8, 8), "float32"), 0.1, seed=seed)

    def noise_hlo(seed):
        return electra_backend_utils.stateless_uniform_rows(4, (8,), seed)

    assert "rng_bit_generator" not in lowered(dropout_hlo)
    previous = use_jax_prng("rbg")
    try:
        assert previous == "threefry2x32"
        assert "rng_bit_generator" in lowered(dropout_hlo)  # Keras dropout
        assert "rng_bit_generator" in lowered(noise_hlo)  # masking / Gumbel noise
        generator = keras.random.SeedGenerator(3)
        ones = np.ones((400, 500), "float32")
        kept = [np.asarray(keras.random.dropout(ones, 0.1, seed=generator)) > 0
                for _ in range(2)]
        n = ones.size
        for k in kept:  # Bernoulli(0.9): within 5 sigma
            assert abs(k.mean() - 0.9) < 5 * math.sqrt(0.09 / n)
        agree = (kept[0] == kept[1]).mean()  # independent draws: 0.9^2 + 0.1^2
        assert abs(agree - 0.82) < 5 * math.sqrt(0.82 * 0.18 / n)
        kept_values = np.asarray(keras.random.dropout(ones, 0.1, seed=generator))
        np.testing.assert_allclose(np.unique(kept_values), [0.0, 1 / 0.9], rtol=1e-6)
        uniform = np.asarray(noise_hlo(np.array([5, 9], "uint32")))
        assert uniform.min() >= 0.0 and uniform.max() < 1.0
        assert abs(uniform.mean() - 0.5) < 0.2 and len(np.unique(uniform)) == uniform.size
    finally:
        use_jax_prng("threefry2x32")
    assert jax.config.jax_default_prng_impl == "threefry2x32"
    assert "rng_bit_generator" not in lowered(dropout_hlo)
    assert keras_jax_random.jax_draw_seed.__name__ == "jax_draw_seed"


def test_use_jax_prng_refuses_other_backends_and_unknown_names():
    from keras_electra.models.electra_layers import use_jax_prng

    if BACKEND != "jax":
        with pytest.raises(ValueError, match="JAX backend"):
            use_jax_prng("rbg")
    else:
        with pytest.raises(ValueError, match="impl must be one of"):
            use_jax_prng("philox")


@pytest.mark.jax
@pytest.mark.slow
def test_the_same_checks_pass_on_the_jax_backend():
    if BACKEND == "jax":
        pytest.skip("already on JAX")
    env = jax_env()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", os.path.abspath(__file__), "-q", "-p", "no:cacheprovider",
         "-k", "not on_the_jax_backend"],
        env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    # every test of the file ran on JAX, the two JAX-only ones included
    assert " passed" in proc.stdout and "skipped" not in proc.stdout, proc.stdout[-2000:]
