"""Head weights that travel beside a backbone preset: `electra_heads.npz`.

A backbone preset (config.json + model.weights.h5) has no place for the heads a
model was trained with: the discriminator's RTD head, the generator's MLM head, an
HF `qa_outputs`. `ElectraPretrainer.export_discriminator` / `export_generator` and
`keras-electra convert` store them here, keys `"<kind>/<weight>"` in the layout of
`HEAD_ATTRIBUTES` (Keras `[in, out]` kernels), so `keras-electra export --to hf`
writes the HF class that carries them (`keras_electra.convert.weight_maps.HF_HEAD_EXPORTS`).
Read with `allow_pickle=False`: a preset never runs code.

Example:
```python
from keras_electra.models.electra_preset_heads import load_preset_heads

load_preset_heads("ckpt/presets/run-step100-discriminator")  # {"discriminator": {...}}
```
"""

import os

import numpy as np

HEADS_FILE = "electra_heads.npz"

# Attribute paths of the head layers the task classes build, per head kind.
HEAD_ATTRIBUTES = {
    "discriminator": {  # models.electra_pretrainer.ElectraDiscriminatorHead
        "dense/kernel": "dense.kernel", "dense/bias": "dense.bias",
        "dense_prediction/kernel": "dense_prediction.kernel",
        "dense_prediction/bias": "dense_prediction.bias",
    },
    # private names of keras-hub 0.32 `MaskedLMHead` (tests/models/test_models_keras_patches.py)
    "generator": {  # keras_hub.layers.MaskedLMHead
        "intermediate_dense/kernel": "_intermediate_dense.kernel",
        "intermediate_dense/bias": "_intermediate_dense.bias",
        "intermediate_layer_norm/gamma": "_intermediate_layer_norm.gamma",
        "intermediate_layer_norm/beta": "_intermediate_layer_norm.beta",
        "output_bias": "_bias",
    },
    "qa": {"kernel": "kernel", "bias": "bias"},  # keras.layers.Dense(2)
}


def save_preset_heads(preset_dir, heads):
    """Write `heads` ({kind: {weight: array}}) to `<preset_dir>/electra_heads.npz`."""
    flat = {f"{kind}/{key}": np.asarray(value)
            for kind, weights in heads.items() for key, value in weights.items()}
    if flat:
        os.makedirs(preset_dir, exist_ok=True)
        np.savez(os.path.join(preset_dir, HEADS_FILE), **flat)


def load_preset_heads(preset_dir):
    """Read `electra_heads.npz` of a preset dir: {kind: {weight: array}} ({} if absent)."""
    path = os.path.join(str(preset_dir), HEADS_FILE)
    if not os.path.isfile(path):
        return {}
    heads = {}
    with np.load(path, allow_pickle=False) as data:
        for name in data.files:
            kind, key = name.split("/", 1)
            heads.setdefault(kind, {})[key] = data[name]
    return heads


def _resolve_attr(layer, dotted):
    obj = layer
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def assign_head_weights(layer, kind, weights):
    """Copy a head dict (`{weight: array}` of `HEAD_ATTRIBUTES[kind]`) into a built head layer.

    `kind`: "discriminator" (layer with `dense`, `dense_prediction`), "generator"
    (keras_hub `MaskedLMHead`), or "qa" (`keras.layers.Dense(2)`).
    """
    for key, attr in HEAD_ATTRIBUTES[kind].items():
        variable = _resolve_attr(layer, attr)
        value = np.asarray(weights[key])
        if tuple(variable.shape) != value.shape:
            raise ValueError(
                f"{kind} head weight {key!r}: shape {value.shape} does not match the layer's "
                f"{tuple(variable.shape)}."
            )
        variable.assign(value)


def get_head_weights(layer, kind):
    """Read a head layer's weights into the dict format of `assign_head_weights`."""
    import keras  # here, not at import time: `import keras_electra` loads no TensorFlow
    return {key: np.asarray(keras.ops.convert_to_numpy(_resolve_attr(layer, attr).value))
            for key, attr in HEAD_ATTRIBUTES[kind].items()}
