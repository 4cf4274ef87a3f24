"""keras-hub `ElectraBackbone` presets (Kaggle names or local dirs) -> our ElectraBackbone.

keras-hub's backbone has the same layer names as ours except `embeddings_projection`
(ours: `embeddings_project`) and the embedding layers living at top level (ours:
inside the shareable `embeddings` block); its extra `pooled_dense` (tanh pooler,
random in the Kaggle presets) is dropped. Note: keras-hub runs its FFN with the
tanh-approximate GELU, so our forward (exact erf GELU, as google-research/electra
and HF) differs slightly from keras-hub's own forward on the same weights. That
is expected: ours is the reference math.

Example:
```python
from keras_electra.convert.keras_hub import backbone_from_keras_hub

backbone = backbone_from_keras_hub("electra_small_discriminator_uncased_en")  # online
backbone = backbone_from_keras_hub("./saved_keras_hub_preset")                # local dir
```

The other way, `export_preset_to_keras_hub` writes a preset of keras-hub's own classes
(`keras-electra export --to keras-hub`):
```python
import keras_hub
from keras_electra.convert.keras_hub import export_preset_to_keras_hub

export_preset_to_keras_hub("ckpt/presets/run-step900-discriminator", "./kh_disc")
keras_hub.models.ElectraBackbone.from_preset("./kh_disc")
```
"""

import numpy as np

from keras_electra.convert import weight_maps


def keras_hub_config_to_backbone_config(config):
    """keras-hub ElectraBackbone `get_config()` -> our kwargs."""
    return {
        "vocabulary_size": config["vocab_size"],
        "num_layers": config["num_layers"],
        "num_heads": config["num_heads"],
        "hidden_dim": config["hidden_dim"],
        "embedding_dim": config["embedding_dim"],
        "intermediate_dim": config["intermediate_dim"],
        "dropout": config.get("dropout", 0.1),
        "max_sequence_length": config.get("max_sequence_length", 512),
        "num_segments": config.get("num_segments", 2),
    }


def our_path(keras_hub_path):
    """Our variable path for a keras-hub one, or None if it is dropped (pooler)."""
    if keras_hub_path.startswith(weight_maps.KERAS_HUB_DROPPED_PREFIXES):
        return None
    for old, new in weight_maps.KERAS_HUB_RENAMES:
        if keras_hub_path.startswith(old):
            return new + keras_hub_path[len(old):]
    raise ValueError(f"keras-hub ElectraBackbone variable {keras_hub_path!r} has no mapping.")


def _copy_pairs(pairs, where, owner):
    """Assign every `(source, target)` variable pair; a shape mismatch names both paths
    (`owner` names the target's model: "our", "keras-hub's")."""
    import keras

    for source, target in pairs:
        value = np.asarray(keras.ops.convert_to_numpy(source.value))
        if tuple(target.shape) != value.shape:
            raise ValueError(f"{where}: {source.path} has shape {value.shape}, {owner} "
                             f"{target.path} needs {tuple(target.shape)}.")
        target.assign(value)


def _check_all_paired(ours, paired_paths, where, what):
    missing = sorted(set(ours) - set(paired_paths))
    if missing:
        raise ValueError(f"{where}: our variables {missing[:6]} {what}.")


def copy_keras_hub_weights(source, backbone, where="keras-hub backbone"):
    """Copy a built keras-hub ElectraBackbone's weights into our `backbone` by name."""
    ours = {v.path: v for v in backbone.weights}
    pairs = []
    for variable in source.weights:
        target_path = our_path(variable.path)
        if target_path is None:
            continue
        if target_path not in ours:
            raise ValueError(f"{where}: variable {variable.path} has no counterpart "
                             f"{target_path} in our backbone.")
        pairs.append((variable, ours[target_path]))
    _copy_pairs(pairs, where, "our")
    _check_all_paired(ours, [target.path for _, target in pairs], where, "got no weights")
    return backbone


def backbone_from_keras_hub(preset, load_weights=True, **kwargs):
    """An `ElectraBackbone` from a keras-hub Electra preset (name, handle or local dir).

    `kwargs` override our config (e.g. `dropout=0.0`, `dtype=...`).
    """
    import keras_hub

    from keras_electra.models.electra_backbone import ElectraBackbone
    from keras_electra.models.electra_presets import KERAS_HUB_PRESETS

    handle = KERAS_HUB_PRESETS.get(preset, preset)
    source = keras_hub.models.ElectraBackbone.from_preset(handle, load_weights=load_weights)
    config = {**keras_hub_config_to_backbone_config(source.get_config()), **kwargs}
    backbone = ElectraBackbone(**config)
    if load_weights:
        copy_keras_hub_weights(source, backbone, where=str(preset))
    return backbone


def tokenizer_from_keras_hub(preset):
    """Our `ElectraTokenizer` (uncased: lowercase + strip accents) on the preset's vocab."""
    import keras_hub

    from keras_electra.models.electra_presets import KERAS_HUB_PRESETS
    from keras_electra.models.electra_tokenizer import ElectraTokenizer

    handle = KERAS_HUB_PRESETS.get(preset, preset)
    source = keras_hub.models.ElectraTokenizer.from_preset(handle)
    return ElectraTokenizer(vocabulary=list(source.get_vocabulary()))


