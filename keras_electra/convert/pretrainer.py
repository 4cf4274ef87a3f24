"""Whole `ElectraPretrainer`s (generator + discriminator + both heads) from HF or G checkpoints.

`ElectraPretrainer.from_preset(hf_dir, generator_preset=gen_dir)` lands here:
HF releases ELECTRA as two repos, an `ElectraForPreTraining` discriminator
and an `ElectraForMaskedLM` generator; the generator is built on the
discriminator's embedding block (as in G, and as the released pairs were
trained), so its own copy of the embeddings is not loaded (a warning says so
if it differs). A G pretraining checkpoint holds both models and both heads
in one file: `pretrainer_from_google`.

Example:
```python
from keras_electra import ElectraPretrainer
from keras_electra.convert.pretrainer import pretrainer_from_google

pretrainer = ElectraPretrainer.from_preset(
    "./electra-small-discriminator", generator_preset="./electra-small-generator")
pretrainer = pretrainer_from_google(ElectraPretrainer, "electra_small/model.ckpt-1000000")
```
"""

import inspect

import numpy as np


def _split_backbone_kwargs(kwargs):
    from keras_electra.models.electra_backbone import ElectraBackbone

    names = set(inspect.signature(ElectraBackbone.__init__).parameters) - {
        "self", "embeddings", "name", "kwargs"}
    backbone_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
    return backbone_kwargs, kwargs


def _generator_sizes(config):
    keys = ("num_layers", "num_heads", "hidden_dim", "intermediate_dim")
    return {k: config[k] for k in keys}


def pretrainer_from_hf(cls, preset, generator_preset=None, load_weights=True, **kwargs):
    """An `ElectraPretrainer` (`cls`) from HF Electra dirs / `hf://` handles.

    Args:
        cls: the pretrainer class.
        preset: `ElectraForPreTraining` dir (discriminator + RTD head). An
            `ElectraModel` dir also works (RTD head stays random).
        generator_preset: optional `ElectraForMaskedLM` dir (generator + MLM
            head). Without it the generator is G's default size, random init.
        load_weights: False builds the sizes only.
        **kwargs: `ElectraBackbone` arguments (e.g. `dropout`, `dtype`) apply to
            both backbones; the rest go to the pretrainer (e.g. `mask_prob`).
    """
    from keras_electra.convert import hf

    backbone_kwargs, kwargs = _split_backbone_kwargs(kwargs)
    disc_ckpt = hf.load_hf_checkpoint(preset)
    if "generator" in disc_ckpt.heads and "discriminator" not in disc_ckpt.heads:
        raise ValueError(
            f"{disc_ckpt.path} is an ElectraForMaskedLM (generator) checkpoint; pass the "
            "ElectraForPreTraining (discriminator) dir as `preset` and this one as "
            "`generator_preset=`."
        )
    backbone = hf.backbone_from_hf(disc_ckpt, load_weights=load_weights, **backbone_kwargs)
    gen_ckpt = None
    if generator_preset is not None:
        gen_ckpt = hf.load_hf_checkpoint(generator_preset)
        if "generator" not in gen_ckpt.heads:
            raise ValueError(
                f"{gen_ckpt.path}: `generator_preset` must be an ElectraForMaskedLM checkpoint "
                f"(generator_predictions.* + generator_lm_head.*); found {gen_ckpt.model_class} "
                f"with heads {list(gen_ckpt.heads) or 'none'}."
            )
        kwargs["generator_config"] = {**_generator_sizes(gen_ckpt.backbone_config),
                                      **backbone_kwargs}
    pretrainer = cls(backbone, **kwargs)
    if load_weights:
        if "discriminator" in disc_ckpt.heads:
            hf.assign_head_weights(pretrainer.discriminator_head, "discriminator",
                                   hf.hf_discriminator_head_weights(disc_ckpt))
        if gen_ckpt is not None:
            tensors = gen_ckpt.backbone_tensors()
            hf.set_backbone_weights_from_hf(
                pretrainer.generator, tensors, skip_embeddings=True,
                describe=lambda n: gen_ckpt.describe(gen_ckpt.prefix + n))
            hf._warn_if_embeddings_differ(pretrainer.generator, tensors, gen_ckpt)
            hf.assign_head_weights(pretrainer.generator_head, "generator",
                                   hf.hf_generator_head_weights(gen_ckpt))
    return pretrainer


