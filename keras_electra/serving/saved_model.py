"""A fine-tuned `ElectraQuestionAnswerer` as a TensorFlow SavedModel that takes raw strings.

`export_question_answerer(task, out_dir)` writes a SavedModel whose `serving_default`
signature takes a batch of questions and contexts (`tf.string [B]`) and runs everything up
to the logits inside the graph: BERT-uncased normalization with a character index,
tensorflow-text WordPiece, G's sliding windows, the model. It returns one row per window:

| output | shape | meaning |
|---|---|---|
| the model's outputs | `[W, ...]` | `start_logits`, `end_logits` (simple head) or the beam and `answerable_logit` (electra head) |
| `example_index` | `[W]` int32 | which input pair the window belongs to |
| `window_index` | `[W]` int32 | the window's number within its pair |
| `token_ids`, `segment_ids`, `padding_mask` | `[W, S]` int32 | the model inputs |
| `token_char_start`, `token_char_end` | `[W, S]` int32 | `[start, end)` of each context token in the context (characters); -1 elsewhere |
| `token_is_max_context` | `[W, S]` bool | G's max-context rule |
| `tokens` | `[W, S]` string | the WordPiece of each token id (G's answer texts join them) |
| `lowercase` | scalar bool | the tokenizer's lower-casing (`get_final_text`'s `do_lower_case`) |
| `null_threshold`, `head` | scalar | the defaults of `keras-electra answer` for this model |

That is everything `keras_electra.squad.postprocess` needs; `answers_from_outputs` (in
`keras_electra.serving.answers`) turns it into answers with the same n-best and null
decision as `keras-electra answer`. The graph needs tensorflow-text's ops: load it with
`import tensorflow_text` first (TF Serving builds include them).

Numerics: the windows, offsets and max-context flags equal
`ElectraQuestionAnswererPreprocessor.featurize` exactly and the logits equal the Keras model's
(tested to 1e-5 on real SQuAD questions, `tests/serving/test_saved_model.py`).

Example:
```python
from keras_electra.serving import export_question_answerer

export_question_answerer(qa, "served/qa")   # qa: a fine-tuned ElectraQuestionAnswerer
# saved_model_cli show --dir served/qa --tag_set serve --signature_def serving_default
```
"""

import os

import numpy as np


def _normalize_with_index(tf, tf_text, texts, lowercase, strip_accents):
    """BERT normalization in the graph, as `ElectraTokenizer.tokenize_with_offsets` does it
    in Python (G's `_clean_text` per character: control / format characters deleted, Unicode
    spaces to " "; str.lower on the whole text when it keeps the length, else per character;
    NFD and drop `Mn` per character). Returns the normalized texts and, per text, the
    cumulative UTF-8 byte end of each source character's normalized piece."""
    from keras_electra.models.electra_tokenizer import G_DELETED_RE2, G_SPACE_RE2

    chars = tf.strings.unicode_split(texts, "UTF-8")
    pieces = chars.flat_values
    if lowercase:
        per_char = tf.strings.lower(chars.flat_values, encoding="utf-8")
        lowered = tf.strings.lower(texts, encoding="utf-8")
        same = tf.equal(tf.strings.length(lowered, unit="UTF8_CHAR"),
                        tf.strings.length(texts, unit="UTF8_CHAR"))
        # rows whose length changes keep their source text here (and use per_char below)
        whole = tf.strings.unicode_split(tf.where(same, lowered, texts), "UTF-8").flat_values
        pieces = tf.where(tf.repeat(same, chars.row_lengths()), whole, per_char)
    if strip_accents:
        pieces = tf.strings.regex_replace(tf_text.normalize_utf8(pieces, "NFD"), r"\p{Mn}", "")
    pieces = tf.strings.regex_replace(tf.strings.regex_replace(pieces, G_DELETED_RE2, ""),
                                      G_SPACE_RE2, " ")
    pieces = tf.RaggedTensor.from_row_splits(pieces, chars.row_splits)
    normalized = tf.strings.reduce_join(pieces, axis=1)
    byte_ends = tf.math.cumsum(tf.cast(tf.strings.length(pieces), tf.int64), axis=1)
    return normalized, byte_ends


