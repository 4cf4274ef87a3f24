"""Serving a fine-tuned QA model: a raw-string TensorFlow SavedModel and its answers.

TensorFlow-only (the SavedModel runs tokenization in the graph with tensorflow-text).
"""

from keras_electra.serving.answers import answers_from_outputs, features_from_outputs
from keras_electra.serving.saved_model import build_serving_module, export_question_answerer

__all__ = ["answers_from_outputs", "build_serving_module", "export_question_answerer",
           "features_from_outputs"]
