"""ElectraBackbone: the ELECTRA encoder with the exact math of G and HF."""

import os

import keras
from keras import ops
from keras_hub.models import Backbone

from keras_electra.models.electra_layers import (
    ElectraEmbedding,
    ElectraTransformerLayer,
    GdesEmbedding,
    electra_kernel_initializer,
    gelu_exact,
)
from keras_electra.models.electra_preset_loaders import get_preset_loader
from keras_electra.models.electra_presets import (
    ARCHITECTURE_PRESETS,
    KERAS_HUB_PRESETS,
    classproperty,
    listed_presets,
    resolve_vocabulary_size,
)
from keras_electra.utils.preset_dirs import HF, KERAS_HUB, preset_kind


@keras.saving.register_keras_serializable(package="keras_electra")
class DirectionalAttentionMask(keras.layers.Layer):
    """`[B, S, S]` attention mask of a one-directional tower (G `modeling.BertModel`
    `ltr` / `rtl`): row i (query) may see column j iff j <= i (`"ltr"`) or j >= i (`"rtl"`).
    Combined with the padding mask by keras-hub's `TransformerEncoder`."""

    def __init__(self, direction, **kwargs):
        super().__init__(**kwargs)
        self.direction = direction

    def call(self, padding_mask):
        shape = ops.shape(padding_mask)
        positions = ops.arange(shape[1])
        if self.direction == "ltr":
            allowed = positions[None, :] <= positions[:, None]
        else:
            allowed = positions[None, :] >= positions[:, None]
        return ops.broadcast_to(ops.cast(allowed, "int32")[None], (shape[0], shape[1], shape[1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], input_shape[1])

    def get_config(self):
        config = super().get_config()
        config["direction"] = self.direction
        return config


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraBackbone(Backbone):
    """ELECTRA encoder (generator or discriminator body), keras-hub style.

    Exactly G `model/modeling.py` (identical to HF `ElectraModel`): word +
    position + token-type embeddings -> LayerNorm (eps 1e-12) -> dropout ->
    `embeddings_project` Dense when `embedding_dim != hidden_dim` -> L post-LN
    transformer blocks with exact erf GELU; truncated-normal(0.02) init; no
    pooler (use `sequence_output[:, 0]`).

    Args:
        vocabulary_size: int. Size of the WordPiece vocabulary.
        num_layers: int. Transformer blocks.
        num_heads: int. Attention heads.
        hidden_dim: int. Hidden size H.
        embedding_dim: int. Embedding size E (projected to H when different).
        intermediate_dim: int. Feed-forward size (4H in the presets).
        dropout: float. Hidden dropout (`hidden_dropout_prob`), default 0.1.
        attention_dropout: float. Attention-probability dropout
            (`attention_probs_dropout_prob`); defaults to `dropout`.
        max_sequence_length: int. Position-table rows, 512.
        num_segments: int. Token types, 2.
        layer_norm_epsilon: float. 1e-12.
        initializer_range: float. 0.02.
        embeddings: optional `ElectraEmbedding` to share (G shares the
            embedding block between generator and discriminator; the
            projection and the encoder stay private). Its sizes must match.
        attention_direction: None (default, bidirectional), `"ltr"` (position i attends
            to positions <= i, G `modeling.BertModel(ltr=True)`) or `"rtl"` (positions
            >= i, `rtl=True`): the towers of Electric's two-tower cloze generator.
        dtype: dtype policy, e.g. `"mixed_bfloat16"`.

    Example:
    ```python
    import numpy as np
    from keras_electra import ElectraBackbone

    backbone = ElectraBackbone(vocabulary_size=1000, num_layers=2, num_heads=2,
                               hidden_dim=64, embedding_dim=32,
                               intermediate_dim=128)
    out = backbone({"token_ids": np.array([[101, 7, 102, 0]]),
                    "segment_ids": np.zeros((1, 4), "int32"),
                    "padding_mask": np.array([[1, 1, 1, 0]])})
    out["sequence_output"].shape  # (1, 4, 64)
    ```
    """

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_dim,
                 embedding_dim, intermediate_dim, dropout=0.1,
                 attention_dropout=None, max_sequence_length=512, num_segments=2,
                 layer_norm_epsilon=1e-12, initializer_range=0.02,
                 embeddings=None, token_residual=False, attention_direction=None, dtype=None,
                 **kwargs):
        if attention_direction not in (None, "ltr", "rtl"):
            raise ValueError("ElectraBackbone: attention_direction must be None, 'ltr' or "
                             f"'rtl'; got {attention_direction!r}.")
        if hidden_dim % num_heads:
            raise ValueError(
                f"ElectraBackbone: hidden_dim={hidden_dim} is not divisible by "
                f"num_heads={num_heads}; pick num_heads = hidden_dim // 64 as G does."
            )
        attention_dropout = dropout if attention_dropout is None else attention_dropout

        # === Layers ===
        if embeddings is None:
            embeddings = ElectraEmbedding(
                vocabulary_size=vocabulary_size, embedding_dim=embedding_dim,
                max_sequence_length=max_sequence_length, num_segments=num_segments,
                dropout=dropout, layer_norm_epsilon=layer_norm_epsilon,
                initializer_range=initializer_range, dtype=dtype, name="embeddings",
            )
        else:
            expected = (vocabulary_size, embedding_dim, max_sequence_length, num_segments)
            got = (embeddings.vocabulary_size, embeddings.embedding_dim,
                   embeddings.max_sequence_length, embeddings.num_segments)
            if expected != got:
                raise ValueError(
                    "ElectraBackbone: the shared `embeddings` block has "
                    f"(vocabulary_size, embedding_dim, max_sequence_length, num_segments)={got}, "
                    f"but this backbone was configured with {expected}."
                )
        if token_residual and not isinstance(embeddings, GdesEmbedding):
            # GDES: this backbone sees `embeddings` (possibly shared) through a residual
            embeddings = GdesEmbedding(embeddings, dtype=dtype, name="gdes_embeddings")
        self.embeddings = embeddings
        self.token_embedding = embeddings.token_embedding
        self._fold_on_save = True
        self.embeddings_project = None
        if embedding_dim != hidden_dim:
            # G: `embeddings_project` uses tf.layers.dense's default glorot-uniform init.
            self.embeddings_project = keras.layers.Dense(
                hidden_dim, kernel_initializer="glorot_uniform", dtype=dtype,
                name="embeddings_project",
            )
        self.transformer_layers = []
        for i in range(num_layers):
            self.transformer_layers.append(ElectraTransformerLayer(
                intermediate_dim=intermediate_dim, num_heads=num_heads,
                dropout=dropout, attention_dropout=attention_dropout,
                activation=gelu_exact, layer_norm_epsilon=layer_norm_epsilon,
                kernel_initializer=electra_kernel_initializer(initializer_range),
                dtype=dtype, name=f"transformer_layer_{i}",
            ))

        # === Functional Model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        x = self.embeddings(token_ids, segment_ids)
        if self.embeddings_project is not None:
            x = self.embeddings_project(x)
        attention_mask = None
        if attention_direction is not None:
            attention_mask = DirectionalAttentionMask(
                attention_direction, name="directional_attention_mask")(padding_mask)
        for layer in self.transformer_layers:
            x = layer(x, padding_mask=padding_mask, attention_mask=attention_mask)
        super().__init__(
            inputs={"token_ids": token_ids, "segment_ids": segment_ids,
                    "padding_mask": padding_mask},
            outputs={"sequence_output": x},
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.embedding_dim = embedding_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.token_residual = isinstance(embeddings, GdesEmbedding)
        self.attention_direction = attention_direction

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "embedding_dim": self.embedding_dim,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "max_sequence_length": self.max_sequence_length,
            "num_segments": self.num_segments,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "initializer_range": self.initializer_range,
        })
        if self.token_residual:  # only GDES discriminators carry it: other configs unchanged
            config["token_residual"] = True
        if self.attention_direction is not None:  # only Electric's cloze towers carry it
            config["attention_direction"] = self.attention_direction
        return config

    # === GDES (a discriminator on a shared embedding block) ===
    def folded(self):
        """A plain `ElectraBackbone` that computes what this one does.

        For the discriminator of a GDES pretrainer (`GdesEmbedding`) that is a copy whose word
        table is the folded `base + residual`; for any other backbone, `self`. Built outside
        any `keras.distribution` from host copies, so a chief can export alone.
        """
        if not isinstance(self.embeddings, GdesEmbedding):
            return self
        current = keras.distribution.distribution()
        keras.distribution.set_distribution(None)
        try:
            config = self.get_config()
            config.pop("token_residual")
            plain = ElectraBackbone.from_config(config)
            host = keras.ops.convert_to_numpy
            base, target = self.embeddings.base, plain.embeddings
            target.token_embedding.embeddings.assign(host(self.embeddings.folded_table()))
            pairs = [(base.position_embedding, target.position_embedding),
                     (base.segment_embedding, target.segment_embedding),
                     (base.layer_norm, target.layer_norm),
                     *zip(self.transformer_layers, plain.transformer_layers)]
            if self.embeddings_project is not None:
                pairs.append((self.embeddings_project, plain.embeddings_project))
            for source, destination in pairs:
                for a, b in zip(source.weights, destination.weights):
                    b.assign(host(a.value))
        finally:
            keras.distribution.set_distribution(current)
        return plain

    def save_to_preset(self, preset_dir, **kwargs):
        """keras-hub's `save_to_preset`; a GDES discriminator is saved folded (a plain
        backbone: keras-hub, HF export and fine-tuning load it as any other), except inside
        `ElectraPretrainer.save_to_preset`, which keeps the pretrainer's exact state."""
        if isinstance(self.embeddings, GdesEmbedding) and self._fold_on_save:
            return self.folded().save_to_preset(preset_dir, **kwargs)
        return super().save_to_preset(preset_dir, **kwargs)

    # === Preset loading ===
    @classproperty
    def presets(cls):
        """The architecture presets (`"electra_tiny"`, ..., `"electra_large"`), in keras-hub's
        format: `{name: {"metadata": {"description", "params", "path"}}}`. The same names
        work in `ElectraPretrainer.presets` and `ElectraQuestionAnswerer.presets`.

        Example:
        ```python
        from keras_electra import ElectraBackbone

        sorted(ElectraBackbone.presets)  # ['electra_base', 'electra_large', ...]
        ```
        """
        return listed_presets()

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Build an `ElectraBackbone` from a preset.

        Besides keras-hub's own preset dirs and handles (e.g. a dir written by
        `save_to_preset`), `preset` may be: an architecture preset name
        (`"electra_tiny"`, `"electra_small"`, `"electra_small_plus"`,
        `"electra_base"`, `"electra_large"`, listed in `ElectraBackbone.presets`; random
        init, `kwargs` override the config; the vocabulary size is `vocabulary_size=`, else
        that of `tokenizer=`, else BERT's 30,522, said in one line); a local Hugging Face Electra dir (config.json with
        `model_type: "electra"` + model.safetensors) or `"hf://org/name"`; a
        keras-hub Electra preset name (`"electra_small_discriminator_uncased_en"`,
        ...) or a local keras-hub Electra preset dir / handle. The last two are
        loaded by `keras_electra.convert.hf` / `keras_electra.convert.keras_hub`
        (registered in `keras_electra.models.electra_preset_loaders`); anything
        else goes to keras-hub's own loader.

        Example:
        ```python
        backbone = ElectraBackbone.from_preset("electra_tiny", vocabulary_size=1000)
        ```
        """
        preset = os.fspath(preset) if isinstance(preset, os.PathLike) else preset
        kind = None
        if isinstance(preset, str):
            if "://" in preset:
                kind = preset_kind(preset)
            elif preset in ARCHITECTURE_PRESETS:
                kwargs = resolve_vocabulary_size(preset, kwargs, kwargs.pop("tokenizer", None))
                return cls(**{**ARCHITECTURE_PRESETS[preset]["backbone"], **kwargs})
            elif preset in KERAS_HUB_PRESETS:
                kind = KERAS_HUB
            else:
                kind = preset_kind(preset)
        if kind in (HF, KERAS_HUB):
            return get_preset_loader("ElectraBackbone", kind)(
                preset, load_weights=load_weights, **kwargs)
        if isinstance(preset, str) and "://" not in preset and (
                os.path.isdir(preset) or os.sep in preset or preset.startswith(".")):
            return _load_local_keras_preset(preset, load_weights, super().from_preset, **kwargs)
        return super().from_preset(preset, load_weights=load_weights, **kwargs)


def _load_local_keras_preset(preset, load_weights, load, **kwargs):
    """keras-hub's loader on a local dir, with errors that name the file and the fix."""
    if not os.path.isdir(preset):
        raise FileNotFoundError(f"{preset}: no such preset directory.")
    if not os.path.isfile(os.path.join(preset, "config.json")):
        raise FileNotFoundError(
            f"{preset}/config.json: missing. A Keras preset dir holds config.json and "
            "model.weights.h5 (`save_to_preset`); an HF dir holds config.json with "
            "model_type 'electra' (`save_pretrained`).")
    weights = os.path.join(preset, "model.weights.h5")
    if load_weights and not os.path.isfile(weights) and not os.path.isfile(
            os.path.join(preset, "model.weights.json")):
        raise FileNotFoundError(
            f"{weights}: missing (the preset has a config.json but no weights). Re-export the "
            "preset, or pass load_weights=False for a randomly initialised model.")
    try:
        return load(preset, load_weights=load_weights, **kwargs)
    except (ValueError, OSError) as e:
        if not load_weights:
            raise
        first = next((line for line in str(e).splitlines() if line.strip()), "")
        detail = next((line for line in str(e).splitlines() if "shape" in line), "")
        raise ValueError(
            f"{weights}: cannot be loaded into the model described by {preset}/config.json "
            f"({first[:300]}{' ' + detail[:300] if detail and detail != first else ''}). The "
            "weights come from another architecture, or the file is truncated or damaged; "
            "re-export the preset.") from e
