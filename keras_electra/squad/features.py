"""SQuAD features: sliding windows over WordPiece tokens with character offsets.

The featurization runs inside `ElectraQuestionAnswererPreprocessor.featurize`
and lives beside it, in `keras_electra.models.electra_question_answerer_features`
(G's windowing, labels and max-context rule are described there); this is the
SQuAD package's name for it.

Example:
```python
from keras_electra import ElectraTokenizer
from keras_electra.squad.features import convert_examples_to_features
from keras_electra.squad.reader import SquadExample

vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "rhine", "flows",
         "into", "north", "sea", "where", "does", "it", "flow", "?", "."]
tokenizer = ElectraTokenizer(vocab)
example = SquadExample("q1", "Where does it flow?", "The Rhine flows into the North Sea.",
                       [("the North Sea", 21)])
features = convert_examples_to_features([example], tokenizer, max_seq_length=24,
                                        progress=False)
features.start_positions, features.end_positions  # [11], [13]
```
"""

from keras_electra.models.electra_question_answerer_features import (
    SquadFeatures,
    answer_token_span,
    convert_examples_to_features,
    is_max_context,
    window_starts,
)

__all__ = ["SquadFeatures", "answer_token_span", "convert_examples_to_features",
           "is_max_context", "window_starts"]
