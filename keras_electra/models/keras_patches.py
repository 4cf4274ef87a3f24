"""Every place the models replace or wrap Keras / keras-hub code, each version-guarded.

The models stand on keras 3.15 and keras-hub 0.32 (setup.cfg pins them). Where they need more
than the public API to do what G does, the code that replaces or wraps upstream code lives
here, and each patch

* first checks that the installed keras (and keras-hub) is a version it was read and tested
  against (`check_upstream`); on any other version it raises `UpstreamVersionError` naming the
  patch and the test to run, instead of silently doing something else;
* has a test in `tests/models/test_models_keras_patches.py` that fails when the upstream behaviour it
  relies on changes (a private name gone, a signature changed).

The patches:

1. `ElectraSelfAttention` + `use_electra_attention`: keras-hub's `TransformerEncoder` builds a
   plain `keras.layers.MultiHeadAttention` with the hidden dropout rate. Its built sublayer
   gets this subclass (overrides the private `_compute_attention`: the fused
   `keras.ops.dot_product_attention` whenever no dropout is applied), and its private rate
   (`_dropout`, `_dropout_layer`) becomes G's separate attention dropout.
2. `keras_hub_lowercase_off`: keras-hub's `WordPieceTokenizer.tokenize` lower-cases with NFKC
   casefold, BERT with `str.lower`; `ElectraTokenizer.tokenize` lower-cases itself and turns
   keras-hub's `lowercase` flag off for the duration of the call.
3. `set_jax_draw_seed_impl`: replaces `keras.src.backend.jax.random.jax_draw_seed` so that
   Keras' raw seeds become keys of another JAX PRNG (`use_jax_prng`).

The training-side patch (Keras' TensorFlow trainer under MultiWorkerMirroredStrategy) is in
`keras_electra.training.keras_patches`. Private attributes that are only read elsewhere carry a
comment naming the version they were checked against.
"""

import contextlib

import keras
from keras import ops

# The version guard (versions, `UpstreamVersionError`, `check_upstream`) is shared with the
# optimizers and the training package: keras_electra/utils/upstream.py.
from keras_electra.utils.upstream import (  # noqa: E402,F401  (re-exported)
    KERAS_HUB_VERSIONS,
    KERAS_VERSIONS,
    PATCH_TEST,
    UpstreamVersionError,
    check_upstream,
    upstream_mismatch,
)


# ------------------------------------------------------------- 1. attention
@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraSelfAttention(keras.layers.MultiHeadAttention):
    """`MultiHeadAttention` that takes the fused path whenever no dropout is applied.

    Keras' `MultiHeadAttention._compute_attention` calls
    `keras.ops.dot_product_attention` only when its dropout rate is 0; with a
    rate > 0 it materializes the scores with einsums even at inference, where
    the dropout is a no-op. Here the einsum path (Keras' own code) is kept only
    where it changes the result: attention dropout applied (`training` true and
    rate > 0), attention scores requested, a causal mask, or inputs not of
    rank 4. Everything else goes to `keras.ops.dot_product_attention`: on TF and
    on JAX/CPU an XLA-friendly einsum-softmax-einsum; on JAX/GPU under bf16/fp16,
    Keras first tries cuDNN's flash-attention kernel and falls back to XLA.

    Masking is exact: a key that is masked out gets probability 0 as with G's
    additive `-10000 * (1 - mask)` and HF's `finfo.min` (in float32
    `exp(-10000)` underflows to 0 too); only a query row with no valid key at
    all (an all-padding example) differs (uniform here, softmax of the raw
    scores in G), and ELECTRA's losses never read those rows. The padding mask
    arrives as `(B, 1, S)`; it is broadcast to `(B, 1, T, S)` because cuDNN's
    fused kernel accepts a mask only with the full query length
    (`jax._src.cudnn.fused_attention_stablehlo.check_layout`: "Bias must have
    same seq length as QKV"); with `(B, 1, 1, S)` Keras would log an exception
    and fall back to XLA on every trace.

    Relies on keras 3.15's private `_compute_attention` signature and the
    attributes `_dropout`, `_inverse_sqrt_key_dim`, `_flash_attention`.
    `use_electra_attention` gives keras-hub's built attention sublayer this
    class (same weights and names, only this method differs).
    """

    def _compute_attention(self, query, key, value, attention_mask=None, training=None,
                           return_attention_scores=False, use_causal_mask=False):
        dropout_applied = self._dropout > 0.0 and bool(training)
        if (dropout_applied or return_attention_scores or use_causal_mask
                or len(query.shape) != 4):
            extra = {"use_causal_mask": True} if use_causal_mask else {}
            return super()._compute_attention(
                query, key, value, attention_mask, training, return_attention_scores, **extra)
        mask = None
        if attention_mask is not None:
            mask = ops.cast(attention_mask, "bool")
            while len(mask.shape) < 4:  # (B, T or 1, S) -> (B, 1, T or 1, S): all heads
                mask = ops.expand_dims(mask, axis=-3)
            # (B, 1, 1, S) -> (B, 1, T, S), see the class docstring (cuDNN).
            every_query = ops.transpose(ops.ones_like(query[:, :, :1, :1], dtype="bool"),
                                        (0, 2, 1, 3))  # (B, 1, T, 1)
            mask = ops.logical_and(mask, every_query)
        output = ops.dot_product_attention(
            query, key, value, mask=mask, scale=self._inverse_sqrt_key_dim,
            flash_attention=self._flash_attention,
        )
        return output, None


