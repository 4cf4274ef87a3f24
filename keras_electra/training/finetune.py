"""SQuAD fine-tuning driver: build, train, predict, post-process, evaluate.

`run_squad(...)` is what `keras-electra squad` and notebooks call. It follows G
(`run_finetuning.py` + `configure_finetuning.py`) where the flags allow and
takes the AWS scripts' flag names:

* optimizer: `create_optimizer` (AdamW, wd 0.01 excluding LayerNorm/bias,
  global-norm clip 1.0, linear warmup (default 10 % of the steps) then linear
  decay to 0) with G's layer-wise lr decay (0.8) as per-variable multipliers;
* features: `max_seq_length` (G 512, A 384), `doc_stride` 128,
  `max_query_length` 64; global batch = `per_gpu_batch_size` x replicas;
* distribution: `keras_electra.training.distribute` (MWMS / Mirrored / one
  device on TF, `DataParallel` on JAX), as in pretraining;
* outputs in `output_dir`: `predictions.json`, `null_odds.json`,
  `non_null_predictions.json`, `nbest.json`, `eval.json`, and the fine-tuned
  task as a preset in `output_dir/model` (load it with
  `ElectraQuestionAnswerer.from_preset` or `keras-electra answer --model`).

Example:
```python
from keras_electra.training.finetune import run_squad

result = run_squad(train_file="train-v2.0.json", predict_file="dev-v2.0.json",
                   output_dir="squad_out", preset="electra_small",
                   vocab_file="vocab.txt", total_steps=100, max_seq_length=384)
result["eval"]["exact"], result["eval"]["best_f1"]
```
"""

import dataclasses
import json
import logging
import os

from keras_electra.squad.answering import predict_features
from keras_electra.squad.loading import (  # noqa: F401 (re-exported)
    build_question_answerer,
    check_max_seq_length,
    check_vocabulary_fits,
    load_question_answerer,
    load_tokenizer,
)
from keras_electra.training import distribute, fine_tuning
from keras_electra.training.squad_config import SquadConfig
from keras_electra.utils.output_dirs import staged_output_dir, write_file_atomically

logger = logging.getLogger(__name__)

# Loading a task lives in squad/loading.py (inference does not import training); the three
# loaders stay importable from here: `from keras_electra.training.finetune import load_tokenizer`.