def _tokenize(tf, tf_text, fast_bert, texts, lowercase, strip_accents):
    """Ragged `(ids, char_start, char_end)` `[B, None]` into the source texts."""
    normalized, byte_ends = _normalize_with_index(tf, tf_text, texts, lowercase, strip_accents)
    ids, starts, ends = fast_bert.tokenize_with_offsets(normalized)
    if ids.shape.rank == 3:  # [batch, words, pieces] -> [batch, pieces]
        ids, starts, ends = (t.merge_dims(-2, -1) for t in (ids, starts, ends))
    big = tf.constant(np.iinfo(np.int64).max, tf.int64)
    ends_dense = byte_ends.to_tensor(default_value=big)
    starts_dense = tf.cast(starts, tf.int64).to_tensor(default_value=0)
    last_dense = tf.maximum(tf.cast(ends, tf.int64) - 1, 0).to_tensor(default_value=0)
    # a byte belongs to the first character whose piece ends after it (empty pieces skipped)
    char_start = tf.searchsorted(ends_dense, starts_dense, side="right")
    char_end = tf.searchsorted(ends_dense, last_dense, side="right") + 1
    lengths = ids.row_lengths()
    return (ids,
            tf.RaggedTensor.from_tensor(tf.cast(char_start, tf.int32), lengths=lengths),
            tf.RaggedTensor.from_tensor(tf.cast(char_end, tf.int32), lengths=lengths))


def _windows(tf, question_ids, doc_ids, doc_start, doc_end, sequence_length, max_query_length,
             doc_stride, cls_id, sep_id, pad_id):
    """G's sliding windows for a batch (`models.electra_question_answerer_features`)."""
    query = question_ids[:, :max_query_length]
    query_len = query.row_lengths()
    doc_len = doc_ids.row_lengths()
    max_doc = tf.cast(sequence_length, tf.int64) - query_len - 3
    step = tf.minimum(max_doc, doc_stride)
    # windows start at 0, step, 2 step, ... until one reaches the end; at least one window
    extra = tf.maximum(doc_len - max_doc, 0)
    num_windows = 1 + (extra + step - 1) // step
    example_index = tf.repeat(tf.range(tf.size(doc_len, out_type=tf.int64)), num_windows)
    window_index = tf.ragged.range(num_windows).flat_values
    start = window_index * tf.gather(step, example_index)
    length = tf.minimum(tf.gather(max_doc, example_index),
                        tf.gather(doc_len, example_index) - start)
    length = tf.maximum(length, 0)  # an empty context: one empty window
    # context tokens of each window, gathered from the flat doc values
    offsets = tf.gather(doc_ids.row_starts(), example_index) + start
    flat_index = tf.ragged.range(offsets, offsets + length)
    window_ids = tf.gather(doc_ids.flat_values, flat_index)
    window_start = tf.gather(doc_start.flat_values, flat_index)
    window_end = tf.gather(doc_end.flat_values, flat_index)
    window_query = tf.gather(query, example_index)
    count = tf.size(example_index, out_type=tf.int64)
    one = tf.RaggedTensor.from_row_lengths(tf.ones([count], tf.int32), tf.ones([count], tf.int64))
    cls, sep = one * cls_id, one * sep_id
    token_ids = tf.concat([cls, window_query, sep, window_ids, sep], axis=1)
    shape = [None, sequence_length]
    none = tf.ones_like(window_query) * -1
    minus = one * -1
    char_start = tf.concat([minus, none, minus, window_start, minus], axis=1)
    char_end = tf.concat([minus, none, minus, window_end, minus], axis=1)
    prefix = tf.gather(query_len, example_index) + 2  # [CLS] query [SEP]
    positions = tf.range(sequence_length, dtype=tf.int64)[None, :]
    used = prefix + length + 1
    segment_ids = tf.cast((positions >= prefix[:, None]) & (positions < used[:, None]), tf.int32)
    padding_mask = tf.cast(positions < used[:, None], tf.int32)
    # G's max context: a token's best window maximises min(left, right) + 0.01 * length,
    # the earliest window on ties
    doc_pos = positions - prefix[:, None] + start[:, None]  # [W, S] position in the context
    in_window = (positions >= prefix[:, None]) & (positions < (prefix + length)[:, None])

    def score(s, n, pos):  # float64, as Python's `min(...) + 0.01 * length`
        s, n, pos = (tf.cast(x, tf.float64) for x in (s, n, pos))
        return tf.minimum(pos - s, s + n - 1 - pos) + 0.01 * n

    # every window against every other window of the same example: [W, S, W']
    pos = doc_pos[:, :, None]
    other_start, other_len = start[None, None, :], length[None, None, :]
    same_example = tf.equal(example_index[:, None], example_index[None, :])[:, None, :]
    contains = same_example & (pos >= other_start) & (pos < other_start + other_len)
    scores = tf.where(contains, score(other_start, other_len, pos),
                      tf.constant(-np.inf, tf.float64))
    best = tf.reduce_max(scores, axis=2, keepdims=True)
    w_ids = tf.range(count)[None, None, :]
    first_best = tf.reduce_min(tf.where(contains & tf.equal(scores, best), w_ids, count), axis=2)
    is_max = in_window & tf.equal(first_best, tf.range(count)[:, None])
    return {
        "token_ids": token_ids.to_tensor(default_value=pad_id, shape=shape),
        "segment_ids": segment_ids,
        "padding_mask": padding_mask,
        "token_char_start": char_start.to_tensor(default_value=-1, shape=shape),
        "token_char_end": char_end.to_tensor(default_value=-1, shape=shape),
        "token_is_max_context": is_max,
        "example_index": tf.cast(example_index, tf.int32),
        "window_index": tf.cast(window_index, tf.int32),
    }


