"""GLUE / text-classification fine-tuning driver: read, build, train, predict, evaluate.

`run_glue(...)` is what `keras-electra glue` calls. It follows google-research/electra
(`run_finetuning.py`, `finetune/classification/classification_tasks.py`,
`configure_finetuning.py`) where the options allow:

* data: GLUE's TSV layouts (`keras_electra.glue.tasks`), read and checked in full before
  any model is built; MRPC and STS-B training pairs also in swapped order
  (`double_unordered`); STS-B targets divided by 5 (G), predictions multiplied back;
* model: `ElectraTextClassifier` on any backbone preset, `head="hf"` (transformers'
  `ElectraClassificationHead`, the default) or `"electra"` (G's single dense layer);
* optimizer: `create_optimizer` (AdamW, wd 0.01, clip 1.0, 10 % warmup, linear decay)
  with layer-wise lr decay 0.8 (the head at the base rate);
* outputs in `output_dir`: `eval.json` (GLUE's metrics of the dev set; MNLI matched and
  mismatched), `dev_predictions.tsv` (`index<TAB>prediction`, one row per dev example in
  file order: the label, or the STS-B score; MNLI's mismatched set in
  `dev_mismatched_predictions.tsv`), `train.json` and the model as a preset in
  `output_dir/model` (`ElectraTextClassifier.from_preset`, `keras-electra export`).

Example:
```python
from keras_electra.training.glue import run_glue

result = run_glue("rte_out", task="rte", data_dir="glue_data/RTE",
                  load_from="checkpoint", checkpoint_path="electra_small_preset")
result["eval"]["accuracy"]
```
"""

import dataclasses
import json
import logging
import os

from keras_electra.glue.metrics import glue_metrics
from keras_electra.glue.tasks import (
    GLUE_TASKS,
    STSB_MAX,
    Example,
    read_generic_file,
    read_glue_split,
)
from keras_electra.training import distribute, fine_tuning
from keras_electra.training.glue_config import GlueConfig, GlueOptionError
from keras_electra.utils.errors import InputFileError
from keras_electra.utils.output_dirs import staged_output_dir, write_file_atomically
from keras_electra.utils.preset_dirs import HF, preset_kind

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class GlueData:
    """What a run reads: the examples, the label set and the metrics to report."""

    train: list
    dev: dict  # split name -> examples, in file order
    labels: tuple  # () for regression
    metrics: tuple
    scale: float  # regression targets are divided by it (G: STS-B / 5)
    name: str

    @property
    def num_classes(self):
        return 1 if not self.labels else len(self.labels)


def read_glue_data(config):
    """Validate the options and read every file (before any expensive work)."""
    config.validate()
    if config.task:
        task = GLUE_TASKS[config.task]
        skipped = {}
        train = read_glue_split(task, config.data_dir, "train", config.lenient,
                                skipped.setdefault("train", []))
        dev = {split: read_glue_split(task, config.data_dir, split, config.lenient,
                                      skipped.setdefault(split, []))
               for split in task.dev_splits}
        for split, lines in skipped.items():
            if lines:
                logger.warning("--lenient: skipped %d malformed lines of %s (lines %s%s)",
                               len(lines), split, lines[:10], " ..." if len(lines) > 10 else "")
        if config.double_unordered and task.double_unordered:
            train = train + [Example(e.text_b, e.text_a, e.label, e.line) for e in train]
        return GlueData(train, dev, task.labels, task.metrics,
                        STSB_MAX if task.is_regression else 1.0, task.name)
    columns = config.text_column_names()
    if config.regression:
        labels = ()
    elif config.labels:
        labels = tuple(label.strip() for label in config.labels.split(","))
    else:
        labels = None
    train = read_generic_file(config.train_file, columns, config.label_column, labels) \
        if config.train_file else None
    if labels is None:
        if train is None:
            raise GlueOptionError("--dev_file without --train_file needs --labels (the label "
                                  "set, in the order of the model's outputs)")
        labels = tuple(sorted({e.label for e in train}))
        if len(labels) < 2:
            raise InputFileError(f"{config.train_file}: only one label ({labels[0]!r}) in the "
                                 "training file; a classifier needs two or more (or pass "
                                 "--regression)")
    dev = {}
    if config.dev_file:
        dev["dev"] = read_generic_file(config.dev_file, columns, config.label_column, labels)
    metrics = ("pearson", "spearman") if not labels else (
        ("f1", "accuracy") if set(labels) == {"0", "1"} else ("accuracy", "mcc"))
    return GlueData(train, dev, labels, metrics, 1.0, "generic")


