"""Building blocks of the ELECTRA encoder (keras.ops only; runs on TF and JAX).

`ElectraEmbedding` is the block that G shares between generator and
discriminator (scope `electra/embeddings`): word, position and token-type
embeddings, their sum, LayerNorm and dropout. `ElectraTransformerLayer` is
keras-hub's post-LN `TransformerEncoder` with separate hidden and
attention-probability dropout rates (BERT's `hidden_dropout_prob` and
`attention_probs_dropout_prob`); its attention is `ElectraSelfAttention`,
which takes `keras.ops.dot_product_attention` (the fused path: cuDNN flash
attention on a GPU under JAX when eligible) whenever no attention dropout is
applied. `use_jax_prng` switches the JAX PRNG behind dropout and the
pretrainer's noise (opt-in; see its docstring).
"""

import keras
from keras import ops
from keras_hub.layers import PositionEmbedding, TransformerEncoder

JAX_PRNG_IMPLS = ("threefry2x32", "rbg", "unsafe_rbg")


def electra_kernel_initializer(stddev=0.02):
    # G modeling.create_initializer: truncated normal, stddev initializer_range.
    return keras.initializers.TruncatedNormal(stddev=stddev)


@keras.saving.register_keras_serializable(package="keras_electra")
def gelu_exact(x):
    """Exact erf GELU, x * 0.5 * (1 + erf(x / sqrt(2))), as G and HF `"gelu"`."""
    return keras.activations.gelu(x, approximate=False)


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraEmbedding(keras.layers.Layer):
    """Word + position + token-type embeddings -> LayerNorm -> dropout.

    Args:
        vocabulary_size: int. Rows of the word-embedding table.
        embedding_dim: int. Embedding size E.
        max_sequence_length: int. Rows of the position table (BERT 512).
        num_segments: int. Token types (2).
        dropout: float. Dropout after the LayerNorm (hidden dropout).
        layer_norm_epsilon: float. 1e-12 as in G and HF.
        initializer_range: float. Stddev of the truncated-normal init.

    The word table is a `keras.layers.ReversibleEmbedding`, so a generator
    can compute logits through the tied table with `reverse=True`.

    Example:
    ```python
    layer = ElectraEmbedding(vocabulary_size=100, embedding_dim=8,
                             max_sequence_length=16)
    x = layer(np.array([[1, 2, 3]]), np.array([[0, 0, 1]]))  # (1, 3, 8)
    ```
    """

    def __init__(self, vocabulary_size, embedding_dim, max_sequence_length=512,
                 num_segments=2, dropout=0.1, layer_norm_epsilon=1e-12,
                 initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        init = electra_kernel_initializer(initializer_range)
        self.token_embedding = keras.layers.ReversibleEmbedding(
            vocabulary_size, embedding_dim, tie_weights=True,
            embeddings_initializer=init, dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.position_embedding = PositionEmbedding(
            sequence_length=max_sequence_length, initializer=init,
            dtype=self.dtype_policy, name="position_embedding",
        )
        self.segment_embedding = keras.layers.Embedding(
            num_segments, embedding_dim, embeddings_initializer=init,
            dtype=self.dtype_policy, name="segment_embedding",
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy,
            name="embeddings_layer_norm",
        )
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="embeddings_dropout"
        )

    def build(self, token_ids_shape, segment_ids_shape=None):
        self.token_embedding.build(token_ids_shape)
        embedded_shape = tuple(token_ids_shape) + (self.embedding_dim,)
        self.position_embedding.build(embedded_shape)
        self.segment_embedding.build(token_ids_shape)
        self.layer_norm.build(embedded_shape)
        self.built = True

    def call(self, token_ids, segment_ids, training=None):
        length = token_ids.shape[1] if len(token_ids.shape) > 1 else None
        if isinstance(length, int) and length > self.max_sequence_length:
            raise ValueError(
                f"ElectraEmbedding: sequence length {length} exceeds the model's "
                f"max_sequence_length={self.max_sequence_length} (rows of the position "
                "table). Truncate or window the input (e.g. --max_seq_length "
                f"{self.max_sequence_length}) or use a model with more positions."
            )
        x = self.token_embedding(token_ids)
        x = x + self.position_embedding(x) + self.segment_embedding(segment_ids)
        x = self.layer_norm(x)
        return self.dropout_layer(x, training=training)

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return tuple(token_ids_shape) + (self.embedding_dim,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "max_sequence_length": self.max_sequence_length,
            "num_segments": self.num_segments,
            "dropout": self.dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "initializer_range": self.initializer_range,
        })
        return config


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

    `ElectraTransformerLayer` gives its attention sublayer this class after
    keras-hub built it (same weights and names, only this method differs).
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


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraTransformerLayer(TransformerEncoder):
    """keras-hub `TransformerEncoder` (post-LN) with a separate attention dropout.

    Args:
        attention_dropout: float or None. Dropout on attention probabilities
            (`attention_probs_dropout_prob`); None means `dropout`.
        All other arguments are those of `keras_hub.layers.TransformerEncoder`;
        `dropout` is the hidden (residual-branch) dropout.

    The attention sublayer is an `ElectraSelfAttention`: the fused
    `keras.ops.dot_product_attention` whenever no attention dropout is applied
    (`attention_dropout=0`, or inference), Keras' einsum path with dropout on
    the probabilities otherwise (G's recipe in training, rate 0.1).
    """

    def __init__(self, *args, attention_dropout=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.attention_dropout = self.dropout if attention_dropout is None else attention_dropout

    def build(self, inputs_shape):
        super().build(inputs_shape)
        attention = self._self_attention_layer
        if type(attention) is keras.layers.MultiHeadAttention:
            # keras-hub builds a plain MultiHeadAttention; the subclass only
            # overrides `_compute_attention` (no state of its own), so the built
            # layer, its weights and their names stay as they are.
            attention.__class__ = ElectraSelfAttention
        if attention._dropout != self.attention_dropout:
            # MultiHeadAttention keeps its rate in `_dropout` (it also picks the
            # fused dot-product path only when that is 0) and applies it with
            # `_dropout_layer`; both are set to the attention rate.
            attention._dropout = self.attention_dropout
            attention._dropout_layer.rate = self.attention_dropout
            dropout_layer = attention._dropout_layer
            if self.attention_dropout > 0 and not hasattr(dropout_layer, "seed_generator"):
                # keras Dropout creates its SeedGenerator only when built with rate > 0
                # (here the hidden rate was 0): add it, or training-mode calls fail.
                tracker = getattr(dropout_layer, "_tracker", None)
                locked = bool(tracker and tracker.locked)
                if locked:
                    tracker.unlock()
                dropout_layer.seed_generator = keras.random.SeedGenerator(dropout_layer.seed)
                if locked:
                    tracker.lock()

    def get_config(self):
        config = super().get_config()
        config["attention_dropout"] = self.attention_dropout
        return config


_ORIGINAL_JAX_DRAW_SEED = None


def use_jax_prng(impl="rbg"):
    """Opt-in: draw Keras' and the pretrainer's random numbers with JAX PRNG `impl`.

    JAX backend only. `"threefry2x32"` (JAX's default, what runs without this
    call) hashes every 32 random bits with Threefry (20 rounds of integer
    arithmetic); `"rbg"` generates them with XLA's `RngBitGenerator` (Philox
    on GPU), far fewer instructions per bit, which matters for attention
    dropout: B x heads x T x S draws per layer (1.6e9 per ELECTRA-Base step at
    batch 32, seq 512, generator included). The distribution is unchanged:
    `jax.random.bernoulli` / `uniform` turn 32 random bits into a float the same
    way whatever produced the bits; only the stream differs (and, per JAX,
    RngBitGenerator streams may change across XLA versions and backends, so a
    run is reproducible only on one stack). `"unsafe_rbg"` also replaces
    `split`/`fold_in` (used by the pretrainer's per-row noise) by ones with no
    quality guarantee; prefer `"rbg"`.

    What it does: sets `jax_default_prng_impl` (the pretrainer's masking and
    Gumbel noise use `jax.random.key`) and wraps Keras' JAX seed function, whose
    raw `[seed, counter]` uint32 pairs are threefry-shaped keys, so that they
    become keys of `impl` (`[s0, s1, s0, s1]`: the 4-word key `rbg` itself derives
    from a threefry key). Call it before the train step is traced (before
    `fit`); it clears JAX's trace caches, since a function jitted before keeps
    the PRNG it was traced with. `use_jax_prng("threefry2x32")` restores the
    defaults. Returns the previous implementation name.

    Example:
    ```python
    from keras_electra.models.electra_layers import use_jax_prng
    use_jax_prng("rbg")  # then build / fit as usual on KERAS_BACKEND=jax
    ```
    """
    global _ORIGINAL_JAX_DRAW_SEED
    if keras.backend.backend() != "jax":
        raise ValueError(f"use_jax_prng needs the JAX backend (this is {keras.backend.backend()!r}).")
    if impl not in JAX_PRNG_IMPLS:
        raise ValueError(f"use_jax_prng: impl must be one of {JAX_PRNG_IMPLS}, got {impl!r}.")
    import jax
    from keras.src.backend.jax import random as keras_jax_random

    previous = jax.config.jax_default_prng_impl
    if _ORIGINAL_JAX_DRAW_SEED is None:
        _ORIGINAL_JAX_DRAW_SEED = keras_jax_random.jax_draw_seed
    jax.config.update("jax_default_prng_impl", impl)
    jax.clear_caches()  # traces cached by jax.jit do not key on the patched function
    if impl == "threefry2x32":
        keras_jax_random.jax_draw_seed = _ORIGINAL_JAX_DRAW_SEED
        return previous
    original = _ORIGINAL_JAX_DRAW_SEED

    def draw_seed_as_key(seed):
        seed = original(seed)
        if jax.dtypes.issubdtype(seed.dtype, jax.dtypes.prng_key):
            return seed  # already a typed key
        data = jax.numpy.asarray(seed).astype("uint32")
        return jax.random.wrap_key_data(jax.numpy.concatenate([data, data]), impl=impl)

    keras_jax_random.jax_draw_seed = draw_seed_as_key
    return previous
