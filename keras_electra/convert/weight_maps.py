"""Weight-name tables between our `ElectraBackbone` and the HF / G layouts (data only).

Every mapping is kept here as a table so the converters (`hf.py`,
`google.py`, `keras_hub.py`) stay thin loops over data.

Layout transforms (HF PyTorch `Linear.weight` is `[out, in]`; Keras and TF1
kernels are `[in, out]`; keras-hub's attention kernels split the head axis):

* `copy`: same values, reshaped to the Keras variable's shape.
* `bias`: HF `[n]` <-> Keras `[n]` or `[heads, head_dim]`.
* `kernel`: HF `W` <-> Keras `W.T`.
* `kernel_split_out`: HF `W [H, H]` <-> Keras `W.T.reshape(H, heads, head_dim)` (q/k/v).
* `kernel_split_in`: HF `W [H, H]` <-> Keras `W.T.reshape(heads, head_dim, H)`
  (attention output).
"""

import collections

import numpy as np

# (HF name inside `ElectraModel`, our ElectraBackbone variable path, transform)
EMBEDDING_WEIGHTS = (
    ("embeddings.word_embeddings.weight", "embeddings/token_embedding/embeddings", "copy"),
    ("embeddings.position_embeddings.weight", "embeddings/position_embedding/embeddings", "copy"),
    ("embeddings.token_type_embeddings.weight", "embeddings/segment_embedding/embeddings", "copy"),
    ("embeddings.LayerNorm.weight", "embeddings/embeddings_layer_norm/gamma", "copy"),
    ("embeddings.LayerNorm.bias", "embeddings/embeddings_layer_norm/beta", "copy"),
)
PROJECT_WEIGHTS = (
    ("embeddings_project.weight", "embeddings_project/kernel", "kernel"),
    ("embeddings_project.bias", "embeddings_project/bias", "bias"),
)
_L = "encoder.layer.{i}."
_K = "transformer_layer_{i}/"
LAYER_WEIGHTS = (
    (_L + "attention.self.query.weight", _K + "self_attention_layer/query/kernel", "kernel_split_out"),
    (_L + "attention.self.query.bias", _K + "self_attention_layer/query/bias", "bias"),
    (_L + "attention.self.key.weight", _K + "self_attention_layer/key/kernel", "kernel_split_out"),
    (_L + "attention.self.key.bias", _K + "self_attention_layer/key/bias", "bias"),
    (_L + "attention.self.value.weight", _K + "self_attention_layer/value/kernel", "kernel_split_out"),
    (_L + "attention.self.value.bias", _K + "self_attention_layer/value/bias", "bias"),
    (_L + "attention.output.dense.weight", _K + "self_attention_layer/attention_output/kernel",
     "kernel_split_in"),
    (_L + "attention.output.dense.bias", _K + "self_attention_layer/attention_output/bias", "bias"),
    (_L + "attention.output.LayerNorm.weight", _K + "self_attention_layer_norm/gamma", "copy"),
    (_L + "attention.output.LayerNorm.bias", _K + "self_attention_layer_norm/beta", "copy"),
    (_L + "intermediate.dense.weight", _K + "feedforward_intermediate_dense/kernel", "kernel"),
    (_L + "intermediate.dense.bias", _K + "feedforward_intermediate_dense/bias", "bias"),
    (_L + "output.dense.weight", _K + "feedforward_output_dense/kernel", "kernel"),
    (_L + "output.dense.bias", _K + "feedforward_output_dense/bias", "bias"),
    (_L + "output.LayerNorm.weight", _K + "feedforward_layer_norm/gamma", "copy"),
    (_L + "output.LayerNorm.bias", _K + "feedforward_layer_norm/beta", "copy"),
)