# --------------------------------------------------------------------------- model


def build_text_classifier(config, data):
    """An `ElectraTextClassifier` with its preprocessor, for `data`'s labels."""
    from keras_electra import ElectraBackbone, ElectraTextClassifier
    from keras_electra.convert.text_classifier import is_text_classifier_preset
    from keras_electra.models.electra_text_classifier_preprocessor import (
        ElectraTextClassifierPreprocessor,
    )
    from keras_electra.training.finetune import load_tokenizer

    backbone_kwargs = {} if config.dropout is None else {"dropout": config.dropout}
    label_names = list(data.labels) or None
    if config.load_from == "checkpoint":
        path = config.checkpoint_path
        if os.path.isdir(str(path)) and is_text_classifier_preset(path):
            task = ElectraTextClassifier.from_preset(str(path))
            if task.num_classes != data.num_classes or task.head != config.head or (
                    task.label_names and label_names and task.label_names != label_names):
                raise GlueOptionError(
                    f"--checkpoint_path {path}: a classifier with head={task.head!r} and labels "
                    f"{task.label_names or task.num_classes}, but this run needs head="
                    f"{config.head!r} and {label_names or 'one regression output'}; pass the "
                    "matching --head, or the backbone's preset to start a new head")
            if task.preprocessor is None:
                task.preprocessor = ElectraTextClassifierPreprocessor(
                    load_tokenizer(path, config.vocab_file), config.max_seq_length)
            task.preprocessor.sequence_length = config.max_seq_length
            return task
        tokenizer = load_tokenizer(path, config.vocab_file)
        if preset_kind(path) == HF:
            from keras_electra.convert import hf

            backbone = hf.backbone_from_hf(path, **backbone_kwargs)
        else:
            backbone = ElectraBackbone.from_preset(str(path), **backbone_kwargs)
    else:
        tokenizer = load_tokenizer(None, config.vocab_file)
        backbone = ElectraBackbone.from_preset(
            config.preset, vocabulary_size=tokenizer.vocabulary_size(), **backbone_kwargs)
    if backbone.vocabulary_size < tokenizer.vocabulary_size():
        raise GlueOptionError(f"the vocabulary has {tokenizer.vocabulary_size()} tokens but the "
                              f"model's embedding table only {backbone.vocabulary_size}; pass "
                              "the model's vocab.txt")
    if config.max_seq_length > backbone.max_sequence_length:
        raise GlueOptionError(f"--max_seq_length {config.max_seq_length} exceeds the model's "
                              f"{backbone.max_sequence_length} positions")
    preprocessor = ElectraTextClassifierPreprocessor(tokenizer, config.max_seq_length)
    return ElectraTextClassifier(backbone, num_classes=data.num_classes,
                                 preprocessor=preprocessor, head=config.head,
                                 label_names=label_names)


# --------------------------------------------------------------------------- data


def _targets(examples, data):
    import numpy as np

    if not data.labels:
        return np.asarray([[e.label / data.scale] for e in examples], np.float32)
    index = {label: i for i, label in enumerate(data.labels)}
    return np.asarray([index[e.label] for e in examples], np.int32)


def _texts(examples):
    a = [e.text_a for e in examples]
    if examples and examples[0].text_b is not None:
        return a, [e.text_b for e in examples]
    return a, None


