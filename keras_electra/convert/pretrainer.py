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
