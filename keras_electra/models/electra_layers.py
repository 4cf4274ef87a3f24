"""Building blocks of the ELECTRA encoder (keras.ops only; runs on TF and JAX).

`ElectraEmbedding` is the block that G shares between generator and
discriminator (scope `electra/embeddings`): word, position and token-type
embeddings, their sum, LayerNorm and dropout. `ElectraTransformerLayer` is
keras-hub's post-LN `TransformerEncoder` with separate hidden and
attention-probability dropout rates (BERT's `hidden_dropout_prob` and
`attention_probs_dropout_prob`).
"""

import keras
from keras_hub.layers import PositionEmbedding, TransformerEncoder


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
class ElectraTransformerLayer(TransformerEncoder):
    """keras-hub `TransformerEncoder` (post-LN) with a separate attention dropout.

    Args:
        attention_dropout: float or None. Dropout on attention probabilities
            (`attention_probs_dropout_prob`); None means `dropout`.
        All other arguments are those of `keras_hub.layers.TransformerEncoder`;
        `dropout` is the hidden (residual-branch) dropout.
    """

    def __init__(self, *args, attention_dropout=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.attention_dropout = self.dropout if attention_dropout is None else attention_dropout

    def build(self, inputs_shape):
        super().build(inputs_shape)
        attention = self._self_attention_layer
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