def build_serving_module(task, null_threshold=None):
    """A `tf.Module` whose `serve(question, context)` is the SavedModel's signature."""
    import keras
    import tensorflow as tf
    import tensorflow_text as tf_text

    from keras_electra.squad.postprocess import resolve_null_threshold

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("export to a SavedModel needs KERAS_BACKEND=tensorflow (the "
                           f"backend is {keras.backend.backend()!r})")
    preprocessor = task.preprocessor
    if preprocessor is None:
        raise ValueError("the task has no preprocessor (tokenizer, sequence length): build it "
                         "with one, as `keras-electra squad` saves it")
    tokenizer = preprocessor.tokenizer
    vocabulary = list(tokenizer.get_vocabulary())
    settings = dict(sequence_length=int(preprocessor.sequence_length),
                    max_query_length=int(preprocessor.max_query_length),
                    doc_stride=int(preprocessor.doc_stride),
                    cls_id=tokenizer.cls_token_id, sep_id=tokenizer.sep_token_id,
                    pad_id=tokenizer.pad_token_id)
    threshold = resolve_null_threshold(task.head, null_threshold)

    class QuestionAnswererServing(tf.Module):
        def __init__(self):
            super().__init__(name="keras_electra_question_answerer")
            self.task = task
            self.fast_bert = tf_text.FastBertTokenizer(
                vocab=vocabulary, suffix_indicator=tokenizer.suffix_indicator,
                unknown_token=tokenizer.oov_token, token_out_type=tf.int32,
                lower_case_nfd_strip_accents=False)  # done by _normalize_with_index

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="question"),
                                      tf.TensorSpec([None], tf.string, name="context")])
        def serve(self, question, context):
            tokens = [_tokenize(tf, tf_text, self.fast_bert, texts, tokenizer.lowercase,
                                tokenizer.strip_accents) for texts in (question, context)]
            outputs = _windows(tf, tokens[0][0], *tokens[1], **settings)
            model_outputs = self.task({"token_ids": outputs["token_ids"],
                                       "segment_ids": outputs["segment_ids"],
                                       "padding_mask": outputs["padding_mask"]},
                                      training=False)
            outputs.update(model_outputs)
            outputs["tokens"] = tf.gather(tf.constant(vocabulary), outputs["token_ids"])
            outputs["lowercase"] = tf.constant(bool(tokenizer.lowercase))
            outputs["null_threshold"] = tf.constant(threshold, tf.float32)
            outputs["head"] = tf.constant(task.head)
            return outputs

    return QuestionAnswererServing()


def export_question_answerer(task, out_dir, null_threshold=None, source=None):
    """Write `task` (a fine-tuned `ElectraQuestionAnswerer` with its preprocessor) as a
    SavedModel with a raw-string `serving_default` signature (see the module docstring).

    The directory is written aside and swapped in whole, never onto `source` (the preset the
    task was loaded from, if any). Returns `out_dir`.
    """
    import tensorflow as tf

    from keras_electra.utils.output_dirs import staged_output_dir

    module = build_serving_module(task, null_threshold)
    with staged_output_dir(out_dir, sources=(source,), flag="OUT_DIR",
                           marker="saved_model.pb") as staging:
        tf.saved_model.save(module, staging, signatures={"serving_default": module.serve})
    return os.fspath(out_dir)
