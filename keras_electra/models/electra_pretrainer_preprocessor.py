"""Raw text -> pretraining inputs for `ElectraPretrainer`."""

import keras
from keras_hub.models import TextClassifierPreprocessor

from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_tokenizer import ElectraTokenizer


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraPretrainerPreprocessor(TextClassifierPreprocessor):
    """Tokenize and pack text into `[CLS] A [SEP] (B [SEP])` model inputs.

    Masking is NOT done here: ELECTRA masks dynamically on device, fresh each
    step (G `pretrain_helpers.mask`), inside `ElectraPretrainer`. This layer
    only produces `{"token_ids", "segment_ids", "padding_mask"}`, so
    `pretrainer.fit(["some text", ...])` works in a notebook. For large
    corpora use `keras-electra prepare` shards and
    `keras_electra.data.pretraining_dataset`.

    Args:
        tokenizer: an `ElectraTokenizer`.
        sequence_length: int. Packed length (128 for ELECTRA-Small pretraining).
        truncate: `"round_robin"` or `"waterfall"` for sentence pairs.

    Example:
    ```python
    from keras_electra import ElectraTokenizer, ElectraPretrainerPreprocessor

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "fox", "ran"]
    preprocessor = ElectraPretrainerPreprocessor(ElectraTokenizer(vocab), sequence_length=8)
    preprocessor(["the fox ran"])["token_ids"]   # [[2, 5, 6, 7, 3, 0, 0, 0]]
    ```
    """

    backbone_cls = ElectraBackbone
    tokenizer_cls = ElectraTokenizer

    def __init__(self, tokenizer, sequence_length=128, truncate="round_robin", **kwargs):
        super().__init__(tokenizer, sequence_length=sequence_length, truncate=truncate, **kwargs)