def pretrainer_from_google(cls, path, num_heads=None, generator_num_heads=None, **kwargs):
    """An `ElectraPretrainer` (`cls`) from a G TF1 pretraining checkpoint.

    Args:
        cls: the pretrainer class.
        path: checkpoint prefix or directory.
        num_heads, generator_num_heads: head counts (TF1 checkpoints hold no
            config; default `max(1, H // 64)`, G's rule).
        **kwargs: `ElectraBackbone` arguments (both backbones) and pretrainer arguments.
    """
    from keras_electra.convert import google, hf

    backbone_kwargs, kwargs = _split_backbone_kwargs(kwargs)
    ckpt = google.load_google_checkpoint(path, num_heads=num_heads,
                                         generator_num_heads=generator_num_heads,
                                         **backbone_kwargs)
    if ckpt.generator_tensors is None:
        raise ValueError(f"{ckpt.path}: no generator/ scope; not a pretraining checkpoint.")
    if not ckpt.generator_shares_embeddings:
        raise ValueError(
            f"{ckpt.path}: the generator has its own embeddings (untied_generator_embeddings); "
            "ElectraPretrainer shares one embedding block. Convert the parts separately with "
            "`keras-electra convert --from google --part ...`."
        )
    backbone = google.backbone_from_google(ckpt, "discriminator")
    kwargs["generator_config"] = {**_generator_sizes(ckpt.generator_config), **backbone_kwargs}
    pretrainer = cls(backbone, **kwargs)
    hf.set_backbone_weights_from_hf(pretrainer.generator, ckpt.generator_tensors,
                                    skip_embeddings=True)
    heads = {n.split(".")[0] for n in ckpt.head_tensors}
    if "discriminator_predictions" in heads:
        hf.assign_head_weights(pretrainer.discriminator_head, "discriminator",
                               google.google_discriminator_head_weights(ckpt))
    if "generator_predictions" in heads:
        hf.assign_head_weights(pretrainer.generator_head, "generator",
                               google.google_generator_head_weights(ckpt))
    return pretrainer


# ----------------------------------------------------------------- any source pair
GOOGLE_SOURCE = "google"
PRESET_SOURCE = "preset"


def source_kind(source):
    """How a pretraining source is read: `preset_dirs.HF`, `GOOGLE_SOURCE` (a G TF1
    checkpoint prefix or directory) or `PRESET_SOURCE` (anything else `ElectraBackbone.
    from_preset` takes: our presets, keras-hub presets and handles)."""
    from keras_electra.utils import preset_dirs

    if preset_dirs.is_google_checkpoint(source):
        return GOOGLE_SOURCE
    if preset_dirs.preset_kind(source) == preset_dirs.HF:
        return preset_dirs.HF
    return PRESET_SOURCE


def source_vocabulary(source):
    """`(tokens, where)`: the vocabulary a source was trained with and the file it is in, or
    `(None, None)` when the source holds none (a G checkpoint's `vocab.txt` beside it, an HF
    dir's vocab.txt / tokenizer.json, a preset's `assets/tokenizer/vocabulary.txt`)."""
    import os

    from keras_electra.data.vocab import load_vocabulary
    from keras_electra.utils import preset_dirs

    kind = source_kind(source)
    source = os.fspath(source)
    if kind == GOOGLE_SOURCE:
        where = preset_dirs.find_vocab_file(source)
    elif kind == preset_dirs.HF:
        from keras_electra.convert import hf

        found = hf.read_hf_vocabulary(source)
        if isinstance(found, list):
            return found, os.path.join(hf.resolve_hf_path(source), "tokenizer.json")
        where = found
    elif os.path.isdir(source):
        where = os.path.join(source, "assets", "tokenizer", "vocabulary.txt")
    else:  # a keras-hub preset name or handle
        from keras_electra.models.electra_presets import KERAS_HUB_PRESETS

        if source not in KERAS_HUB_PRESETS and "://" not in source:
            return None, None
        from keras_electra.convert.keras_hub import tokenizer_from_keras_hub

        return list(tokenizer_from_keras_hub(source).get_vocabulary()), source
    if not where or not os.path.isfile(where):
        return None, None
    return load_vocabulary(where), where


def _source_parts(source, part, load_weights, backbone_kwargs, generator_num_heads=None):
    """`(backbone, head weights or None, generator backbone or None, its head or None)` of
    one source; the generator entries only for a G checkpoint (which holds both models)."""
    import os

    from keras_electra.convert import google, hf, preset_io
    from keras_electra.models.electra_backbone import ElectraBackbone
    from keras_electra.utils import preset_dirs

    kind = source_kind(source)
    head = "discriminator" if part == "discriminator" else "generator"
    if kind == GOOGLE_SOURCE:
        ckpt = google.load_google_checkpoint(source, generator_num_heads=generator_num_heads,
                                             **backbone_kwargs)
        heads = {n.split(".")[0] for n in ckpt.head_tensors}
        disc = google.backbone_from_google(ckpt, "discriminator")
        disc_head = (google.google_discriminator_head_weights(ckpt)
                     if "discriminator_predictions" in heads else None)
        gen = gen_head = None
        if ckpt.generator_tensors is not None:
            gen = google.backbone_from_google(ckpt, "generator")
            gen_head = (google.google_generator_head_weights(ckpt)
                        if "generator_predictions" in heads else None)
        return disc, disc_head, gen, gen_head
    if kind == preset_dirs.HF:
        ckpt = hf.load_hf_checkpoint(source)
        if part == "discriminator" and "generator" in ckpt.heads \
                and "discriminator" not in ckpt.heads:
            raise ValueError(
                f"{ckpt.path} is an ElectraForMaskedLM (generator) checkpoint; pass the "
                "ElectraForPreTraining (discriminator) dir as the source and this one as the "
                "generator source.")
        backbone = hf.backbone_from_hf(ckpt, load_weights=load_weights, **backbone_kwargs)
        weights = None
        if load_weights and head in ckpt.heads:
            weights = (hf.hf_discriminator_head_weights(ckpt) if head == "discriminator"
                       else hf.hf_generator_head_weights(ckpt))
        return backbone, weights, None, None
    backbone = ElectraBackbone.from_preset(source, load_weights=load_weights, **backbone_kwargs)
    weights = None
    if load_weights and isinstance(source, (str, os.PathLike)) and os.path.isdir(source):
        weights = preset_io.load_preset_heads(source).get(head)
    return backbone, weights, None, None


