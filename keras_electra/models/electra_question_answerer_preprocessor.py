"""ElectraQuestionAnswererPreprocessor: question + context -> model inputs."""

import keras
from keras_hub.layers import MultiSegmentPacker
from keras_hub.models import Preprocessor
from keras_hub.src.utils.tensor_utils import compute_padding_mask, preprocessing_function

from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_question_answerer_features import convert_examples_to_features
from keras_electra.models.electra_tokenizer import ElectraTokenizer

INPUT_KEYS = ("token_ids", "segment_ids", "padding_mask")


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraQuestionAnswererPreprocessor(Preprocessor):
    """Packs `[CLS] question [SEP] context [SEP]` for `ElectraQuestionAnswerer`.

    Two ways in:

    * `featurize(examples)`: the full SQuAD featurization
      (`keras_electra.models.electra_question_answerer_features`), with
      sliding windows over long contexts, character offsets and labels. The
      SQuAD driver and `keras-electra answer` use this.
    * `__call__(x, y=None, sample_weight=None)` with
      `x = {"question": ..., "context": ...}` (strings or batches): one window
      per pair (the question truncated to `max_query_length`, then the context
      to fit `sequence_length`), usable inside `tf.data` and by
      `task.predict`/`task.fit` on raw strings. Inputs that are already
      featurized (`{"token_ids", "segment_ids", "padding_mask"}`) pass through
      unchanged.

    Args:
        tokenizer: an `ElectraTokenizer`.
        sequence_length: int. Padded length (G 512, HF/A 384).
        max_query_length: int. Question tokens kept (64).
        doc_stride: int. Sliding-window stride used by `featurize` (128).

    Example:
    ```python
    from keras_electra import ElectraTokenizer
    from keras_electra import ElectraQuestionAnswererPreprocessor

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "who", "sat", "?",
             "the", "cat", "."]
    preprocessor = ElectraQuestionAnswererPreprocessor(
        ElectraTokenizer(vocab), sequence_length=12)
    x = preprocessor({"question": ["Who sat?"], "context": ["The cat sat."]})
    x["token_ids"]    # [[2, 5, 6, 7, 3, 8, 9, 6, 10, 3, 0, 0]]
    x["segment_ids"]  # [[0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0]]
    ```
    """

    backbone_cls = ElectraBackbone
    tokenizer_cls = ElectraTokenizer

    def __init__(self, tokenizer, sequence_length=384, max_query_length=64, doc_stride=128,
                 **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.max_query_length = max_query_length
        self.doc_stride = doc_stride
        self.packer = None

    def build(self, input_shape):
        self.packer = MultiSegmentPacker(
            start_value=self.tokenizer.cls_token_id,
            end_value=self.tokenizer.sep_token_id,
            pad_value=self.tokenizer.pad_token_id,
            truncate="waterfall",  # keep the (already truncated) question whole
            sequence_length=self.sequence_length,
        )
        self.built = True

    def _pack(self, x):
        if isinstance(x, dict):
            question, context = x["question"], x["context"]
        else:
            question, context = x
        question = self.tokenizer(question)
        question = _truncate(question, self.max_query_length)
        context = self.tokenizer(context)
        token_ids, segment_ids = self.packer((question, context))
        padding_mask = compute_padding_mask(token_ids, self.tokenizer.pad_token_id)
        return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}

    # keras-hub's split (`TextClassifierPreprocessor`): tf ops inside tf.data and tf.functions
    # (never the backend's: JAX cannot run in a tf.data graph), plain Python otherwise.
    @preprocessing_function
    def _call_tf(self, x, y=None, sample_weight=None):
        return keras.utils.pack_x_y_sample_weight(self._pack(x), y, sample_weight)

    def call(self, x, y=None, sample_weight=None):
        if isinstance(x, dict) and all(k in x for k in INPUT_KEYS):
            return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
        if self._use_tf_workflow():
            return self._call_tf(x, y, sample_weight)
        return keras.utils.pack_x_y_sample_weight(self._pack(x), y, sample_weight)

    def featurize(self, examples, is_training=False, progress=True):
        """SQuAD features (windows, offsets, labels) for `SquadExample`s."""
        return convert_examples_to_features(
            examples, self.tokenizer, max_seq_length=self.sequence_length,
            doc_stride=self.doc_stride, max_query_length=self.max_query_length,
            is_training=is_training, progress=progress)

    def get_config(self):
        config = super().get_config()
        config.update({
            "sequence_length": self.sequence_length,
            "max_query_length": self.max_query_length,
            "doc_stride": self.doc_stride,
        })
        return config


def _truncate(token_ids, length):
    """Keep the first `length` tokens of each row (Python lists or tf tensors)."""
    if isinstance(token_ids, (list, tuple)):
        if token_ids and isinstance(token_ids[0], (list, tuple)):
            return [list(row)[:length] for row in token_ids]
        return list(token_ids)[:length]
    if len(token_ids.shape) == 1:
        return token_ids[:length]
    return token_ids[:, :length]
