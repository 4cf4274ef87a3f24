"""Answering questions with a fine-tuned `ElectraQuestionAnswerer`: one, or many in batches.

What `keras-electra answer` runs: featurize (G's windows), predict, post-process (n-best, max
context, the head's null decision). `answers_from_predictions` turns a post-processing result
into the per-question dicts `answer --json` prints; the SavedModel helper
(`keras_electra.serving.answers`) uses it too.

Example:
```python
from keras_electra.squad.answering import answer_question, answer_questions

answer_question(qa, "Where does the Rhine flow?", "The Rhine flows into the North Sea.")
# {"answer": "the North Sea", "best_span": "the North Sea", "score": ..., "null_odds": ..., ...}
answer_questions(qa, [("Where does it flow?", "It flows into the sea.")] * 100,
                 batch_size=32)  # a list of the same dicts, in order
```
"""

import numpy as np


def predict_features(task, features, batch_size=32, verbose="auto"):
    """Runs the model over `SquadFeatures`; returns a dict of numpy arrays."""
    outputs = task.predict(features.inputs(), batch_size=batch_size, verbose=verbose)
    return {k: np.asarray(v) for k, v in outputs.items()}


def answers_from_predictions(result, examples):
    """`[{"answer", "best_span", "score", "null_odds", "null_threshold", "char_start",
    "char_end"}]`, one per example, from `postprocess_predictions`' result. `answer` is ""
    when the null decision says "no answer"; `best_span` is the best non-empty span ("empty",
    G's placeholder, with `char_start` -1, where no span is valid); `char_start`/`char_end`
    locate it in the context."""
    answers = []
    for example in examples:
        nbest = result.nbest[example.qas_id]
        best = nbest[0] if nbest else {"text": "", "score": float("nan"), "char_start": -1,
                                       "char_end": -1}
        answers.append({"answer": result.predictions[example.qas_id],
                        "best_span": best["text"], "score": best["score"],
                        "null_odds": result.null_odds[example.qas_id],
                        "null_threshold": result.threshold, "char_start": best["char_start"],
                        "char_end": best["char_end"]})
    return answers


def answer_questions(task, pairs, batch_size=32, null_threshold=None, progress=False,
                     whole_words=False):
    """Answer `(question, context)` pairs in batches; one dict per pair, in order.

    Args:
        task: an `ElectraQuestionAnswerer` with its preprocessor.
        pairs: iterable of `(question, context)` strings.
        batch_size: windows per model call.
        null_threshold: default: the head's (`squad.postprocess.NULL_THRESHOLDS`).
        progress: show progress bars (featurizing, predicting).
        whole_words: answer texts widened to the whole words they touch (exact context
            characters; not G's text, which can start or end inside a word).

    Raises:
        ValueError: a question or context is empty (the message names the pair's index).
    """
    from keras_electra.squad.postprocess import postprocess_predictions
    from keras_electra.squad.reader import SquadExample

    examples = []
    for index, (question, context) in enumerate(pairs):
        if not str(question).strip() or not str(context).strip():
            raise ValueError(f"question {index}: both the question and the context must be "
                             "non-empty")
        examples.append(SquadExample(str(index), str(question), str(context), [], False))
    if not examples:
        return []
    features = task.preprocessor.featurize(examples, is_training=False, progress=progress)
    outputs = predict_features(task, features, batch_size=batch_size,
                               verbose="auto" if progress else 0)
    result = postprocess_predictions(features, outputs, head=task.head,
                                     null_threshold=null_threshold,
                                     tokenizer=task.preprocessor.tokenizer,
                                     whole_words=whole_words)
    return answers_from_predictions(result, examples)


def answer_question(task, question, context, null_threshold=None, whole_words=False):
    """Answer one question: `{"answer", "best_span", "score", "null_odds", "null_threshold",
    "char_start", "char_end"}`; `answer` is "" when the null decision says "no answer".
    Texts are G's (`keras_electra.squad.final_text`); `whole_words=True` widens them to whole
    words."""
    if not question.strip() or not context.strip():
        raise ValueError("both --question and --context must be non-empty")
    return answer_questions(task, [(question, context)], batch_size=16,
                            null_threshold=null_threshold, whole_words=whole_words)[0]
