"""ElectraTextClassifier: sentence(-pair) classification and regression on an ELECTRA backbone."""

import keras
from keras import ops
from keras_hub.models import TextClassifier

from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_layers import electra_kernel_initializer, gelu_exact
from keras_electra.models.electra_preset_loaders import get_preset_loader
from keras_electra.models.electra_task_inputs import TaskInputs
from keras_electra.models.electra_task_weights import WeightsOnlyTaskPreset
from keras_electra.models.electra_text_classifier_preprocessor import (
    ElectraTextClassifierPreprocessor,
)
from keras_electra.utils.preset_dirs import HF, KERAS_HUB, preset_kind

HEADS = ("hf", "electra")
HEAD_PREFIX = "classifier_"  # layer-wise lr decay: the head's variable paths start with it


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraTextClassifier(TaskInputs, WeightsOnlyTaskPreset, TextClassifier):
    """Classification (`num_classes >= 2`) or regression (`num_classes=1`) on `[CLS]`.

    Two heads on the final hidden state of `[CLS]`:

    * `head="hf"` (default): transformers' `ElectraClassificationHead`
      (`models/electra/modeling_electra.py`): dropout -> `classifier_dense` (H, exact
      GELU, `get_activation("gelu")`) -> dropout -> `classifier_out_proj`
      (`num_classes`); normal(0.02) kernels, zero biases, as HF initializes them. Exports
      to `ElectraForSequenceClassification` (`classifier.dense`, `classifier.out_proj`).
    * `head="electra"`: google-research/electra's head
      (`finetune/classification/classification_tasks.py`, `get_prediction_module`):
      dropout -> one dense layer `classifier_output` (glorot-uniform, `tf.layers.dense`'s
      default). HF has no such layout, so it cannot be exported to HF.

    Outputs: logits `[B, num_classes]` (float32 under `mixed_bfloat16` too). Loss
    (`compile()` defaults): sparse softmax cross-entropy, or mean squared error when
    `num_classes=1` (G's regression loss; HF's `problem_type="regression"`).

    Args:
        backbone: an `ElectraBackbone`.
        num_classes: int. 1 for regression (STS-B).
        preprocessor: optional `ElectraTextClassifierPreprocessor`.
        head: "hf" or "electra" (see above).
        dropout: float. Head dropout (default: the backbone's `dropout`, G's keep 0.9 and
            HF's `hidden_dropout_prob`).
        label_names: optional list of `num_classes` label strings (exported as HF's
            `id2label`; `keras-electra glue` writes predictions with them).

    Example:
    ```python
    import numpy as np
    from keras_electra import ElectraBackbone, ElectraTextClassifier

    backbone = ElectraBackbone(vocabulary_size=100, num_layers=1, num_heads=2,
                               hidden_dim=16, embedding_dim=8, intermediate_dim=32)
    classifier = ElectraTextClassifier(backbone, num_classes=3)
    x = {"token_ids": np.array([[2, 7, 3, 9, 3, 0]]),
         "segment_ids": np.array([[0, 0, 0, 1, 1, 0]]),
         "padding_mask": np.array([[1, 1, 1, 1, 1, 0]])}
    classifier.predict(x, verbose=0).shape  # (1, 3)
    classifier.compile()
    classifier.fit(x, np.array([2]), epochs=1, verbose=0)
    ```
    """

    backbone_cls = ElectraBackbone
    preprocessor_cls = ElectraTextClassifierPreprocessor

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Build from any preset an `ElectraBackbone` loads, or a saved classifier.

        * a directory written by `save_to_preset` (task.json of this class): the whole
          classifier (pass `num_classes=` to start a new head on its backbone, as in
          keras-hub);
        * an HF Electra dir or `hf://org/name`: an `ElectraForSequenceClassification`
          dir gives the backbone and its head (`head="hf"`, `num_classes` from
          `config.json`); any other Electra dir gives the backbone and a new head
          (`num_classes=` needed); a `vocab.txt` there becomes the preprocessor;
        * a keras-hub `ElectraBackbone` preset, our pretraining exports, a fine-tuned QA
          preset: the backbone (and tokenizer), a new head (`num_classes=` needed).

        HF and keras-hub sources are read by `keras_electra.convert.text_classifier`
        (registered in `keras_electra.models.electra_preset_loaders`).
        """
        if "num_classes" in kwargs:  # a new head: the saved label names belong to the old one
            kwargs.setdefault("label_names", None)
        kind = preset_kind(preset)
        if kind in (HF, KERAS_HUB):
            return get_preset_loader("ElectraTextClassifier", kind)(
                cls, preset, load_weights=load_weights, **kwargs)
        if kwargs.get("dtype") is None:
            saved = _saved_mixed_policy(preset)
            if saved:  # keras-hub 0.32's _resolve_dtype refuses a saved "mixed_*" policy name
                kwargs["dtype"] = saved
        task = super().from_preset(preset, load_weights=load_weights, **kwargs)
        preprocessor = task.preprocessor
        if preprocessor is not None and (
                preprocessor.sequence_length > task.backbone.max_sequence_length):
            # keras-hub's default length (ours: 128) on a backbone with fewer positions
            preprocessor.sequence_length = task.backbone.max_sequence_length
        return task

    def __init__(self, backbone, num_classes, preprocessor=None, head="hf", dropout=None,
                 label_names=None, **kwargs):
        if head not in HEADS:
            raise ValueError(f"ElectraTextClassifier: head must be one of {HEADS}, got {head!r}")
        if int(num_classes) < 1:
            raise ValueError(f"ElectraTextClassifier: num_classes must be >= 1, got "
                             f"{num_classes!r} (1 is regression)")
        if label_names is not None and len(label_names) != num_classes:
            raise ValueError(f"ElectraTextClassifier: {len(label_names)} label_names for "
                             f"num_classes={num_classes}")
        dtype = kwargs.pop("dtype", backbone.dtype_policy)
        super().__init__(dtype=dtype, **kwargs)
        if dropout is None:
            dropout = backbone.dropout
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        hidden = backbone.hidden_dim
        self.classifier_dropout = keras.layers.Dropout(dropout, dtype=dtype,
                                                       name="classifier_dropout")
        if head == "hf":
            init = dict(kernel_initializer=electra_kernel_initializer(
                backbone.initializer_range), dtype=dtype)
            self.classifier_dense = keras.layers.Dense(
                hidden, activation=gelu_exact, name="classifier_dense", **init)
            self.classifier_out_proj = keras.layers.Dense(
                num_classes, name="classifier_out_proj", **init)
            self.classifier_dense.build((None, hidden))
            self.classifier_out_proj.build((None, hidden))
        else:
            self.classifier_output = keras.layers.Dense(
                num_classes, kernel_initializer="glorot_uniform", dtype=dtype,
                name="classifier_output")
            self.classifier_output.build((None, hidden))
        # === Config ===
        self.num_classes = int(num_classes)
        self.head = head
        self.dropout = float(dropout)
        self.label_names = None if label_names is None else [str(n) for n in label_names]
        self.built = True
        self.compile()  # keras-hub's Task.__init__ compiled before num_classes was known

    def call(self, inputs, training=False):
        hidden = self.backbone(
            {k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")},
            training=training)["sequence_output"]
        x = self.classifier_dropout(hidden[:, 0, :], training=training)
        if self.head == "hf":
            x = self.classifier_dense(x)
            x = self.classifier_dropout(x, training=training)
            logits = self.classifier_out_proj(x)
        else:
            logits = self.classifier_output(x)
        return ops.cast(logits, "float32")

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs):
        """Compiles with AdamW (lr 1e-4, wd 0.01, eps 1e-6, clip 1.0) by default.

        `optimizer="auto"` is `keras_electra.optimizers.default_question_answerer_optimizer()`
        (G's fine-tuning optimizer, the all-reduced gradient clipped). `loss="auto"`: sparse
        softmax cross-entropy on the logits, mean squared error when `num_classes=1`;
        `metrics="auto"`: sparse categorical accuracy (none for regression).
        """
        if optimizer == "auto":
            from keras_electra.optimizers import default_question_answerer_optimizer

            optimizer = default_question_answerer_optimizer()
        regression = getattr(self, "num_classes", None) == 1
        if loss == "auto":
            loss = (keras.losses.MeanSquaredError() if regression else
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        if metrics == "auto":
            metrics = None if regression else [
                keras.metrics.SparseCategoricalAccuracy()]
        keras.Model.compile(self, optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_classes": self.num_classes,
            "head": self.head,
            "dropout": self.dropout,
            "label_names": self.label_names,
        })
        return config


def _saved_mixed_policy(preset):
    """The saved dtype policy of a local preset when it is a mixed one ("mixed_bfloat16")."""
    import json
    import os

    path = os.path.join(os.fspath(preset), "config.json") if isinstance(
        preset, (str, os.PathLike)) else None
    if path is None or not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            dtype = json.load(f).get("config", {}).get("dtype")
    except (OSError, ValueError, AttributeError):
        return None
    name = dtype.get("config", {}).get("name") if isinstance(dtype, dict) else None
    return name if isinstance(name, str) and name.startswith("mixed_") else None
