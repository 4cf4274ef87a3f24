"""Convert and export between checkpoint formats, and the head weights a preset carries.

`ElectraBackbone.from_preset` decides what a preset string is
(`keras_electra.utils.preset_dirs.preset_kind`) and hands HF dirs to
`keras_electra.convert.hf` and keras-hub presets to `keras_electra.convert.keras_hub`
(registered in `keras_electra.convert.__init__`).

Head weights that have no place in a backbone preset (RTD head, MLM head, QA
head) travel in the preset dir as `electra_heads.npz` (`save_preset_heads` /
`load_preset_heads`), keys `"<kind>/<weight>"` in the layout of
`keras_electra.convert.hf.HEAD_ATTRIBUTES`.

Example:
```python
from keras_electra.convert.preset_io import convert_to_preset, export_preset_to_hf

convert_to_preset("hf", "./hf_electra", "./electra_preset")
export_preset_to_hf("./electra_preset", "./back_to_hf")
```
"""

import os

import numpy as np

from keras_electra.utils.output_dirs import staged_output_dir
from keras_electra.utils.preset_dirs import find_vocab_file

HEADS_FILE = "electra_heads.npz"
VOCAB_ASSET = os.path.join("assets", "tokenizer", "vocabulary.txt")
SOURCE_FORMATS = ("hf", "google", "keras-hub")
_EXPORT_CLASS = (("discriminator", "ElectraForPreTraining"), ("generator", "ElectraForMaskedLM"),
                 ("qa", "ElectraForQuestionAnswering"))


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


def convert_to_preset(source_format, src, out_preset, part=None, vocabulary=None,
                      num_heads=None, generator_num_heads=None):
    """Convert a checkpoint to a keras-hub-format preset dir of our `ElectraBackbone`.

    Args:
        source_format: "hf", "google" or "keras-hub".
        src: HF dir / `hf://org/name`; G checkpoint prefix or dir; keras-hub preset
            name or dir.
        out_preset: output directory (config.json, model.weights.h5, metadata.json,
            tokenizer files when a vocab is known, electra_heads.npz when heads exist).
        part: google only: "discriminator" (default) or "generator".
        vocabulary: vocab.txt path overriding the one found next to `src`.
        num_heads, generator_num_heads: google only (TF1 checkpoints hold no config).

    Returns:
        A dict summary: {"backbone": ElectraBackbone, "heads": [...], "tokenizer": bool}.
    """
    if source_format not in SOURCE_FORMATS:
        raise ValueError(f"--from must be one of {SOURCE_FORMATS}, got {source_format!r}.")
    if part is not None and source_format != "google":
        raise ValueError("--part applies to --from google only (an HF or keras-hub checkpoint "
                         "holds one model).")
    part = part or "discriminator"
    heads, tokenizer = {}, None
    if source_format == "hf":
        from keras_electra.convert import hf

        ckpt = hf.load_hf_checkpoint(src)
        backbone = hf.backbone_from_hf(ckpt)
        heads = {kind: hf.hf_head_weights(ckpt, kind) for kind in ckpt.heads}
        if vocabulary is None:
            vocabulary = hf.read_hf_vocabulary(ckpt.path)
    elif source_format == "google":
        from keras_electra.convert import google

        ckpt = google.load_google_checkpoint(src, num_heads=num_heads,
                                             generator_num_heads=generator_num_heads)
        backbone = google.backbone_from_google(ckpt, part)
        kind = "discriminator" if part == "discriminator" else "generator"
        if any(n.startswith(("discriminator_predictions." if kind == "discriminator"
                             else "generator_")) for n in ckpt.head_tensors):
            heads[kind] = google.google_head_weights(ckpt, kind)
        if part == "discriminator" and ckpt.task_weights:
            heads["task_specific"] = dict(ckpt.task_weights)
        if vocabulary is None:
            vocabulary = find_vocab_file(ckpt.path)
    else:
        from keras_electra.convert import keras_hub

        backbone = keras_hub.backbone_from_keras_hub(src)
        if vocabulary is None:
            try:
                tokenizer = keras_hub.tokenizer_from_keras_hub(src)
            except (FileNotFoundError, ValueError):
                tokenizer = None
    if vocabulary is not None and tokenizer is None:
        from keras_electra.models.electra_tokenizer import ElectraTokenizer

        tokenizer = ElectraTokenizer(vocabulary=vocabulary)
    if tokenizer is not None and tokenizer.vocabulary_size() != backbone.vocabulary_size:
        raise ValueError(
            f"{src}: the vocabulary has {tokenizer.vocabulary_size()} tokens but the model's "
            f"word embeddings have {backbone.vocabulary_size} rows; pass the matching vocab.txt."
        )
    # written aside and swapped in whole: a failure keeps an earlier out_preset intact
    with staged_output_dir(out_preset, sources=(src, vocabulary), flag="OUT_PRESET") as staging:
        backbone.save_to_preset(staging)
        if tokenizer is not None:
            tokenizer.save_to_preset(staging)
        save_preset_heads(staging, heads)
    return {"backbone": backbone, "heads": sorted(heads), "tokenizer": tokenizer is not None}


def export_preset_to_hf(preset, out_dir, model_class=None):
    """Write an HF `transformers` directory from one of our presets (or any
    `ElectraBackbone.from_preset` source). The model class follows the heads
    stored with the preset (RTD -> ElectraForPreTraining, MLM ->
    ElectraForMaskedLM, QA -> ElectraForQuestionAnswering, none -> ElectraModel)
    unless `model_class` is given. Returns the model class written."""
    from keras_electra.convert import hf
    from keras_electra.models.electra_backbone import ElectraBackbone

    preset = os.fspath(preset)
    if os.path.isdir(preset) and not os.path.isfile(os.path.join(preset, "config.json")):
        raise FileNotFoundError(f"{os.path.join(preset, 'config.json')}: missing; "
                                "pass a preset dir written by `keras-electra convert` or "
                                "`save_to_preset`.")
    backbone = ElectraBackbone.from_preset(preset)
    heads = load_preset_heads(preset) if os.path.isdir(preset) else {}
    if model_class is None:
        model_class = next((cls for kind, cls in _EXPORT_CLASS if kind in heads), "ElectraModel")
    vocab = os.path.join(preset, VOCAB_ASSET)
    # written aside and swapped in whole; never onto (or inside) the preset it reads
    with staged_output_dir(out_dir, sources=(preset,), flag="OUT_DIR") as staging:
        hf.export_backbone_to_hf(backbone, staging, model_class=model_class, heads=heads,
                                 vocabulary=vocab if os.path.isfile(vocab) else None)
    return model_class