# Heads. Keys of the numpy dicts handed to task classes (Keras [in, out] layout).
# Discriminator head (HF ElectraDiscriminatorPredictions): a layer with sublayers
# `dense` (H->H, gelu) and `dense_prediction` (H->1).
DISCRIMINATOR_HEAD_WEIGHTS = (
    ("discriminator_predictions.dense.weight", "dense/kernel", "kernel"),
    ("discriminator_predictions.dense.bias", "dense/bias", "bias"),
    ("discriminator_predictions.dense_prediction.weight", "dense_prediction/kernel", "kernel"),
    ("discriminator_predictions.dense_prediction.bias", "dense_prediction/bias", "bias"),
)
# Generator head (HF ElectraGeneratorPredictions + generator_lm_head) as a
# keras_hub MaskedLMHead tied to the word embeddings: `_intermediate_dense`
# (Hg->E, gelu), `_intermediate_layer_norm`, `output_bias` [V].
GENERATOR_HEAD_WEIGHTS = (
    ("generator_predictions.dense.weight", "intermediate_dense/kernel", "kernel"),
    ("generator_predictions.dense.bias", "intermediate_dense/bias", "bias"),
    ("generator_predictions.LayerNorm.weight", "intermediate_layer_norm/gamma", "copy"),
    ("generator_predictions.LayerNorm.bias", "intermediate_layer_norm/beta", "copy"),
    ("generator_lm_head.bias", "output_bias", "bias"),
)
# HF ElectraForQuestionAnswering: qa_outputs Linear(H, 2) -> Keras Dense(2).
QA_HEAD_WEIGHTS = (
    ("qa_outputs.weight", "kernel", "kernel"),
    ("qa_outputs.bias", "bias", "bias"),
)
HEAD_TABLES = {
    "discriminator": DISCRIMINATOR_HEAD_WEIGHTS,
    "generator": GENERATOR_HEAD_WEIGHTS,
    "qa": QA_HEAD_WEIGHTS,
}
# `keras-electra export --to hf`: what each head becomes. One row per head kind: the
# transformers class that carries it, and the task class (+ attribute) a task preset keeps
# it in (`ElectraPretrainer` presets export as the pair, one HF dir per row). A new kind is
# one row here, its weight names in HEAD_TABLES and its layer attributes in
# `models/electra_preset_heads.HEAD_ATTRIBUTES`.
HFHeadExport = collections.namedtuple("HFHeadExport", "kind model_class task_class attribute")
HF_HEAD_EXPORTS = (
    HFHeadExport("discriminator", "ElectraForPreTraining", "ElectraPretrainer",
                 "discriminator_head"),
    HFHeadExport("generator", "ElectraForMaskedLM", "ElectraPretrainer", "generator_head"),
    HFHeadExport("qa", "ElectraForQuestionAnswering", "ElectraQuestionAnswerer", "qa_outputs"),
)
# HF buffers that are not weights (older checkpoints store them).
HF_IGNORED_SUFFIXES = ("embeddings.position_ids", "embeddings.token_type_ids")
# The tied output projection of ElectraForMaskedLM (= word embeddings).
HF_TIED_LM_WEIGHT = "generator_lm_head.weight"

# keras-hub ElectraBackbone variable path -> ours (pooled_dense has no counterpart).
KERAS_HUB_RENAMES = (
    ("token_embedding/", "embeddings/token_embedding/"),
    ("position_embedding/", "embeddings/position_embedding/"),
    ("segment_embedding/", "embeddings/segment_embedding/"),
    ("embeddings_layer_norm/", "embeddings/embeddings_layer_norm/"),
    ("embeddings_projection/", "embeddings_project/"),
    ("transformer_layer_", "transformer_layer_"),
)
KERAS_HUB_DROPPED_PREFIXES = ("pooled_dense/",)