def task_parts_from_keras_hub(preset, load_weights, backbone_kwargs, kwargs):
    """`(backbone, tokenizer, task_kwargs)` for a task class on a keras-hub Electra preset.

    `backbone_kwargs` (the `ElectraBackbone` arguments the caller split off) build the
    backbone, and a `dtype` in the task's `kwargs` goes to it too; the rest of `kwargs`, less
    a given `preprocessor`, are the task's. The tokenizer is `None` when a `preprocessor`
    was given or the preset holds no vocabulary.
    """
    backbone_kwargs, kwargs = dict(backbone_kwargs), dict(kwargs)
    if "dtype" in kwargs:
        backbone_kwargs["dtype"] = kwargs["dtype"]
    backbone = backbone_from_keras_hub(preset, load_weights=load_weights, **backbone_kwargs)
    tokenizer = None
    if kwargs.get("preprocessor") is None:
        kwargs.pop("preprocessor", None)
        try:
            tokenizer = tokenizer_from_keras_hub(preset)
        except (FileNotFoundError, ValueError):
            tokenizer = None
    return backbone, tokenizer, kwargs


# --------------------------------------------------------------------------- export


def keras_hub_path(our_variable_path):
    """keras-hub's variable path for one of ours (inverse of `our_path`)."""
    for old, new in weight_maps.KERAS_HUB_RENAMES:
        if our_variable_path.startswith(new):
            return old + our_variable_path[len(new):]
    raise ValueError(f"our ElectraBackbone variable {our_variable_path!r} has no keras-hub "
                     "counterpart.")


def backbone_to_keras_hub(backbone, where="preset"):
    """A keras-hub `keras_hub.models.ElectraBackbone` holding our `backbone`'s weights.

    Exact copies, except that keras-hub's model has a `pooled_dense` (tanh pooler) that
    ELECTRA does not (G fine-tunes on the [CLS] hidden state): it is set to zero, so its
    `pooled_output` is 0; use `sequence_output[:, 0]`. keras-hub runs the FFN with the
    tanh-approximate GELU, ours (G, HF) the exact erf GELU: its `sequence_output` differs
    from ours by that approximation alone (measured in tests/convert/test_keras_hub_export.py).
    """
    import keras_hub

    backbone = backbone.folded()  # a GDES discriminator: the plain backbone it computes
    config = backbone.get_config()
    if config.get("attention_direction") is not None:
        raise ValueError(f"{where}: a one-directional tower (Electric's cloze generator) has no "
                         "keras-hub ElectraBackbone counterpart; export the discriminator.")
    if config["layer_norm_epsilon"] != 1e-12:
        raise ValueError(f"{where}: layer_norm_epsilon is {config['layer_norm_epsilon']}; "
                         "keras-hub's ElectraBackbone fixes it at 1e-12.")
    target = keras_hub.models.ElectraBackbone(
        vocab_size=config["vocabulary_size"], num_layers=config["num_layers"],
        num_heads=config["num_heads"], hidden_dim=config["hidden_dim"],
        embedding_dim=config["embedding_dim"], intermediate_dim=config["intermediate_dim"],
        dropout=config["dropout"], max_sequence_length=config["max_sequence_length"],
        num_segments=config["num_segments"])
    ours = {v.path: v for v in backbone.weights}
    pairs = []
    for variable in target.weights:
        if variable.path.startswith(weight_maps.KERAS_HUB_DROPPED_PREFIXES):
            variable.assign(np.zeros(variable.shape, "float32"))
            continue
        pairs.append((ours[our_path(variable.path)], variable))
    _copy_pairs(pairs, where, "keras-hub's")
    _check_all_paired(ours, [source.path for source, _ in pairs], where,
                      "have no keras-hub counterpart")
    return target


def export_preset_to_keras_hub(preset, out_dir):
    """Write a preset of keras-hub's own `ElectraBackbone` (+ `ElectraTokenizer` when the preset
    has a vocabulary) from any `ElectraBackbone.from_preset` source of ours (a pretraining
    export, a fine-tuned QA model's backbone, a converted preset, ...).

    `keras_hub.models.ElectraBackbone.from_preset(out_dir)` and
    `keras_hub.models.ElectraTokenizer.from_preset(out_dir)` load it; task heads are not part of
    a keras-hub backbone preset. See `backbone_to_keras_hub` for the pooler and the GELU.

    Returns:
        The parts written: `["ElectraBackbone"]` or `["ElectraBackbone", "ElectraTokenizer"]`.
    """
    import os

    import keras_hub

    from keras_electra.models.electra_backbone import ElectraBackbone
    from keras_electra.utils.output_dirs import staged_output_dir

    preset = os.fspath(preset)
    backbone = ElectraBackbone.from_preset(preset)
    vocabulary, lowercase, strip_accents = None, True, True
    if os.path.isdir(preset) and os.path.isfile(os.path.join(preset, "tokenizer.json")):
        from keras_electra.models.electra_tokenizer import ElectraTokenizer

        ours = ElectraTokenizer.from_preset(preset)
        vocabulary = list(ours.get_vocabulary())
        lowercase, strip_accents = ours.lowercase, ours.strip_accents
    elif os.path.isdir(preset):
        from keras_electra.convert.hf import read_hf_vocabulary
        from keras_electra.utils.preset_dirs import HF, preset_kind

        if preset_kind(preset) == HF:
            vocabulary = read_hf_vocabulary(preset)
    target = backbone_to_keras_hub(backbone, where=preset)
    written = ["ElectraBackbone"]
    with staged_output_dir(out_dir, sources=(preset,), flag="OUT_DIR") as staging:
        target.save_to_preset(staging)
        if vocabulary is not None:
            keras_hub.models.ElectraTokenizer(
                vocabulary=vocabulary, lowercase=lowercase, strip_accents=strip_accents,
            ).save_to_preset(staging)
            written.append("ElectraTokenizer")
    return written
