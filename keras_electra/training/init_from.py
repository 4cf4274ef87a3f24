"""`keras-electra pretrain --init_from SRC [--init_generator_from GEN_SRC]`: continued pretraining.

A run that starts from released weights differs from a run from scratch only at step 0:

* **Architecture** from the source (`--model_size` may be left out; if given, the source must
  have that size). The generator comes from GEN_SRC, or from SRC when it is a
  google-research/electra TF1 checkpoint (which holds both); else it starts fresh, sized by
  `--generator_hidden_size` / `--generator_layers` (one line says so). Heads a source lacks
  start fresh (one line each). Loading: `keras_electra.convert.pretrainer.
  pretrainer_from_sources` (the embedding block shared as G shares it; which table is kept
  when a pair's two differ is said in one line).
* **Vocabulary** from the source (`check_vocabulary`, before any work): the shards' `prepare`
  manifest must record the source's vocabulary hash and a `--vocab_file` must be the same
  vocabulary, else a one-line `ConfigError` naming both sides and the `prepare` command.
* **Optimizer and schedule** fresh, from the flags (warmup included).
* **Checkpoints and resume** as for any run: the init flags are `resume.RESUME_CRITICAL`, and
  each checkpoint records the architecture (`architecture_of`), so a rerun builds the model
  from the checkpoint and restores it; it never reads SRC again.
* **Several processes** (TF MWMS, JAX): each reads the same source, and the fresh parts come
  from the same seed; `resume.restore`'s weight agreement check confirms identical weights.

Example:
```python
from keras_electra.training.pretrain import pretrain

pretrain(train_dir="shards/train", init_from="./electra-small-discriminator",
         init_generator_from="./electra-small-generator", total_steps=1000,
         warmup_steps=100, per_gpu_batch_size=32, max_seq_length=128)
```
"""

import logging
import os

from keras_electra.training.config import ConfigError

logger = logging.getLogger(__name__)

_SIZE_KEYS = ("num_layers", "num_heads", "hidden_dim", "embedding_dim", "intermediate_dim")


def architecture_of(model):
    """What a checkpoint records to rebuild `model` without its source: the discriminator's
    `ElectraBackbone` arguments and the generator config (JSON)."""
    from keras_electra.models.electra_pretrainer import _backbone_args

    return {"backbone": _backbone_args(model.backbone),
            "generator_config": dict(model.generator_config)}


def _prepare_command(config, vocab_where):
    folder = os.path.dirname(os.path.abspath(config.train_path))
    return (f"keras-electra prepare --input CORPUS --vocab_file {vocab_where} --output_dir "
            f"{folder} --max_seq_length {config.max_seq_length} --overwrite")


