"""ElectraQuestionAnswerer: extractive QA (SQuAD) on an ELECTRA backbone."""

import inspect

import keras
from keras import ops
from keras_hub.models import Task

from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_layers import electra_kernel_initializer, gelu_exact
from keras_electra.models.electra_preset_loaders import get_preset_loader
from keras_electra.models.electra_presets import (
    ARCHITECTURE_PRESETS,
    KERAS_HUB_PRESETS,
    classproperty,
    listed_presets,
    resolve_vocabulary_size,
)
from keras_electra.models.electra_question_answerer_preprocessor import (
    ElectraQuestionAnswererPreprocessor,
)
from keras_electra.models.electra_task_inputs import TaskInputs
from keras_electra.models.electra_task_weights import WeightsOnlyTaskPreset
from keras_electra.utils.preset_dirs import HF, KERAS_HUB, preset_kind

HEADS = ("electra", "simple")
_MASK_PENALTY = 1000.0  # G: logits += 1000 * (answer_mask - 1)


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraQuestionAnswerer(TaskInputs, WeightsOnlyTaskPreset, Task):
    """Span-extraction question answering with one of two heads.

    `head="electra"` is G's SQuAD head (`finetune/qa/qa_tasks.py`, joint
    prediction + answerability; reference section 6.3). All Dense layers use
    glorot-uniform kernels and zero biases (tf.layers.dense defaults), no dropout:

    * `qa_start` (G `dense`): Dense(1) on the final hidden states; start
      logits get `+1000 * (answer_mask - 1)`, where `answer_mask` allows the
      context tokens, the last `[SEP]` and `[CLS]`.
    * `qa_hidden` (G `qa_hidden`) and `qa_end` (G `dense_1`): the end logits
      are conditioned on the start: `concat([h_start, h]) -> Dense(512, exact
      GELU) -> Dense(1)`, same mask. Training uses the gold start; inference
      keeps the top-`beam_size` (20) starts and, for each, the top-20 ends.
    * `qa_answerable_hidden` (G `dense_2`) and `qa_answerable` (G `dense_3`):
      `concat([h[CLS], sum_s softmax(start_logits)_s h_s]) -> Dense(512, GELU)
      -> Dense(1)` = `answerable_logit` (high = no answer), sigmoid loss
      weighted 0.5.

    `head="simple"` is HF `ElectraForQuestionAnswering`: `qa_outputs` =
    Dense(2) on the final hidden states -> start/end logits (no masking);
    HF's `qa_outputs.weight [2, H]` is this kernel transposed, `bias [2]` as is.

    Loss (in `compute_loss`, portable TF/JAX): labels
    `{"start_positions", "end_positions", "is_impossible"}` (int, `[B]`);
    `(CE(start) + CE(end)) / 2` (+ `0.5 * sigmoid_CE(answerable_logit,
    is_impossible)` for "electra").

    Outputs (`predict`): "simple" -> `{"start_logits", "end_logits"}`
    `[B, S]`; "electra" -> `{"start_logits" [B, S], "start_top_log_probs"
    [B, K], "start_top_index" [B, K], "end_top_log_probs" [B, K, K],
    "end_top_index" [B, K, K], "answerable_logit" [B]}`. Turn them into
    answers with `keras_electra.squad.postprocess.postprocess_predictions`.

    Args:
        backbone: an `ElectraBackbone`.
        preprocessor: optional `ElectraQuestionAnswererPreprocessor`.
        head: "electra" (G) or "simple" (HF).
        beam_size: int. Start/end beam at inference (G 20); needs
            `sequence_length >= beam_size`.
        head_hidden_dim: int. Width of `qa_hidden`/`qa_answerable_hidden` (G 512).
        answerable_loss_weight: float. G `answerable_weight` 0.5.

    Example:
    ```python
    import numpy as np
    from keras_electra import ElectraBackbone, ElectraQuestionAnswerer

    backbone = ElectraBackbone(vocabulary_size=100, num_layers=1, num_heads=2,
                               hidden_dim=16, embedding_dim=8, intermediate_dim=32)
    qa = ElectraQuestionAnswerer(backbone, head="electra", beam_size=4)
    x = {"token_ids": np.array([[2, 7, 3, 9, 10, 11, 3, 0]]),
         "segment_ids": np.array([[0, 0, 0, 1, 1, 1, 1, 0]]),
         "padding_mask": np.array([[1, 1, 1, 1, 1, 1, 1, 0]])}
    out = qa.predict(x, verbose=0)
    out["end_top_index"].shape  # (1, 4, 4)
    y = {"start_positions": np.array([4]), "end_positions": np.array([5]),
         "is_impossible": np.array([0])}
    qa.fit(x, y, epochs=1, verbose=0)
    ```
    """

    backbone_cls = ElectraBackbone
    preprocessor_cls = ElectraQuestionAnswererPreprocessor

    @classproperty
    def presets(cls):
        """The architecture presets, as `ElectraBackbone.presets` (keras-hub's format)."""
        return listed_presets()

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Build from an architecture preset name, a saved QA preset dir, a Hugging Face
        Electra dir or a keras-hub Electra preset.

        * `"electra_tiny"`, ... (`ElectraQuestionAnswerer.presets`): random init; backbone
          arguments (`vocabulary_size`, `dropout`, ...) go to the backbone, the rest (`head`,
          `preprocessor`, ...) to the task; the vocabulary size is that of `preprocessor`'s
          tokenizer unless given.
        * a directory written by `save_to_preset`: the whole task.
        * a local HF dir / `hf://org/name` handle (`model_type: electra`): an
          `ElectraForQuestionAnswering` dir gives the backbone and its
          `qa_outputs` (`head="simple"`, the default for HF dirs); other Electra
          dirs give the backbone and a random head (`head=...`); a `vocab.txt`
          there becomes the preprocessor (`sequence_length=`, default 384).
          See `keras_electra.convert.question_answerer` (registered in
          `keras_electra.models.electra_preset_loaders`).
        * a keras-hub Electra preset (name, handle or local dir of keras-hub's own
          `ElectraBackbone`): its encoder (and tokenizer, when the preset has one) with a
          fresh head (`head=`, default "electra"), said in one line
          (`keras_electra.convert.question_answerer`).

        Example:
        ```python
        from keras_electra import ElectraQuestionAnswerer

        qa = ElectraQuestionAnswerer.from_preset("electra_tiny", vocabulary_size=1000,
                                                 head="simple")
        ```
        """
        if isinstance(preset, str) and preset in ARCHITECTURE_PRESETS:
            names = set(inspect.signature(ElectraBackbone.__init__).parameters) - {
                "self", "embeddings", "name", "kwargs"}
            backbone_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
            backbone_kwargs = resolve_vocabulary_size(
                preset, backbone_kwargs, getattr(kwargs.get("preprocessor"), "tokenizer", None))
            return cls(ElectraBackbone.from_preset(preset, **backbone_kwargs), **kwargs)
        kind = KERAS_HUB if isinstance(preset, str) and preset in KERAS_HUB_PRESETS else (
            preset_kind(preset))
        if kind in (HF, KERAS_HUB):
            return get_preset_loader("ElectraQuestionAnswerer", kind)(
                cls, preset, load_weights=load_weights, **kwargs)
        return super().from_preset(preset, load_weights=load_weights, **kwargs)

    def __init__(self, backbone, preprocessor=None, head="electra", beam_size=20,
                 head_hidden_dim=512, answerable_loss_weight=0.5, **kwargs):
        if head not in HEADS:
            raise ValueError(f"ElectraQuestionAnswerer: head must be one of {HEADS}, got {head!r}")
        dtype = kwargs.pop("dtype", backbone.dtype_policy)
        super().__init__(dtype=dtype, **kwargs)
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        hidden = backbone.hidden_dim
        if head == "simple":
            # HF ElectraForQuestionAnswering.qa_outputs: Linear(H, 2), normal(0.02) init.
            self.qa_outputs = keras.layers.Dense(
                2, kernel_initializer=electra_kernel_initializer(backbone.initializer_range),
                dtype=dtype, name="qa_outputs")
            self.qa_outputs.build((None, None, hidden))
        else:
            dense = dict(kernel_initializer="glorot_uniform", dtype=dtype)  # tf.layers.dense
            self.qa_start = keras.layers.Dense(1, name="qa_start", **dense)
            self.qa_hidden = keras.layers.Dense(head_hidden_dim, activation=gelu_exact,
                                                name="qa_hidden", **dense)
            self.qa_end = keras.layers.Dense(1, name="qa_end", **dense)
            self.qa_answerable_hidden = keras.layers.Dense(
                head_hidden_dim, activation=gelu_exact, name="qa_answerable_hidden", **dense)
            self.qa_answerable = keras.layers.Dense(1, name="qa_answerable", **dense)
            self.qa_start.build((None, None, hidden))
            self.qa_hidden.build((None, None, 2 * hidden))
            self.qa_end.build((None, None, head_hidden_dim))
            self.qa_answerable_hidden.build((None, 2 * hidden))
            self.qa_answerable.build((None, head_hidden_dim))
        self.start_loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.end_loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.answerable_loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        # === Config ===
        self.head = head
        self.beam_size = beam_size
        self.head_hidden_dim = head_hidden_dim
        self.answerable_loss_weight = answerable_loss_weight
        self.built = True

    def compile(self, optimizer="auto", metrics=None, **kwargs):
        """Compiles with AdamW (lr 1e-4, wd 0.01, eps 1e-6, clip 1.0) by default.

        `optimizer="auto"` is `keras_electra.optimizers.default_question_answerer_optimizer()`:
        weight decay except biases and LayerNorm, and the global-norm clip applied to the
        all-reduced gradient, so N replicas take the same step as one device (stock Keras
        `global_clipnorm` clips each replica's partial gradient under `tf.distribute`).
        The loss is built in (`compute_loss`); pass no `loss`.
        """
        if optimizer == "auto":
            from keras_electra.optimizers import default_question_answerer_optimizer

            optimizer = default_question_answerer_optimizer()
        kwargs.pop("loss", None)
        super().compile(optimizer=optimizer, metrics=metrics, **kwargs)

    # --- forward -------------------------------------------------------------

    def _answer_mask(self, inputs, seq_len, dtype):
        mask = ops.cast(inputs["padding_mask"], dtype) * ops.cast(inputs["segment_ids"], dtype)
        first = ops.cast(ops.equal(ops.arange(seq_len), 0), dtype)
        return mask + first[None, :]

    def call(self, inputs, training=False):
        hidden = self.backbone(
            {k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")},
            training=training)["sequence_output"]
        if self.head == "simple":
            logits = self.qa_outputs(hidden)
            return {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}

        seq_len = ops.shape(hidden)[1]
        answer_mask = self._answer_mask(inputs, seq_len, hidden.dtype)
        penalty = _MASK_PENALTY * (answer_mask - 1.0)
        start_logits = ops.squeeze(self.qa_start(hidden), -1) + penalty
        start_probs = ops.softmax(start_logits, axis=-1)
        start_summary = ops.einsum("bs,bsh->bh", start_probs, hidden)
        answerable_repr = ops.concatenate([hidden[:, 0], start_summary], axis=-1)
        answerable_logit = ops.squeeze(
            self.qa_answerable(self.qa_answerable_hidden(answerable_repr)), -1)
        if training:
            # The end logits need the gold start; compute_loss builds them.
            return {"start_logits": start_logits, "answerable_logit": answerable_logit,
                    "sequence_output": hidden, "answer_mask_penalty": penalty}

        start_log_probs = ops.log_softmax(start_logits, axis=-1)
        start_top_log_probs, start_top_index = ops.top_k(start_log_probs, self.beam_size)
        start_one_hot = ops.one_hot(start_top_index, seq_len, dtype=hidden.dtype)
        start_features = ops.einsum("bks,bsh->bkh", start_one_hot, hidden)  # [B, K, H]
        end_logits = self._end_logits(start_features[:, :, None, :], hidden[:, None, :, :])
        end_logits = end_logits + penalty[:, None, :]
        end_log_probs = ops.log_softmax(end_logits, axis=-1)
        end_top_log_probs, end_top_index = ops.top_k(end_log_probs, self.beam_size)
        return {
            "start_logits": start_logits,
            "start_top_log_probs": start_top_log_probs,
            "start_top_index": start_top_index,
            "end_top_log_probs": end_top_log_probs,
            "end_top_index": end_top_index,
            "answerable_logit": answerable_logit,
        }

    def _end_logits(self, start_features, hidden):
        """G: concat([start_features, end_features]) -> qa_hidden -> Dense(1)."""
        # Tile both to the common [..., S, H] shape (adding zeros is exact).
        start_tiled = start_features + ops.zeros_like(hidden[..., :1])
        hidden = hidden + ops.zeros_like(start_features[..., :1])
        start_features = start_tiled
        features = ops.concatenate([start_features, hidden], axis=-1)
        return ops.squeeze(self.qa_end(self.qa_hidden(features)), -1)

    def end_logits_given_start(self, hidden, start_positions, penalty):
        """Training-time end logits from the gold start (G `is_training` branch)."""
        seq_len = ops.shape(hidden)[1]
        one_hot = ops.one_hot(ops.cast(start_positions, "int32"), seq_len, dtype=hidden.dtype)
        start_features = ops.einsum("bs,bsh->bh", one_hot, hidden)  # [B, H]
        return self._end_logits(start_features[:, None, :], hidden) + penalty

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y is None:
            raise ValueError(
                "ElectraQuestionAnswerer needs labels {'start_positions', 'end_positions'"
                + (", 'is_impossible'" if self.head == "electra" else "") + "} to train")
        start_positions = ops.reshape(y["start_positions"], (-1,))
        end_positions = ops.reshape(y["end_positions"], (-1,))
        start_logits = ops.cast(y_pred["start_logits"], "float32")
        if self.head == "simple":
            end_logits = ops.cast(y_pred["end_logits"], "float32")
        elif "end_logits" in y_pred:
            end_logits = ops.cast(y_pred["end_logits"], "float32")
        elif "sequence_output" in y_pred:
            end_logits = ops.cast(self.end_logits_given_start(
                y_pred["sequence_output"], start_positions, y_pred["answer_mask_penalty"]),
                "float32")
        elif x is not None and all(k in x for k in ("token_ids", "segment_ids",
                                                     "padding_mask")):
            # evaluate(): inference outputs hold the beam, not the end logits of the gold
            # start; build those from the encoder as the training branch does (no dropout)
            hidden = self.backbone({k: x[k] for k in ("token_ids", "segment_ids",
                                                      "padding_mask")},
                                   training=False)["sequence_output"]
            penalty = _MASK_PENALTY * (
                self._answer_mask(x, ops.shape(hidden)[1], hidden.dtype) - 1.0)
            end_logits = ops.cast(self.end_logits_given_start(hidden, start_positions, penalty),
                                  "float32")
        else:
            raise ValueError("ElectraQuestionAnswerer: the 'electra' head computes its loss "
                             "from training-mode outputs (call with training=True) or from "
                             "the inputs x")
        loss = (self.start_loss_fn(start_positions, start_logits, sample_weight)
                + self.end_loss_fn(end_positions, end_logits, sample_weight)) / 2.0
        if self.head == "electra":
            is_impossible = ops.cast(ops.reshape(y["is_impossible"], (-1, 1)), "float32")
            answerable_logit = ops.cast(ops.reshape(y_pred["answerable_logit"], (-1, 1)),
                                        "float32")
            loss = loss + self.answerable_loss_weight * self.answerable_loss_fn(
                is_impossible, answerable_logit, sample_weight)
        return loss

    def get_config(self):
        config = super().get_config()
        config.update({
            "head": self.head,
            "beam_size": self.beam_size,
            "head_hidden_dim": self.head_hidden_dim,
            "answerable_loss_weight": self.answerable_loss_weight,
        })
        return config