# G (google-research/electra TF1) -> HF names, as HF's `load_tf_weights_in_electra`
# (transformers `models/electra/modeling_electra.py`) maps them.
# Applied to the part of a G name after its scope (`electra/` or `generator/`).
GOOGLE_LEAF_RENAMES = (
    # (G suffix, HF suffix); kernels are [in, out] in G and get transposed.
    ("/kernel", ".weight"),
    ("/gamma", ".weight"),
    ("/beta", ".bias"),
    ("/bias", ".bias"),
)
GOOGLE_EMBEDDING_NAMES = (
    ("embeddings/word_embeddings", "embeddings.word_embeddings.weight"),
    ("embeddings/position_embeddings", "embeddings.position_embeddings.weight"),
    ("embeddings/token_type_embeddings", "embeddings.token_type_embeddings.weight"),
    ("embeddings/LayerNorm/gamma", "embeddings.LayerNorm.weight"),
    ("embeddings/LayerNorm/beta", "embeddings.LayerNorm.bias"),
)
GOOGLE_HEAD_NAMES = (
    ("discriminator_predictions/dense/kernel", "discriminator_predictions.dense.weight"),
    ("discriminator_predictions/dense/bias", "discriminator_predictions.dense.bias"),
    ("discriminator_predictions/dense_1/kernel",
     "discriminator_predictions.dense_prediction.weight"),
    ("discriminator_predictions/dense_1/bias", "discriminator_predictions.dense_prediction.bias"),
    ("generator_predictions/dense/kernel", "generator_predictions.dense.weight"),
    ("generator_predictions/dense/bias", "generator_predictions.dense.bias"),
    ("generator_predictions/LayerNorm/gamma", "generator_predictions.LayerNorm.weight"),
    ("generator_predictions/LayerNorm/beta", "generator_predictions.LayerNorm.bias"),
    ("generator_predictions/output_bias", "generator_lm_head.bias"),
)
# Optimizer slots and bookkeeping in G checkpoints (skipped).
GOOGLE_SKIPPED_SUFFIXES = ("/adam_m", "/adam_v")
GOOGLE_SKIPPED_NAMES = ("global_step", "temperature")
GOOGLE_QA_SCOPE = "task_specific/"
# G's SQuAD head (task_specific/squad/, section 6.3) -> ElectraQuestionAnswerer attributes.
GOOGLE_SQUAD_HEAD_LAYERS = (
    ("squad/dense", "qa_start"),                  # start logits, Dense(1)
    ("squad/qa_hidden", "qa_hidden"),             # joint end: Dense(512, gelu)
    ("squad/dense_1", "qa_end"),                  # end logits, Dense(1)
    ("squad/dense_2", "qa_answerable_hidden"),    # answerability: Dense(512, gelu)
    ("squad/dense_3", "qa_answerable"),           # answerable logit, Dense(1)
)


def backbone_weight_table(num_layers, has_projection):
    """Expanded `(hf_name, keras_path, transform)` rows for one backbone."""
    rows = list(EMBEDDING_WEIGHTS)
    if has_projection:
        rows += PROJECT_WEIGHTS
    for i in range(num_layers):
        rows += [(h.format(i=i), k.format(i=i), t) for h, k, t in LAYER_WEIGHTS]
    return rows


def hf_to_keras(array, transform, keras_shape):
    """One HF tensor -> the value of a Keras variable of `keras_shape`."""
    array = np.asarray(array)
    if transform in ("copy", "bias"):
        return array.reshape(keras_shape)
    if transform in ("kernel", "kernel_split_out", "kernel_split_in"):
        return np.transpose(array).reshape(keras_shape)
    raise ValueError(f"unknown weight transform {transform!r}")


def keras_to_hf(value, transform):
    """Inverse of `hf_to_keras` (exact: only transposes and reshapes)."""
    value = np.asarray(value)
    if transform == "copy":
        return np.ascontiguousarray(value)
    if transform == "bias":
        return np.ascontiguousarray(value.reshape(-1))
    if transform == "kernel":
        return np.ascontiguousarray(value.T)
    if transform == "kernel_split_out":
        return np.ascontiguousarray(value.reshape(value.shape[0], -1).T)
    if transform == "kernel_split_in":
        return np.ascontiguousarray(value.reshape(-1, value.shape[-1]).T)
    raise ValueError(f"unknown weight transform {transform!r}")


def hf_shape_of(keras_shape, transform):
    """The HF tensor shape that maps onto a Keras variable of `keras_shape`."""
    keras_shape = tuple(keras_shape)
    if transform == "copy":
        return keras_shape
    if transform == "bias":
        return (int(np.prod(keras_shape)),)
    if transform == "kernel":
        return keras_shape[::-1]
    if transform == "kernel_split_out":
        return (int(np.prod(keras_shape[1:])), keras_shape[0])
    if transform == "kernel_split_in":
        return (keras_shape[-1], int(np.prod(keras_shape[:-1])))
    raise ValueError(f"unknown weight transform {transform!r}")
