"""Convert and export between checkpoint formats, and the head weights a preset carries.

`ElectraBackbone.from_preset` decides what a preset string is
(`keras_electra.utils.preset_dirs.preset_kind`) and hands HF dirs to
`keras_electra.convert.hf` and keras-hub presets to `keras_electra.convert.keras_hub`
(registered in `keras_electra.convert.__init__`).

Head weights that have no place in a backbone preset (RTD head, MLM head, QA
head) travel in the preset dir as `electra_heads.npz` (`save_preset_heads` /
`load_preset_heads`), keys `"<kind>/<weight>"` in the layout of
`keras_electra.models.electra_preset_heads.HEAD_ATTRIBUTES` (the module that
reads and writes them).

Example:
```python
from keras_electra.convert.preset_io import convert_to_preset, export_preset_to_hf

convert_to_preset("hf", "./hf_electra", "./electra_preset")
export_preset_to_hf("./electra_preset", "./back_to_hf")
```
"""

import os

from keras_electra.convert import weight_maps
from keras_electra.models.electra_preset_heads import (  # noqa: F401 (re-exported)
    HEADS_FILE,
    load_preset_heads,
    save_preset_heads,
)
from keras_electra.utils.output_dirs import staged_output_dir
from keras_electra.utils.preset_dirs import HF, find_vocab_file, preset_kind

VOCAB_ASSET = os.path.join("assets", "tokenizer", "vocabulary.txt")
SOURCE_FORMATS = ("hf", "google", "keras-hub")


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


def _task_class_name(preset):
    """The task class (registered name) of a local task preset dir (task.json), or None."""
    path = os.path.join(preset, "task.json")
    if not os.path.isfile(path):
        return None
    from keras_electra.utils.errors import read_json_file

    task = read_json_file(path, "preset task file")
    name = task.get("registered_name", "") if isinstance(task, dict) else ""
    return name if isinstance(name, str) and name.startswith("keras_electra>") else None


def _load_task(registered_name, preset):
    """Our task class `registered_name`'s `from_preset(preset)` (weights only, even of a
    preset written with optimizer state: `models/electra_task_weights.py`)."""
    import keras

    cls = keras.saving.get_registered_object(registered_name)
    if cls is None:
        raise ValueError(f"{preset}/task.json: {registered_name} is not a task class of this "
                         "keras-electra version; upgrade keras-electra.")
    return cls.from_preset(preset)


def _task_heads(task):
    """{kind: weights} of the HF-exportable heads a task holds (weight_maps.HF_HEAD_EXPORTS)."""
    from keras_electra.convert import hf

    return {e.kind: hf.get_head_weights(getattr(task, e.attribute), e.kind)
            for e in weight_maps.HF_HEAD_EXPORTS
            if e.task_class == type(task).__name__ and getattr(task, e.attribute, None) is not None}


def _standalone_generator(pretrainer):
    """The pretrainer's generator as a plain `ElectraBackbone` (its own copy of the shared
    embedding block), as `ElectraPretrainer.export_generator` saves it."""
    import keras

    from keras_electra.models.electra_backbone import ElectraBackbone

    generator = ElectraBackbone.from_config(pretrainer.generator.get_config())
    for target, source in zip(generator.weights, pretrainer.generator.weights, strict=True):
        target.assign(keras.ops.convert_to_numpy(source.value))
    return generator


def _class_for(preset, heads, model_class):
    """The transformers class to write: `model_class` when given (its head must be held),
    else the class of the head held (weight_maps.HF_HEAD_EXPORTS), else ElectraModel."""
    held = [e for e in weight_maps.HF_HEAD_EXPORTS if e.kind in heads]
    if model_class is None:
        return held[0].model_class if held else "ElectraModel"
    wanted = next((e for e in weight_maps.HF_HEAD_EXPORTS if e.model_class == model_class), None)
    if wanted is not None and wanted.kind not in heads:
        have = ", ".join(e.model_class for e in held) or "none"
        raise ValueError(
            f"{preset}: holds no {wanted.kind} head, which --model_class {model_class} needs "
            f"(heads it can export: {have}); pass --model_class "
            f"{held[0].model_class if held else 'ElectraModel'} (or ElectraModel for the "
            "encoder alone).")
    return model_class


