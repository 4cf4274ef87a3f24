"""Answers from the serving signature's outputs, with `keras-electra answer`'s logic.

Example:
```python
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the ops the graph uses)

from keras_electra.serving import answers_from_outputs

served = tf.saved_model.load("served/qa").signatures["serving_default"]
questions = ["Where does the Rhine flow?"]
contexts = ["The Rhine flows into the North Sea."]
outputs = served(question=tf.constant(questions), context=tf.constant(contexts))
answers_from_outputs(outputs, questions, contexts)
# [{"answer": "the North Sea", "best_span": ..., "score": ..., "null_odds": ..., ...}]
```
"""

import numpy as np

WINDOW_KEYS = ("token_ids", "segment_ids", "padding_mask", "token_char_start",
               "token_char_end", "token_is_max_context", "example_index", "window_index")


def features_from_outputs(outputs, questions, contexts):
    """The `SquadFeatures` (and the model outputs) behind a serving call's outputs."""
    from keras_electra.models.electra_question_answerer_features import SquadFeatures
    from keras_electra.squad.reader import SquadExample

    arrays = {k: np.asarray(v) for k, v in outputs.items()}
    examples = [SquadExample(str(i), question, context, [], False)
                for i, (question, context) in enumerate(zip(questions, contexts))]
    count = len(arrays["example_index"])
    zeros = np.zeros(count, np.int32)
    features = SquadFeatures(
        examples=examples,
        token_ids=arrays["token_ids"], segment_ids=arrays["segment_ids"],
        padding_mask=arrays["padding_mask"], start_positions=zeros, end_positions=zeros,
        is_impossible=zeros, example_index=arrays["example_index"],
        window_index=arrays["window_index"], token_char_start=arrays["token_char_start"],
        token_char_end=arrays["token_char_end"],
        token_is_max_context=arrays["token_is_max_context"].astype(bool))
    model_outputs = {k: v for k, v in arrays.items() if k not in WINDOW_KEYS
                     and k not in ("null_threshold", "head", "tokens", "lowercase")}
    return features, model_outputs


def answers_from_outputs(outputs, questions, contexts, null_threshold=None, whole_words=False,
                         vocabulary=None):
    """One dict per question, as `keras-electra answer --json` prints it (G's answer texts).

    Args:
        outputs: the serving signature's outputs (tensors or numpy arrays).
        questions, contexts: the strings that were served, in the same order.
        null_threshold: default: the one stored in the SavedModel.
        whole_words: widen the answers to whole words (as `answer --whole_words`).
        vocabulary: the WordPiece list, only for outputs without `tokens` (SavedModels
            exported before they carried them).
    """
    from keras_electra.squad.answering import answers_from_predictions
    from keras_electra.squad.postprocess import postprocess_predictions

    head = outputs["head"]
    head = head.numpy() if hasattr(head, "numpy") else head
    head = head.decode() if isinstance(head, bytes) else str(head)
    if null_threshold is None:
        null_threshold = float(np.asarray(outputs["null_threshold"]))
    features, model_outputs = features_from_outputs(outputs, questions, contexts)
    lowercase = bool(np.asarray(outputs["lowercase"])) if "lowercase" in outputs else None
    if "tokens" in outputs:  # id -> piece, from the pieces the graph looked up
        pieces = np.asarray(outputs["tokens"]).reshape(-1)
        vocabulary = {}
        for token_id, piece in zip(features.token_ids.reshape(-1).tolist(), pieces.tolist()):
            if token_id not in vocabulary:
                vocabulary[token_id] = piece.decode() if isinstance(piece, bytes) else str(piece)
    elif vocabulary is None and not whole_words:
        raise ValueError("these serving outputs carry no `tokens` (a SavedModel exported by an "
                         "older keras-electra): pass vocabulary= (the model's vocab.txt as a "
                         "list), or export the model again")
    result = postprocess_predictions(features, model_outputs, head=head,
                                     null_threshold=null_threshold, tokenizer=vocabulary,
                                     whole_words=whole_words, do_lower_case=lowercase)
    return answers_from_predictions(result, features.examples)
