"""ElectraTextClassifierPreprocessor: one sentence or a sentence pair -> model inputs."""

import keras
from keras_hub.models import TextClassifierPreprocessor

# private import, keras-hub 0.32: the decorator its own preprocessors' TF path uses
from keras_hub.src.utils.tensor_utils import preprocessing_function

from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_tokenizer import ElectraTokenizer

INPUT_KEYS = ("token_ids", "segment_ids", "padding_mask")


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraTextClassifierPreprocessor(TextClassifierPreprocessor):
    """Packs `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]` for `ElectraTextClassifier`.

    keras-hub's `TextClassifierPreprocessor` with our `ElectraTokenizer` (BERT-uncased
    WordPiece): `x` is a string, a batch of strings, or, for sentence pairs (GLUE's MNLI,
    MRPC, ...), `{"text_a": first, "text_b": second}`, or the tuple `(first, second)` given
    with labels (`preprocessor((first, second), y)`; keras-hub reads a lone 2-tuple as
    `(x, y)`). Inside `tf.data` or a `tf.function` the tokenization and packing are
    TensorFlow ops (the `keras_hub.src.utils.tensor_utils.preprocessing_function` path of
    keras-hub's own `BertTextClassifierPreprocessor`), so no JAX code runs inside
    `tf.data`; called eagerly, on either backend, keras-hub's Python path gives the same
    ids. A pair is truncated round-robin (the longer segment loses tokens, close to G's
    `_truncate_seq_pair`). Inputs that are already featurized (`{"token_ids",
    "segment_ids", "padding_mask"}`) pass through unchanged.

    Args:
        tokenizer: an `ElectraTokenizer`.
        sequence_length: int. Padded length (G's GLUE `max_seq_length` 128).
        truncate: "round_robin" (default) or "waterfall".

    Example:
    ```python
    from keras_electra import ElectraTextClassifierPreprocessor, ElectraTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "."]
    preprocessor = ElectraTextClassifierPreprocessor(ElectraTokenizer(vocab),
                                                     sequence_length=10)
    x = preprocessor({"text_a": ["The cat."], "text_b": ["The cat sat."]})
    x["token_ids"]    # [[2, 5, 6, 8, 3, 5, 6, 7, 8, 3]]
    x["segment_ids"]  # [[0, 0, 0, 0, 0, 1, 1, 1, 1, 1]]
    ```
    """

    backbone_cls = ElectraBackbone
    tokenizer_cls = ElectraTokenizer

    def __init__(self, tokenizer, sequence_length=128, truncate="round_robin", **kwargs):
        super().__init__(tokenizer, sequence_length=sequence_length, truncate=truncate,
                         **kwargs)

    def call(self, x, y=None, sample_weight=None):
        if isinstance(x, dict) and all(k in x for k in INPUT_KEYS):
            return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
        if isinstance(x, dict):  # {"text_a": ..., "text_b": ...}: sentence pairs
            x = (x["text_a"], x["text_b"]) if x.get("text_b") is not None else x["text_a"]
        return super().call(x, y, sample_weight)

    @preprocessing_function
    def _call_tf(self, x, y=None, sample_weight=None):
        import tensorflow as tf

        x = x if isinstance(x, tuple) else (x,)
        x = tuple(self.tokenizer(segment) for segment in x)
        token_ids, segment_ids = self.packer(x)
        x = {"token_ids": token_ids, "segment_ids": segment_ids,
             # int32 like every model input (keras-hub's TF path gives a bool mask)
             "padding_mask": tf.cast(token_ids != self.tokenizer.pad_token_id, tf.int32)}
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    def _call_python(self, x, y=None, sample_weight=None):
        out = super()._call_python(x, y, sample_weight)
        inputs, rest = (out[0], out[1:]) if isinstance(out, tuple) else (out, ())
        inputs = dict(inputs)
        inputs["padding_mask"] = _as_int(inputs["padding_mask"])
        return (inputs, *rest) if rest else inputs


def _as_int(mask):
    if isinstance(mask, (list, tuple)):
        return [_as_int(m) for m in mask]
    if isinstance(mask, bool):
        return int(mask)
    return keras.ops.cast(mask, "int32")
