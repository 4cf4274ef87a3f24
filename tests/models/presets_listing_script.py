"""`.presets` and `from_preset(name)` of the three model classes, on the current backend.

Imported by tests/models/test_presets_listing.py (TensorFlow, every preset built) and run as
a script under KERAS_BACKEND=jax (the presets named on the command line built); prints one
JSON line.
"""

import json


def check(names=None):
    """`names`: the presets to build with each class (default: every listed one)."""
    import keras
    import numpy as np

    from keras_electra import ElectraBackbone, ElectraPretrainer, ElectraQuestionAnswerer

    listed = {cls.__name__: {name: entry["metadata"] for name, entry in cls.presets.items()}
              for cls in (ElectraBackbone, ElectraPretrainer, ElectraQuestionAnswerer)}
    built = {}
    small = dict(vocabulary_size=64, num_layers=1, max_sequence_length=32)
    for name in names or listed["ElectraBackbone"]:
        backbone = ElectraBackbone.from_preset(name, **small)
        pretrainer = ElectraPretrainer.from_preset(name, xla=False, **small)
        qa = ElectraQuestionAnswerer.from_preset(name, head="simple", **small)
        built[name] = [backbone.hidden_dim, pretrainer.backbone.hidden_dim,
                       qa.backbone.hidden_dim, pretrainer.generator.hidden_dim]
    x = {"token_ids": np.array([[2, 7, 3, 9, 10, 3, 0, 0]], "int32"),
         "segment_ids": np.array([[0, 0, 0, 1, 1, 1, 0, 0]], "int32"),
         "padding_mask": np.array([[1, 1, 1, 1, 1, 1, 0, 0]], "int32")}
    qa = ElectraQuestionAnswerer.from_preset("electra_tiny", head="simple", **small)
    out = qa.predict(x, verbose=0)
    return {"backend": keras.backend.backend(), "listed": listed, "built": built,
            "start_logits_shape": list(np.asarray(out["start_logits"]).shape)}


if __name__ == "__main__":
    import sys

    print("RESULT " + json.dumps(check(sys.argv[1:] or None)))
