"""Original google-research/electra (TF1) checkpoints -> our backbones + head weights.

G names (G `model/modeling.py` scopes, read by HF's `load_tf_weights_in_electra` in
transformers `models/electra/modeling_electra.py`): the discriminator encoder under
`electra/`, the generator encoder under `generator/` (its embedding block is
the shared `electra/embeddings/`, unless `untied_generator_embeddings` gave it
`generator/embeddings/`), heads `discriminator_predictions/`,
`generator_predictions/`, fine-tuning heads under `task_specific/`.
`adam_m`/`adam_v` slots, `global_step` and `temperature` are skipped; any
other name is an error that lists it.

TF1 checkpoints hold no config: sizes come from the tensor shapes, the head
count is `max(1, H // 64)` (G's rule) unless `num_heads` /
`generator_num_heads` say otherwise, dropout is G's 0.1 unless overridden.

Example:
```python
from keras_electra.convert import google

ckpt = google.load_google_checkpoint("electra_small/model.ckpt-1000000")
disc, gen = google.backbones_from_google(ckpt)        # gen shares disc.embeddings
rtd_head = google.google_discriminator_head_weights(ckpt)
mlm_head = google.google_generator_head_weights(ckpt)
```
"""

import dataclasses
import os
import re

import numpy as np

from keras_electra.convert import weight_maps

_LAYER_RE = re.compile(
    r"^encoder/layer_(\d+)/(attention/self/(?:query|key|value)|attention/output/dense|"
    r"attention/output/LayerNorm|intermediate/dense|output/dense|output/LayerNorm)/"
    r"(kernel|bias|gamma|beta)$"
)
_LEAF = {"kernel": "weight", "gamma": "weight", "beta": "bias", "bias": "bias"}


@dataclasses.dataclass
class GoogleCheckpoint:
    """A parsed G checkpoint; tensors renamed to HF `ElectraModel` names (no prefix).

    Attributes:
        path: the checkpoint prefix that was read.
        discriminator_tensors: encoder `electra/` (None if absent).
        generator_tensors: encoder `generator/` + its embeddings (None if absent).
        generator_shares_embeddings: True when the generator uses `electra/embeddings`.
        head_tensors: HF-named head tensors (`discriminator_predictions.*`, ...).
        task_weights: `task_specific/` variables, keyed without that prefix (Keras layout).
        discriminator_config, generator_config: `ElectraBackbone` kwargs.
    """

    path: str
    discriminator_tensors: dict
    generator_tensors: dict
    generator_shares_embeddings: bool
    head_tensors: dict
    task_weights: dict
    discriminator_config: dict
    generator_config: dict


def resolve_checkpoint_prefix(path):
    """A checkpoint prefix from a prefix or a directory with a `checkpoint` file."""
    import tensorflow as tf

    path = str(path)
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise FileNotFoundError(
                f"{path}: no TF checkpoint found in this directory (no `checkpoint` state file). "
                "Pass the prefix, e.g. dir/model.ckpt-1000000."
            )
        return latest
    if not os.path.exists(path + ".index"):
        raise FileNotFoundError(
            f"{path}.index: missing. Pass a TF1 checkpoint prefix (the path without "
            ".index/.data-*), e.g. electra_small/model.ckpt-1000000, or its directory."
        )
    return path


def read_google_variables(path):
    """All variables of a TF checkpoint as numpy, optimizer slots skipped: `(prefix, dict)`."""
    import tensorflow as tf

    prefix = resolve_checkpoint_prefix(path)
    try:
        reader = tf.train.load_checkpoint(prefix)
    except Exception as e:
        raise ValueError(f"{prefix}: cannot read TF checkpoint ({e}).") from e
    out = {}
    for name in sorted(reader.get_variable_to_shape_map()):
        if name.endswith(weight_maps.GOOGLE_SKIPPED_SUFFIXES) or \
                name in weight_maps.GOOGLE_SKIPPED_NAMES or name.startswith("_CHECKPOINTABLE"):
            continue
        out[name] = np.asarray(reader.get_tensor(name))
    return prefix, out


def _rename_encoder(scope, variables, used):
    """`<scope>/...` variables -> HF ElectraModel names (kernels transposed)."""
    out = {}
    for g_name, hf_name in weight_maps.GOOGLE_EMBEDDING_NAMES:
        full = f"{scope}/{g_name}"
        if full in variables:
            out[hf_name] = variables[full]
            used.add(full)
    for leaf in ("kernel", "bias"):
        full = f"{scope}/embeddings_project/{leaf}"
        if full in variables:
            value = variables[full]
            out[f"embeddings_project.{_LEAF[leaf]}"] = value.T if leaf == "kernel" else value
            used.add(full)
    for full, value in variables.items():
        if not full.startswith(scope + "/encoder/"):
            continue
        match = _LAYER_RE.match(full[len(scope) + 1:])
        if match is None:
            continue  # reported as unknown by the caller
        index, module, leaf = match.groups()
        name = f"encoder.layer.{int(index)}.{module.replace('/', '.')}.{_LEAF[leaf]}"
        out[name] = value.T if leaf == "kernel" else value
        used.add(full)
    return out


