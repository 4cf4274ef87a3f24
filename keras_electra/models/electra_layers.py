"""Building blocks of the ELECTRA encoder (keras.ops only; runs on TF and JAX).

`ElectraEmbedding` is the block that G shares between generator and
discriminator (scope `electra/embeddings`): word, position and token-type
embeddings, their sum, LayerNorm and dropout. `ElectraTransformerLayer` is
keras-hub's post-LN `TransformerEncoder` with separate hidden and
attention-probability dropout rates (BERT's `hidden_dropout_prob` and
`attention_probs_dropout_prob`); its attention is `ElectraSelfAttention`,
which takes `keras.ops.dot_product_attention` (the fused path: cuDNN flash
attention on a GPU under JAX when eligible) whenever no attention dropout is
applied (both in `keras_patches`, with the other code that patches Keras and
keras-hub internals). `use_jax_prng` switches the JAX PRNG behind dropout and the
pretrainer's noise (opt-in; see its docstring).
"""

import keras
from keras_hub.layers import PositionEmbedding, TransformerEncoder

from keras_electra.models.keras_patches import (
    set_jax_draw_seed_impl,
    use_electra_attention,
)

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


class GdesEmbedding(keras.layers.Layer):
    """Gradient-disentangled embedding sharing (DeBERTa-v3, He et al. 2021, arXiv 2111.09543).

    The discriminator's view of a shared `ElectraEmbedding` block `base` (the generator's):
    its word vectors are `stop_gradient(base table) + residual`, the residual a table of its
    own initialised to zero; position and token-type embeddings and the LayerNorm are `base`'s
    (shared, as in G). So the RTD loss never reaches the shared word table (only the
    generator's MLM loss updates it) and moves only the residual. `folded_table()` is the
    discriminator's effective word table (`base + residual`), what an exported discriminator
    carries.

    Args:
        base: the shared `ElectraEmbedding`.
    """

    def __init__(self, base, **kwargs):
        super().__init__(**kwargs)
        self.base = base
        for name in ("vocabulary_size", "embedding_dim", "max_sequence_length", "num_segments",
                     "dropout", "layer_norm_epsilon", "initializer_range"):
            setattr(self, name, getattr(base, name))
        self.token_embedding = base.token_embedding
        self.residual = keras.layers.Embedding(
            base.vocabulary_size, base.embedding_dim, embeddings_initializer="zeros",
            dtype=self.dtype_policy, name="token_embedding_residual",
        )

    def build(self, token_ids_shape, segment_ids_shape=None):
        if not self.base.built:
            self.base.build(token_ids_shape, segment_ids_shape)
        self.residual.build(token_ids_shape)
        self.built = True

    def call(self, token_ids, segment_ids, training=None):
        base = self.base
        x = keras.ops.stop_gradient(base.token_embedding(token_ids)) + self.residual(token_ids)
        x = x + base.position_embedding(x) + base.segment_embedding(segment_ids)
        x = base.layer_norm(x)
        return base.dropout_layer(x, training=training)

    def folded_table(self):
        """The effective word table, `base + residual` (a tensor)."""
        return keras.ops.add(self.base.token_embedding.embeddings, self.residual.embeddings)

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return tuple(token_ids_shape) + (self.embedding_dim,)


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
        # private read: keras-hub 0.32 `TransformerEncoder._self_attention_layer`
        use_electra_attention(self._self_attention_layer, self.attention_dropout)

    def get_config(self):
        config = super().get_config()
        config["attention_dropout"] = self.attention_dropout
        return config


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
    Gumbel noise use `jax.random.key`) and wraps Keras' JAX seed function
    (`keras_patches.set_jax_draw_seed_impl`), whose
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
    if keras.backend.backend() != "jax":
        raise ValueError(f"use_jax_prng needs the JAX backend (this is {keras.backend.backend()!r}).")
    if impl not in JAX_PRNG_IMPLS:
        raise ValueError(f"use_jax_prng: impl must be one of {JAX_PRNG_IMPLS}, got {impl!r}.")
    import jax

    previous = jax.config.jax_default_prng_impl
    set_jax_draw_seed_impl(impl)
    jax.config.update("jax_default_prng_impl", impl)
    jax.clear_caches()  # traces cached by jax.jit do not key on the patched function
    return previous
