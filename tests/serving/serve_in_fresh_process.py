"""Load a keras-electra SavedModel the way TF Serving users do: TensorFlow and
tensorflow-text only, no keras_electra. argv: SAVED_MODEL_DIR QUESTIONS_JSON OUT_NPZ."""

import json
import sys

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

saved_model_dir, pairs_path, out_path = sys.argv[1:4]
with open(pairs_path, encoding="utf-8") as f:
    pairs = json.load(f)
serve = tf.saved_model.load(saved_model_dir).signatures["serving_default"]
outputs = serve(question=tf.constant([p[0] for p in pairs]),
                context=tf.constant([p[1] for p in pairs]))
assert not [m for m in sys.modules if m.startswith("keras_electra")], "keras_electra imported"
# string outputs (the WordPieces) as fixed-width bytes: np.load reads them without pickle
np.savez(out_path, **{k: np.asarray(v.numpy()).astype(bytes) if v.dtype == tf.string else v.numpy()
                      for k, v in outputs.items()})
print("served", len(pairs), "questions ->", outputs["example_index"].shape[0], "windows")
