"""A fine-tuned `ElectraTextClassifier` as a TensorFlow SavedModel that takes raw strings.

`export_text_classifier(classifier, out_dir)` writes two signatures; tokenization (the
classifier's own preprocessor: BERT-uncased WordPiece with tensorflow-text, `[CLS] a [SEP]
(b [SEP])` packing) runs inside the graph:

| signature | inputs | outputs |
|---|---|---|
| `serving_default` | `text` `tf.string [B]` | `logits [B, C]`, `probabilities` (softmax; the score itself for regression), `label_index [B]` |
| `serve_pairs` | `text_a`, `text_b` `tf.string [B]` | the same |

The label names are stored as `label_names` (a `tf.string [C]` constant in both outputs)
when the classifier has them. Load tensorflow-text first (`import tensorflow_text`).

Example:
```python
from keras_electra.serving.text_classifier import export_text_classifier

export_text_classifier(classifier, "served/classifier")
# saved_model_cli show --dir served/classifier --all
```
"""

import os


def build_text_classifier_serving_module(classifier):
    """A `tf.Module` with `serve(text)` and `serve_pairs(text_a, text_b)`."""
    import keras
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("export to a SavedModel needs KERAS_BACKEND=tensorflow (the backend "
                           f"is {keras.backend.backend()!r})")
    preprocessor = classifier.preprocessor
    if preprocessor is None:
        raise ValueError("the classifier has no preprocessor (tokenizer, sequence length): "
                         "build it with one, as `keras-electra glue` saves it")
    names = classifier.label_names or [str(i) for i in range(classifier.num_classes)]

    def outputs(inputs):
        logits = tf.cast(classifier(inputs, training=False), tf.float32)
        probabilities = logits if classifier.num_classes == 1 else tf.nn.softmax(logits, -1)
        return {"logits": logits, "probabilities": probabilities,
                "label_index": tf.cast(tf.argmax(logits, axis=-1), tf.int32)
                if classifier.num_classes > 1 else tf.zeros_like(logits[:, 0], tf.int32),
                "label_names": tf.constant(names)}

    class TextClassifierServing(tf.Module):
        def __init__(self):
            super().__init__(name="keras_electra_text_classifier")
            self.classifier = classifier

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            return outputs(preprocessor(text))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text_a"),
                                      tf.TensorSpec([None], tf.string, name="text_b")])
        def serve_pairs(self, text_a, text_b):
            return outputs(preprocessor({"text_a": text_a, "text_b": text_b}))

    return TextClassifierServing()


def export_text_classifier(classifier, out_dir, source=None):
    """Write `classifier` as a SavedModel (see the module docstring), aside and swapped in
    whole, never onto `source`. Returns `out_dir`."""
    import tensorflow as tf

    from keras_electra.utils.output_dirs import staged_output_dir

    module = build_text_classifier_serving_module(classifier)
    with staged_output_dir(out_dir, sources=(source,), flag="OUT_DIR",
                           marker="saved_model.pb") as staging:
        tf.saved_model.save(module, staging, signatures={"serving_default": module.serve,
                                                         "serve_pairs": module.serve_pairs})
    return os.fspath(out_dir)