def _manifest_vocab_hash(shard_dir):
    """`(manifest path, vocab sha256)` recorded by `prepare` beside `shard_dir`, or Nones."""
    import json

    from keras_electra.data.pretraining_dataset import shard_manifest_path

    path = shard_manifest_path(shard_dir)
    try:
        with open(path, encoding="utf-8") as f:
            return path, json.load(f)["config"]["vocab_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None, None  # absent or unreadable: `check_manifest` reports the latter


def check_vocabulary(config, vocab_file):
    """The run's vocab file once the source's vocabulary is checked against the data.

    Raises ConfigError (one line) when `--vocab_file`, the shards' manifest, or the vocab.txt
    found beside the shards is another vocabulary than the source's. Returns `--vocab_file`,
    else the source's vocabulary file, else `vocab_file` (found beside the shards).
    """
    from keras_electra.convert.pretrainer import source_vocabulary
    from keras_electra.data.vocab import load_vocabulary, vocabulary_fingerprint

    try:
        tokens, where = source_vocabulary(config.init_path)
    except (OSError, ValueError) as error:
        raise ConfigError(f"--init_from {config.init_from}: {error}") from None
    if tokens is None:
        logger.info("--init_from %s: no vocabulary in the source; the run's (%s) must have its "
                    "%s", config.init_from, vocab_file or "none found", "vocabulary size")
        return vocab_file
    ours = vocabulary_fingerprint(tokens)
    prepare = _prepare_command(config, where)
    given = [("--vocab_file", config.vocab_file)] if config.vocab_file else []
    if not config.vocab_file and vocab_file:
        given.append(("the shards' vocab.txt", vocab_file))
    for flag, path in given:
        try:
            theirs = vocabulary_fingerprint(load_vocabulary(path))
        except (ValueError, OSError) as error:
            raise ConfigError(f"{flag} {path}: {error}") from None
        if theirs != ours:
            raise ConfigError(
                f"{flag} {path} (sha256 {theirs[:12]}...) is not the vocabulary of --init_from "
                f"{config.init_from} ({where}, sha256 {ours[:12]}...); use the source's "
                f"vocabulary: drop {flag} and prepare the shards with it: {prepare}")
    for flag, shard_dir in (("--train_dir", config.train_path), ("--val_dir", config.val_path)):
        if not shard_dir:
            continue
        manifest, theirs = _manifest_vocab_hash(shard_dir)
        if theirs and theirs != ours:
            raise ConfigError(
                f"{flag} {shard_dir} was prepared with another vocabulary ({manifest}: sha256 "
                f"{theirs[:12]}...) than --init_from {config.init_from} ({where}, sha256 "
                f"{ours[:12]}...); prepare the shards with the source's vocabulary: {prepare}")
    if config.vocab_file:
        return config.vocab_file
    return where if os.path.isfile(where) and where.endswith(".txt") else vocab_file


def _matching_preset(backbone_config):
    """Architecture preset names whose discriminator has these sizes."""
    from keras_electra.models.electra_presets import ARCHITECTURE_PRESETS

    return [name for name, spec in ARCHITECTURE_PRESETS.items()
            if all(spec["backbone"][k] == backbone_config[k] for k in _SIZE_KEYS)]


def build_pretrainer(config, tokenizer, kwargs, architecture=None):
    """The pretrainer of a `--init_from` run: from the source (step 0), or, resuming, the
    `architecture` its checkpoint recorded (weights left to the checkpoint restore).

    `kwargs` are `training.pretrain.build_pretrainer`'s pretrainer arguments.
    """
    import keras

    from keras_electra.models.electra_backbone import ElectraBackbone
    from keras_electra.models.electra_presets import ARCHITECTURE_PRESETS
    from keras_electra.models.electra_pretrainer import ElectraPretrainer

    kwargs = dict(kwargs)
    vocabulary_size = kwargs.pop("vocabulary_size", None)
    keras.utils.set_random_seed(config.seed)
    if architecture is not None:
        backbone_args = {**architecture["backbone"], "dropout": kwargs.pop("dropout"),
                         "attention_dropout": kwargs.pop("attention_dropout")}
        logger.info("--init_from: resuming; the architecture comes from the checkpoint, the "
                    "weights from its restore (the source is not read)")
        return ElectraPretrainer(ElectraBackbone(**backbone_args),
                                 generator_config=architecture["generator_config"], **kwargs)
    spec = ARCHITECTURE_PRESETS.get(f"electra_{config.model_size}") if config.model_size else None
    if spec is not None:  # the preset's generator and mask_prob, as a run from scratch
        kwargs.setdefault("generator_hidden_size", spec["generator_hidden_size"])
        kwargs.setdefault("generator_layers", spec["generator_layers"])
        kwargs.setdefault("mask_prob", spec["pretraining"]["mask_prob"])
    try:
        model = ElectraPretrainer.from_preset(config.init_path,
                                              generator_preset=config.init_generator_path,
                                              **kwargs)
    except (ValueError, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise ConfigError(f"--init_from {config.init_from}: {first}") from None
    source = _backbone_sizes(model.backbone)
    if config.model_size and not (spec and all(spec["backbone"][k] == source[k]
                                               for k in _SIZE_KEYS)):
        raise ConfigError(
            f"--model_size {config.model_size} does not match --init_from {config.init_from} "
            f"({', '.join(f'{k} {source[k]}' for k in _SIZE_KEYS)}; matches "
            f"{_matching_preset(source) or 'no preset'}); drop --model_size (the source's "
            "architecture is used).")
    if vocabulary_size is not None and vocabulary_size != model.backbone.vocabulary_size:
        raise ConfigError(
            f"--init_from {config.init_from} has {model.backbone.vocabulary_size} vocabulary "
            f"ids but the run's vocabulary has {vocabulary_size}; prepare the shards with the "
            "source's vocabulary (keras-electra prepare --vocab_file SOURCE_VOCAB ...).")
    if "mask_prob" not in kwargs and spec is None:
        matches = _matching_preset(source)
        if matches:  # e.g. large: 0.25, as a run from scratch at that size
            model.mask_prob = ARCHITECTURE_PRESETS[matches[0]]["pretraining"]["mask_prob"]
    _check_generator_flags(config, model)
    return model


def _backbone_sizes(backbone):
    return {k: getattr(backbone, k) for k in ("vocabulary_size", *_SIZE_KEYS)}


def _check_generator_flags(config, model):
    """--generator_hidden_size / --generator_layers must describe a loaded generator."""
    if config.init_generator_from is None and not _has_loaded_generator(model, config):
        return
    from keras_electra.models.electra_presets import generator_config

    disc = {k: getattr(model.backbone, k) for k in ("hidden_dim", "num_layers")}
    expected = generator_config(disc, config.generator_hidden_size or 1.0,
                                config.generator_layers or 1.0)
    gen = model.generator
    wrong = []
    if config.generator_hidden_size is not None and expected["hidden_dim"] != gen.hidden_dim:
        wrong.append(f"--generator_hidden_size {config.generator_hidden_size}")
    if config.generator_layers is not None and expected["num_layers"] != gen.num_layers:
        wrong.append(f"--generator_layers {config.generator_layers}")
    if wrong:
        raise ConfigError(
            f"{' and '.join(wrong)} do(es) not describe the source's generator (hidden "
            f"{gen.hidden_dim}, {gen.num_layers} layers; the discriminator's hidden "
            f"{disc['hidden_dim']}, {disc['num_layers']} layers); drop the flag(s).")


def _has_loaded_generator(model, config):
    from keras_electra.convert.pretrainer import GOOGLE_SOURCE, source_kind

    return source_kind(config.init_path) == GOOGLE_SOURCE