def use_electra_attention(attention, attention_dropout):
    """Make keras-hub's built attention sublayer an `ElectraSelfAttention` with dropout rate
    `attention_dropout` (in place; weights and their names unchanged)."""
    check_upstream("ElectraSelfAttention / attention dropout", keras_hub=True)
    if type(attention) is keras.layers.MultiHeadAttention:
        # keras-hub builds a plain MultiHeadAttention; the subclass only
        # overrides `_compute_attention` (no state of its own), so the built
        # layer, its weights and their names stay as they are.
        attention.__class__ = ElectraSelfAttention
    if attention._dropout != attention_dropout:
        # MultiHeadAttention keeps its rate in `_dropout` (it also picks the
        # fused dot-product path only when that is 0) and applies it with
        # `_dropout_layer`; both are set to the attention rate.
        attention._dropout = attention_dropout
        attention._dropout_layer.rate = attention_dropout
        dropout_layer = attention._dropout_layer
        if attention_dropout > 0 and not hasattr(dropout_layer, "seed_generator"):
            # keras Dropout creates its SeedGenerator only when built with rate > 0
            # (here the hidden rate was 0): add it, or training-mode calls fail.
            tracker = getattr(dropout_layer, "_tracker", None)
            locked = bool(tracker and tracker.locked)
            if locked:
                tracker.unlock()
            dropout_layer.seed_generator = keras.random.SeedGenerator(dropout_layer.seed)
            if locked:
                tracker.lock()


# -------------------------------------------------------- 2. tokenizer flag
@contextlib.contextmanager
def keras_hub_lowercase_off(tokenizer):
    """Context: keras-hub's `lowercase` flag of `tokenizer` off, back on at exit.

    keras-hub 0.32's `WordPieceTokenizer.tokenize` reads `self.lowercase` at every call (it
    is not baked in at construction), so a caller that has already lower-cased the text the
    BERT way can skip keras-hub's NFKC casefold while keeping its accent stripping and split.
    """
    check_upstream("ElectraTokenizer lower-casing", keras_hub=True)
    tokenizer.lowercase = False
    try:
        yield tokenizer
    finally:
        tokenizer.lowercase = True


# ---------------------------------------------------------- 3. JAX PRNG seeds
_ORIGINAL_JAX_DRAW_SEED = None


def set_jax_draw_seed_impl(impl):
    """Replace Keras' JAX seed function so its keys are of PRNG `impl` (threefry2x32:
    restore Keras' own).

    Keras 3.15's `keras.src.backend.jax.random.jax_draw_seed` returns raw `[seed, counter]`
    uint32 pairs, i.e. threefry-shaped key data; the wrapper turns them into typed keys of
    `impl` (`[s0, s1, s0, s1]`: the 4-word key `rbg` itself derives from a threefry key).
    """
    global _ORIGINAL_JAX_DRAW_SEED
    import jax
    from keras.src.backend.jax import random as keras_jax_random

    if _ORIGINAL_JAX_DRAW_SEED is None:
        _ORIGINAL_JAX_DRAW_SEED = keras_jax_random.jax_draw_seed
    if impl == "threefry2x32":
        keras_jax_random.jax_draw_seed = _ORIGINAL_JAX_DRAW_SEED
        return
    check_upstream("use_jax_prng (jax_draw_seed)")
    original = _ORIGINAL_JAX_DRAW_SEED

    def draw_seed_as_key(seed):
        seed = original(seed)
        if jax.dtypes.issubdtype(seed.dtype, jax.dtypes.prng_key):
            return seed  # already a typed key
        data = jax.numpy.asarray(seed).astype("uint32")
        return jax.random.wrap_key_data(jax.numpy.concatenate([data, data]), impl=impl)

    keras_jax_random.jax_draw_seed = draw_seed_as_key