def _infer_config(tensors, embedding_source, num_heads, where, **overrides):
    word = embedding_source["embeddings.word_embeddings.weight"]
    layers = sorted({int(n.split(".")[2]) for n in tensors if n.startswith("encoder.layer.")})
    if not layers:
        raise ValueError(f"{where}: no encoder layers found.")
    if layers != list(range(len(layers))):
        raise ValueError(f"{where}: encoder layer indices are not contiguous: {layers}.")
    hidden = tensors["encoder.layer.0.attention.self.query.weight"].shape[0]
    config = {
        "vocabulary_size": int(word.shape[0]),
        "num_layers": len(layers),
        "num_heads": int(num_heads or max(1, hidden // 64)),
        "hidden_dim": int(hidden),
        "embedding_dim": int(word.shape[1]),
        "intermediate_dim": int(tensors["encoder.layer.0.intermediate.dense.weight"].shape[0]),
        "dropout": 0.1,
        "attention_dropout": 0.1,
        "max_sequence_length": int(
            embedding_source["embeddings.position_embeddings.weight"].shape[0]),
        "num_segments": int(embedding_source["embeddings.token_type_embeddings.weight"].shape[0]),
    }
    config.update(overrides)
    if config["hidden_dim"] % config["num_heads"]:
        raise ValueError(
            f"{where}: hidden size {config['hidden_dim']} is not divisible by num_heads="
            f"{config['num_heads']}; pass the head count the model was trained with."
        )
    return config


def load_google_checkpoint(path, num_heads=None, generator_num_heads=None, **overrides):
    """Parse a G TF1 checkpoint (prefix or directory) into a `GoogleCheckpoint`.

    Args:
        path: checkpoint prefix (`.../model.ckpt-N`) or its directory.
        num_heads: discriminator heads (default `max(1, H // 64)`).
        generator_num_heads: generator heads (default `max(1, Hg // 64)`).
        **overrides: `ElectraBackbone` kwargs applied to both configs (e.g. `dropout=0.0`).
    """
    if isinstance(path, GoogleCheckpoint):
        return path
    prefix, variables = read_google_variables(path)
    used = set()
    disc = _rename_encoder("electra", variables, used)
    gen = _rename_encoder("generator", variables, used)
    heads = {}
    for g_name, hf_name in weight_maps.GOOGLE_HEAD_NAMES:
        if g_name in variables:
            value = variables[g_name]
            heads[hf_name] = value.T if g_name.endswith("/kernel") else value
            used.add(g_name)
    task = {}
    for name, value in variables.items():
        if name.startswith(weight_maps.GOOGLE_QA_SCOPE):
            task[name[len(weight_maps.GOOGLE_QA_SCOPE):]] = value
            used.add(name)
    unknown = sorted(set(variables) - used)
    if unknown:
        raise ValueError(
            f"{prefix}: unknown variable names {unknown[:20]}{' ...' if len(unknown) > 20 else ''}."
            " Expected google-research/electra names (electra/..., generator/..., "
            "discriminator_predictions/..., generator_predictions/..., task_specific/...)."
        )
    shares = "embeddings.word_embeddings.weight" not in gen
    has_disc = any(n.startswith("encoder.") for n in disc)
    has_gen = any(n.startswith("encoder.") for n in gen)
    if not has_disc and not has_gen:
        raise ValueError(f"{prefix}: no electra/encoder or generator/encoder variables found.")
    if "embeddings.word_embeddings.weight" not in disc:
        raise ValueError(f"{prefix}: electra/embeddings/word_embeddings is missing.")
    disc_config = _infer_config(disc, disc, num_heads, f"{prefix} (electra/)",
                                **overrides) if has_disc else None
    gen_config = None
    if has_gen:
        if shares:
            gen.update({k: v for k, v in disc.items() if k.startswith("embeddings.")})
        gen_config = _infer_config(gen, gen, generator_num_heads, f"{prefix} (generator/)",
                                   **overrides)
    return GoogleCheckpoint(
        path=prefix,
        discriminator_tensors=disc if has_disc else None,
        generator_tensors=gen if has_gen else None,
        generator_shares_embeddings=shares,
        head_tensors=heads,
        task_weights=task,
        discriminator_config=disc_config,
        generator_config=gen_config,
    )


def _describe(ckpt, scope):
    return lambda n: f"{ckpt.path}: variable for HF name {n!r} (scope {scope}/)"


def backbone_from_google(path, part="discriminator", embeddings=None, **kwargs):
    """One `ElectraBackbone` ("discriminator" or "generator") from a G checkpoint.

    `kwargs` go to `load_google_checkpoint` (num_heads, generator_num_heads,
    config overrides). With `embeddings=`, that block is reused (shared).
    """
    from keras_electra.convert import hf
    from keras_electra.models.electra_backbone import ElectraBackbone

    ckpt = load_google_checkpoint(path, **kwargs)
    if part not in ("discriminator", "generator"):
        raise ValueError(f"part must be 'discriminator' or 'generator', got {part!r}.")
    tensors = ckpt.discriminator_tensors if part == "discriminator" else ckpt.generator_tensors
    config = ckpt.discriminator_config if part == "discriminator" else ckpt.generator_config
    if tensors is None:
        raise ValueError(f"{ckpt.path}: this checkpoint has no {part} (scope "
                         f"{'electra' if part == 'discriminator' else 'generator'}/).")
    backbone = ElectraBackbone(embeddings=embeddings, **config)
    hf.set_backbone_weights_from_hf(
        backbone, tensors, describe=_describe(ckpt, "electra" if part == "discriminator"
                                              else "generator"),
        skip_embeddings=embeddings is not None)
    return backbone


def backbones_from_google(path, **kwargs):
    """`(discriminator, generator)`; the generator shares the discriminator's embedding
    block as in G (None when the checkpoint has no generator)."""
    ckpt = load_google_checkpoint(path, **kwargs)
    disc = backbone_from_google(ckpt, "discriminator")
    gen = None
    if ckpt.generator_tensors is not None:
        shared = disc.embeddings if ckpt.generator_shares_embeddings else None
        gen = backbone_from_google(ckpt, "generator", embeddings=shared)
    return disc, gen


def google_head_weights(path, kind, **kwargs):
    """Head weights of `kind` ("discriminator" or "generator"), as `hf.hf_head_weights`."""
    from keras_electra.convert import hf

    ckpt = load_google_checkpoint(path, **kwargs)
    return hf.head_weights_from_hf_tensors(
        kind, ckpt.head_tensors,
        describe=lambda n: f"{ckpt.path}: {kind} head tensor (HF name {n!r})")


def google_discriminator_head_weights(path, **kwargs):
    """`discriminator_predictions/` as the dict of `hf.hf_discriminator_head_weights`."""
    return google_head_weights(path, "discriminator", **kwargs)


def google_generator_head_weights(path, **kwargs):
    """`generator_predictions/` as the dict of `hf.hf_generator_head_weights`."""
    return google_head_weights(path, "generator", **kwargs)


def google_task_weights(path, **kwargs):
    """`task_specific/` variables (e.g. `squad/qa_hidden/kernel`), Keras `[in, out]` layout."""
    return dict(load_google_checkpoint(path, **kwargs).task_weights)


def assign_google_squad_head(model, task_weights):
    """Copy G's `task_specific/squad/*` (from `google_task_weights`) into the Dense layers
    `qa_start`, `qa_hidden`, `qa_end`, `qa_answerable_hidden`, `qa_answerable` of `model`
    (an `ElectraQuestionAnswerer` with G's head). Kernels are [in, out] in both."""
    import keras

    for g_scope, attr in weight_maps.GOOGLE_SQUAD_HEAD_LAYERS:
        layer = getattr(model, attr, None)
        if layer is None:
            raise ValueError(f"{type(model).__name__} has no `{attr}` layer for {g_scope}/.")
        for leaf in ("kernel", "bias"):
            name = f"{g_scope}/{leaf}"
            if name not in task_weights:
                raise ValueError(f"task_specific/{name} is missing from the checkpoint.")
            variable = getattr(layer, leaf)
            value = np.asarray(task_weights[name])
            if tuple(variable.shape) != value.shape:
                raise ValueError(
                    f"task_specific/{name}: shape {value.shape}, but `{attr}.{leaf}` is "
                    f"{tuple(variable.shape)}.")
            variable.assign(keras.ops.convert_to_numpy(value))


def write_google_checkpoint(prefix, variables):
    """Write `variables` (G name -> numpy array) as a TF1-format checkpoint at `prefix`.

    Uses `tf.raw_ops.SaveV2`, so the names are stored exactly as given (a
    `tf.train.Checkpoint` would rewrite them). Also writes the `checkpoint`
    state file so the directory can be passed instead of the prefix.

    Returns:
        `prefix`.
    """
    import tensorflow as tf

    names = sorted(variables)
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    tf.raw_ops.SaveV2(
        prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
        tensors=[tf.constant(np.asarray(variables[n])) for n in names],
    )
    directory = os.path.dirname(os.path.abspath(prefix))
    from keras_electra.utils.output_dirs import write_file_atomically

    base = os.path.basename(prefix)
    write_file_atomically(os.path.join(directory, "checkpoint"),
                          f'model_checkpoint_path: "{base}"\nall_model_checkpoint_paths: "{base}"\n')
    return prefix