def _embedding_tables_differ(disc, gen):
    from keras_electra.convert import hf, weight_maps

    ours, theirs = hf.backbone_to_hf_tensors(disc), hf.backbone_to_hf_tensors(gen)
    return [h for h, _, _ in weight_maps.EMBEDDING_WEIGHTS
            if h in ours and h in theirs and not np.array_equal(ours[h], theirs[h])]


def pretrainer_from_sources(cls, preset, generator_preset=None, load_weights=True, **kwargs):
    """An `ElectraPretrainer` (`cls`) from released weights of any kind, to continue
    pretraining them.

    Args:
        cls: the pretrainer class.
        preset: the discriminator source: anything `ElectraBackbone.from_preset` takes (our
            presets, an HF `ElectraForPreTraining` dir, a keras-hub preset) or a
            google-research/electra TF1 pretraining checkpoint (prefix or directory), which
            also holds the generator and both heads.
        generator_preset: the generator source for kinds that keep it apart (an HF
            `ElectraForMaskedLM` dir, a keras-hub or our generator preset). Without one (and
            without a generator in a TF1 checkpoint) the generator starts fresh, sized by
            `generator_hidden_size` / `generator_layers`.
        load_weights: False builds the sizes only.
        **kwargs: `ElectraBackbone` arguments (e.g. `dropout`; `num_heads` for a TF1
            checkpoint whose head count is not G's `H // 64`, `generator_num_heads` for its
            generator) apply to both backbones; the
            rest go to the pretrainer (e.g. `mask_prob`, `gdes`).

    The generator is built on the discriminator's embedding block (G shares it); when the
    generator source's own embedding tables differ, the discriminator's are kept (one line
    says so), unless `untied_generator_embeddings=True`, which keeps both. Heads a source
    lacks (keras-hub and backbone presets hold none) start fresh. Each such fact is logged
    as one warning line (logger `keras_electra.convert.pretrainer`).

    Example:
    ```python
    from keras_electra import ElectraPretrainer

    pretrainer = ElectraPretrainer.from_preset(
        "./electra-small-discriminator", generator_preset="./electra-small-generator")
    pretrainer = ElectraPretrainer.from_preset("electra_small/model.ckpt-1000000")  # G TF1
    ```
    """
    import logging

    from keras_electra.convert import hf

    log = logging.getLogger(__name__)
    generator_num_heads = kwargs.pop("generator_num_heads", None)
    backbone_kwargs, kwargs = _split_backbone_kwargs(kwargs)
    disc, disc_head, gen, gen_head = _source_parts(preset, "discriminator", load_weights,
                                                   backbone_kwargs, generator_num_heads)
    gen_where = preset
    if generator_preset is not None:
        if gen is not None:
            raise ValueError(
                f"{preset}: a google-research/electra pretraining checkpoint holds its own "
                f"generator; drop the generator source {generator_preset}.")
        gen, gen_head, _, _ = _source_parts(generator_preset, "generator", load_weights,
                                            backbone_kwargs)
        gen_where = generator_preset
    if gen is not None:  # the generator's own sizes win over `num_heads=`
        kwargs["generator_config"] = {**backbone_kwargs, **_generator_sizes(gen.get_config())}
    pretrainer = cls(disc, **kwargs)
    if not load_weights:
        return pretrainer
    untied = bool(kwargs.get("untied_generator_embeddings"))
    if disc_head is not None:
        hf.assign_head_weights(pretrainer.discriminator_head, "discriminator", disc_head)
    else:
        log.warning("%s holds no discriminator (RTD) head: it starts fresh.", preset)
    if gen is None:
        g = pretrainer.generator
        log.warning("no generator source: a fresh generator (%d layers, hidden %d, %d heads) "
                    "on %s's embeddings.", g.num_layers, g.hidden_dim, g.num_heads, preset)
        return pretrainer
    differ = _embedding_tables_differ(disc, gen)
    if differ and not untied:
        log.warning("%s's embedding tables %s differ from %s's; the discriminator's (%s) are "
                    "kept, shared by both models as in G.", gen_where, differ, preset, preset)
    hf.set_backbone_weights_from_hf(pretrainer.generator, hf.backbone_to_hf_tensors(gen),
                                    skip_embeddings=not untied)
    if gen_head is not None:
        hf.assign_head_weights(pretrainer.generator_head, "generator", gen_head)
    else:
        log.warning("%s holds no generator (MLM) head: it starts fresh.", gen_where)
    return pretrainer