def export_preset_to_hf(preset, out_dir, model_class=None):
    """Write HF `transformers` directories from one of our presets, with the heads it holds.

    What each kind of preset becomes (the head table is `weight_maps.HF_HEAD_EXPORTS`):

    * a fine-tuned QA model (`keras-electra squad` OUTPUT_DIR/model, `head="simple"`) ->
      `ElectraForQuestionAnswering`. G's head (`head="electra"`) has no HF class: refused
      (export it `--to saved_model`, or fine-tune with `--head simple`).
    * a pretraining discriminator / generator preset (`ckpt/presets/*-discriminator`,
      `*-generator`: `ElectraPretrainer.export_discriminator` / `export_generator`), or a
      `convert` output with heads -> `ElectraForPreTraining` / `ElectraForMaskedLM`.
    * a whole pretrainer (`ElectraPretrainer.save_to_preset`) -> the pair, as google releases
      ELECTRA: `out_dir/discriminator` (ElectraForPreTraining) and `out_dir/generator`
      (ElectraForMaskedLM; not for Electric, whose two-tower cloze generator has no HF class).
    * a backbone preset without heads (`backbone.save_to_preset`) -> `ElectraModel`.

    `model_class` picks the class of a single directory; a head it needs must be in the
    preset (never a headless model where a head was asked for); `"ElectraModel"` drops the
    head. Each directory gets config.json, model.safetensors and, when the preset has a
    tokenizer, vocab.txt + tokenizer_config.json.

    Returns:
        The class written (a str), or for a pretrainer `{"discriminator": ..., "generator":
        ...}` (the sub-directories and their classes).
    """
    from keras_electra.convert import hf
    from keras_electra.models.electra_backbone import ElectraBackbone

    preset = os.fspath(preset)
    if model_class is not None and model_class not in hf.MODEL_CLASSES:
        raise ValueError(f"--model_class {model_class}: expected one of "
                         f"{', '.join(hf.MODEL_CLASSES)}.")
    if os.path.isdir(preset) and not os.path.isfile(os.path.join(preset, "config.json")):
        raise FileNotFoundError(f"{os.path.join(preset, 'config.json')}: missing; "
                                "pass a preset dir written by `keras-electra convert` or "
                                "`save_to_preset`.")
    task_class = _task_class_name(preset) if os.path.isdir(preset) else None
    vocab = os.path.join(preset, VOCAB_ASSET)
    vocab = vocab if os.path.isfile(vocab) else None
    if task_class == "keras_electra>ElectraPretrainer":
        if model_class is not None:
            raise ValueError(f"{preset}: a pretrainer preset exports as the pair "
                             f"(OUT_DIR/discriminator, OUT_DIR/generator); drop --model_class "
                             f"{model_class}.")
        pretrainer = _load_task(task_class, preset)
        heads = _task_heads(pretrainer)
        parts = {"discriminator": (pretrainer.backbone.folded(), "ElectraForPreTraining")}
        if not pretrainer.electric:
            parts["generator"] = (_standalone_generator(pretrainer), "ElectraForMaskedLM")
        with staged_output_dir(out_dir, sources=(preset,), flag="OUT_DIR",
                               marker=os.path.join("discriminator", "config.json")) as staging:
            for part, (backbone, cls) in parts.items():
                hf.export_backbone_to_hf(backbone, os.path.join(staging, part), model_class=cls,
                                         heads=heads, vocabulary=vocab)
        return {part: cls for part, (_, cls) in parts.items()}
    if task_class is not None:  # a fine-tuned task: its backbone and its head
        if task_class == "keras_electra>ElectraQuestionAnswerer":
            from keras_electra.utils.errors import read_json_file

            config = read_json_file(os.path.join(preset, "task.json"), "preset task file")
            head = config.get("config", {}).get("head", "electra")
            if head != "simple" and model_class != "ElectraModel":
                raise ValueError(
                    f"{preset}: a head={head!r} QA model (G's joint start/end + answerability "
                    "head) has no Hugging Face class; export it with `--to saved_model`, or "
                    "fine-tune with `--head simple` (ElectraForQuestionAnswering) for `--to hf`.")
        task = _load_task(task_class, preset)
        backbone, heads = task.backbone, _task_heads(task)
        if not heads and model_class != "ElectraModel":
            raise ValueError(f"{preset}: this {type(task).__name__} holds no head that "
                             "transformers has a class for; pass --model_class ElectraModel "
                             "for the encoder alone.")
    else:  # a backbone preset (ours, HF, keras-hub), heads beside it in electra_heads.npz
        backbone = ElectraBackbone.from_preset(preset)
        if preset_kind(preset) == HF:
            heads = {kind: hf.hf_head_weights(preset, kind)
                     for kind in hf.load_hf_checkpoint(preset).heads}
            vocab = hf.read_hf_vocabulary(preset)
        else:
            heads = load_preset_heads(preset) if os.path.isdir(preset) else {}
    model_class = _class_for(preset, heads, model_class)
    # written aside and swapped in whole; never onto (or inside) the preset it reads
    with staged_output_dir(out_dir, sources=(preset,), flag="OUT_DIR") as staging:
        hf.export_backbone_to_hf(backbone.folded(), staging, model_class=model_class,
                                 heads=heads, vocabulary=vocab)
    return model_class