def _dataset(task, examples, batch, data=None, shuffle_seed=None, repeat=False):
    """Raw strings -> `tf.data` of model inputs (the preprocessor's TF ops, no JAX inside)."""
    import tensorflow as tf

    a, b = _texts(examples)
    x = {"text_a": a} if b is None else {"text_a": a, "text_b": b}
    ds = tf.data.Dataset.from_tensor_slices(x if data is None else (x, _targets(examples, data)))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(examples), seed=shuffle_seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch, drop_remainder=repeat)
    preprocessor = task.preprocessor
    if data is None:
        ds = ds.map(lambda x: preprocessor(x), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda x, y: preprocessor(x, y), num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------- run


def _fine_tune(task, data, config, strategy, replicas, is_chief, verbose):
    from keras_electra.models.electra_text_classifier import HEAD_PREFIX

    global_batch = config.per_gpu_batch_size * replicas
    total_steps, warmup_steps = fine_tuning.schedule_steps(
        config, len(data.train), global_batch, config.resolved_epochs())
    fine_tuning.compile_with_layerwise_decay(task, config, strategy, total_steps, warmup_steps,
                                             head_prefixes=(HEAD_PREFIX,))
    if is_chief:
        print(f"{data.name} fine-tuning: {len(data.train)} examples, global batch "
              f"{global_batch}, {total_steps} steps (warmup {warmup_steps}), lr "
              f"{config.learning_rate}, layer-wise decay {config.layerwise_lr_decay}, head "
              f"{task.head}", flush=True)
    dataset = _dataset(task, data.train, global_batch, data, shuffle_seed=config.seed,
                       repeat=True)
    history, seconds = fine_tuning.fit_steps(task, dataset, len(data.train), global_batch,
                                             total_steps, verbose if is_chief else 0)
    losses = history.history.get("loss", [])
    return {"train_seconds": seconds, "total_steps": total_steps,
            "warmup_steps": warmup_steps, "global_batch": global_batch,
            "num_train_examples": len(data.train),
            "final_loss": float(losses[-1]) if losses else None}


def predict_labels(task, examples, data, batch_size=32, verbose=0):
    """Predictions for `examples`: label strings, or scores (x the regression scale)."""
    import numpy as np

    logits = np.asarray(task.predict(_dataset(task, examples, batch_size), verbose=verbose))
    if logits.shape[0] != len(examples):
        raise RuntimeError(f"{logits.shape[0]} predictions for {len(examples)} examples")
    if not data.labels:
        return [float(v) * data.scale for v in logits[:, 0]]
    return [data.labels[i] for i in np.argmax(logits, axis=-1)]


def _format(prediction):
    return repr(float(prediction)) if isinstance(prediction, float) else str(prediction)


def write_predictions(path, predictions):
    """`index<TAB>prediction`, one row per example in file order (written atomically)."""
    lines = ["index\tprediction"] + [f"{i}\t{_format(p)}" for i, p in enumerate(predictions)]
    write_file_atomically(path, "\n".join(lines) + "\n")
    return path


def _evaluate(task, data, config, is_chief, verbose):
    batch = config.predict_batch_size or config.per_gpu_batch_size
    splits, paths = {}, {}
    for number, (split, examples) in enumerate(data.dev.items()):
        predictions = predict_labels(task, examples, data, batch, verbose if is_chief else 0)
        name = "dev_predictions.tsv" if number == 0 else f"{split}_predictions.tsv"
        if is_chief:
            paths[f"{split}_predictions"] = write_predictions(
                os.path.join(config.output_dir, name), predictions)
        metrics = glue_metrics(data.metrics, [e.label for e in examples], predictions)
        splits[split] = {**metrics, "num_examples": len(examples)}
    first = next(iter(splits.values()))
    evaluation = {"task": data.name, **first, "splits": splits}
    if is_chief:
        paths["eval"] = os.path.join(config.output_dir, "eval.json")
        write_file_atomically(paths["eval"], json.dumps(evaluation, indent=2) + "\n")
        print(json.dumps(evaluation, indent=2), flush=True)
    return evaluation, paths


def run_glue(config=None, /, *, verbose="auto", save_model=True, **options):
    """Fine-tune on a GLUE task (or your own files), evaluate on dev, save the model.

    `config` is a `GlueConfig` (or its `output_dir`); its fields can also be given as
    keywords. Returns `{"eval": metrics or None, "paths": written files, "model": the
    classifier, "total_steps", "train_seconds", ...}`.
    """
    import keras

    if isinstance(config, GlueConfig):
        config = dataclasses.replace(config, **options)
    else:
        config = GlueConfig(**options) if config is None else GlueConfig(config, **options)
    data = read_glue_data(config)
    keras.utils.set_random_seed(config.seed)
    os.makedirs(config.output_dir, exist_ok=True)
    runtime = distribute.set_up_runtime(auto_shard_dataset=True)
    strategy, replicas, is_chief = runtime.strategy, runtime.num_replicas, runtime.is_chief
    with distribute.strategy_scope(strategy):
        task = build_text_classifier(config, data)
    result = {"eval": None, "paths": {}, "model": task, "total_steps": 0, "train_seconds": 0.0}
    if data.train:
        figures = _fine_tune(task, data, config, strategy, replicas, is_chief, verbose)
        result.update(figures)
        if is_chief:
            result["paths"]["train"] = os.path.join(config.output_dir, "train.json")
            write_file_atomically(result["paths"]["train"], json.dumps(figures, indent=2) + "\n")
            if save_model:
                model_dir = os.path.join(config.output_dir, "model")
                with staged_output_dir(model_dir, flag="--output_dir model") as staging:
                    task.save_to_preset(staging)
                result["paths"]["model"] = model_dir
    if data.dev:
        result["eval"], paths = _evaluate(task, data, config, is_chief, verbose)
        result["paths"].update(paths)
    return result