def _train_dataset(features, global_batch, seed):
    import tensorflow as tf

    data = (features.inputs(), features.labels())
    ds = tf.data.Dataset.from_tensor_slices(data)
    ds = ds.shuffle(len(features), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(global_batch, drop_remainder=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def _restrict_dataset(dataset, qids):
    return [{"title": article.get("title", ""), "paragraphs": [
        {"qas": [qa for qa in paragraph.get("qas", [])
                 if isinstance(qa, dict) and qa.get("id") in qids]}
        for paragraph in article.get("paragraphs", []) if isinstance(paragraph, dict)]}
        for article in dataset if isinstance(article, dict)]


PREDICT_OUTPUT_FILES = ("predictions.json", "null_odds.json", "non_null_predictions.json",
                        "nbest.json", "eval.json")
TRAIN_OUTPUT_FILES = ("train.json", "model")


def check_squad_outputs(config):
    """Refuse (before any work) an --output_dir whose outputs would replace an input: a SQuAD
    file, the checkpoint or vocabulary it reads, or a file it names (`out/predictions.json`
    given as --predict_file)."""
    from keras_electra.utils.output_dirs import check_output_not_input

    inputs = [("--train_file", config.train_file), ("--predict_file", config.predict_file),
              ("--checkpoint_path", config.checkpoint_path),
              ("--vocab_file", config.vocab_file)]
    if os.path.exists(config.output_dir) and not os.path.isdir(config.output_dir):
        from keras_electra.utils.errors import InputFileError

        raise InputFileError(f"--output_dir {config.output_dir}: exists and is not a "
                             "directory; choose another path.")
    outputs = ((PREDICT_OUTPUT_FILES if config.predict_file else ())
               + (TRAIN_OUTPUT_FILES if config.train_file else ()))
    for name in outputs:  # only what this run writes
        check_output_not_input(os.path.join(config.output_dir, name), inputs,
                               f"--output_dir ({name})", "SQuAD outputs")


def _read_inputs(config):
    """Validate the options and read (validate) both SQuAD files before any expensive work:
    a malformed dev file must not cost a model build and a fine-tuning run to be noticed."""
    from keras_electra.squad.reader import read_squad

    config.validate()
    check_squad_outputs(config)
    train = dev = None
    if config.train_file:
        train = read_squad(config.train_file, squad_version=config.squad_version,
                           lenient=config.lenient, is_training=True)
    if config.predict_file:
        dev = read_squad(config.predict_file, squad_version=config.squad_version,
                         lenient=config.lenient)
    return train, dev


def _build_task(config, strategy):
    with distribute.strategy_scope(strategy):
        return build_question_answerer(
            preset=config.preset, load_from=config.load_from,
            checkpoint_path=config.checkpoint_path, head=config.head,
            vocab_file=config.vocab_file, max_seq_length=config.max_seq_length,
            doc_stride=config.doc_stride, max_query_length=config.max_query_length,
            dropout=config.dropout)


def _fine_tune(task, train, config, strategy, replicas, is_chief, verbose):
    """Featurize `train`, compile with `create_optimizer` and fit; returns the run's figures."""
    if train.skipped:
        logger.warning("skipped %d malformed training questions: %s",
                       sum(train.skipped.values()), dict(train.skipped))
    features = task.preprocessor.featurize(train.examples, is_training=True)
    global_batch = config.per_gpu_batch_size * replicas
    total_steps, warmup_steps = fine_tuning.schedule_steps(config, len(features), global_batch,
                                                           config.epochs)
    fine_tuning.compile_with_layerwise_decay(task, config, strategy, total_steps, warmup_steps)
    if is_chief:
        print(f"SQuAD fine-tuning: {len(train.examples)} questions -> {len(features)} "
              f"features, global batch {global_batch}, {total_steps} steps "
              f"(warmup {warmup_steps}), lr {config.learning_rate}, layer-wise decay "
              f"{config.layerwise_lr_decay}, head {config.head}", flush=True)
    dataset = _train_dataset(features, global_batch, config.seed)  # shuffled, seeded
    _, seconds = fine_tuning.fit_steps(task, dataset, len(features), global_batch, total_steps,
                                       verbose if is_chief else 0)
    return {"train_seconds": seconds, "total_steps": total_steps,
            "warmup_steps": warmup_steps, "global_batch": global_batch,
            "num_train_questions": len(train.examples), "num_train_features": len(features)}


def _save_task(task, output_dir):
    """`output_dir/model`, written aside and swapped in whole: a failed save keeps an earlier
    model intact (the checkpoint it was loaded from may be this very dir: it is read already)."""
    model_dir = os.path.join(output_dir, "model")
    with staged_output_dir(model_dir, flag="--output_dir model") as staging:
        task.save_to_preset(staging)
    return model_dir


def _predict_and_evaluate(task, dev, config, is_chief, verbose):
    """Predictions for `dev` and their official evaluation; the chief writes both files."""
    from keras_electra.squad.metrics import evaluate_v1, evaluate_v2
    from keras_electra.squad.postprocess import postprocess_predictions, write_predictions

    features = task.preprocessor.featurize(dev.examples, is_training=False)
    outputs = predict_features(task, features,
                               batch_size=config.predict_batch_size or config.per_gpu_batch_size,
                               verbose=verbose if is_chief else 0)
    predictions = postprocess_predictions(features, outputs, head=config.head,
                                          null_threshold=config.null_threshold,
                                          tokenizer=task.preprocessor.tokenizer)
    dataset = dev.dataset
    if dev.skipped:  # --lenient: score only the questions that were read
        dataset = _restrict_dataset(dataset, {e.qas_id for e in dev.examples})
    paths = {}
    if is_chief:  # before scoring: a diverged model's outputs are kept for inspection
        paths.update(write_predictions(predictions, config.output_dir))
    if dev.version == "squadv1":
        evaluation = evaluate_v1(dataset, predictions.non_null_predictions)
    else:  # refuses non-finite null odds (a diverged model), naming the question
        evaluation = evaluate_v2(dataset, predictions.non_null_predictions,
                                 na_probs=predictions.null_odds,
                                 na_prob_thresh=predictions.threshold)
    evaluation = dict(evaluation)
    if is_chief:
        paths["eval"] = os.path.join(config.output_dir, "eval.json")
        write_file_atomically(paths["eval"], json.dumps(evaluation, indent=2))
        print(json.dumps(evaluation, indent=2), flush=True)
    return predictions, evaluation, paths


def run_squad(config=None, /, *, verbose="auto", save_model=True, **options):
    """Fine-tune on SQuAD (`train_file`), then predict and evaluate (`predict_file`).

    `config` is a `SquadConfig`; its fields can also be given as keywords (over `config`'s),
    with `output_dir` first: `run_squad("out", train_file=..., predict_file=...)`. Either file
    may be omitted (train only / predict only). Returns a dict: `{"eval": official metrics or
    None, "paths": written files, "total_steps", "warmup_steps", "global_batch",
    "num_train_questions", "num_train_features", "train_seconds", "model": the task}` (and
    `"predictions"` when predicting). Training writes those figures to `output_dir/train.json`.
    """
    import keras

    if isinstance(config, SquadConfig):
        config = dataclasses.replace(config, **options)
    else:
        config = SquadConfig(**options) if config is None else SquadConfig(config, **options)
    train, dev = _read_inputs(config)
    keras.utils.set_random_seed(config.seed)
    os.makedirs(config.output_dir, exist_ok=True)
    # the SQuAD pipeline yields global batches: Keras gives each process its rows
    runtime = distribute.set_up_runtime(auto_shard_dataset=True)
    strategy, replicas, is_chief = runtime.strategy, runtime.num_replicas, runtime.is_chief
    task = _build_task(config, strategy)
    result = {"eval": None, "paths": {}, "total_steps": 0, "num_train_features": 0,
              "train_seconds": 0.0, "model": task}
    if train is not None:
        figures = _fine_tune(task, train, config, strategy, replicas, is_chief, verbose)
        result.update(figures)
        if is_chief:  # the run's figures for scripts (the demo), not only printed
            result["paths"]["train"] = os.path.join(config.output_dir, "train.json")
            write_file_atomically(result["paths"]["train"], json.dumps(figures, indent=2) + "\n")
        if save_model and is_chief:
            result["paths"]["model"] = _save_task(task, config.output_dir)
    if dev is not None:
        result["predictions"], result["eval"], paths = _predict_and_evaluate(
            task, dev, config, is_chief, verbose)
        result["paths"].update(paths)
    return result
