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

import json
import logging
import math
import os
import time

import numpy as np

from keras_electra.convert import hf
from keras_electra.utils.output_dirs import staged_output_dir
from keras_electra.utils.preset_dirs import HF, QA_TASK, preset_kind

logger = logging.getLogger(__name__)

HEADS = ("electra", "simple")


def _task_from_preset(path):
    """`ElectraQuestionAnswerer.from_preset`, without keras-hub's harmless warning that the
    saved optimizer state (in task.weights.h5) does not fit the fresh default optimizer."""
    import warnings

    from keras_electra import ElectraQuestionAnswerer

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        return ElectraQuestionAnswerer.from_preset(str(path))


def load_tokenizer(preset=None, vocab_file=None):
    """Tokenizer from `vocab_file`, else from a preset dir (ours or HF)."""
    from keras_electra import ElectraTokenizer

    if vocab_file:
        return ElectraTokenizer(vocabulary=str(vocab_file))
    if preset and os.path.isdir(str(preset)):
        if os.path.isfile(os.path.join(preset, "tokenizer.json")):
            return ElectraTokenizer.from_preset(str(preset))
        if preset_kind(preset) == HF:
            tokenizer = hf.tokenizer_from_hf(preset)
            if tokenizer is not None:
                return tokenizer
    raise ValueError(
        f"no vocabulary: {preset!r} holds no tokenizer (tokenizer.json / vocab.txt); pass "
        "--vocab_file vocab.txt (build one with `keras-electra build-vocab`)")


def build_question_answerer(preset="electra_small", load_from="scratch", checkpoint_path=None,
                            head="electra", vocab_file=None, max_seq_length=384,
                            doc_stride=128, max_query_length=64, dropout=None):
    """An `ElectraQuestionAnswerer` with its preprocessor.

    * `load_from="scratch"`: random init from an architecture preset
      (`electra_tiny`, `electra_small`, ...); needs `vocab_file`.
    * `load_from="checkpoint"`: `checkpoint_path` is one of our QA presets
      (`task.json`: continue fine-tuning, head included), any backbone preset
      `ElectraBackbone.from_preset` understands (our pretraining exports,
      keras-hub presets, HF Electra dirs); an HF `ElectraForQuestionAnswering`
      dir with `head="simple"` also brings its `qa_outputs` weights.
    """
    from keras_electra import ElectraBackbone, ElectraQuestionAnswerer
    from keras_electra.models.electra_question_answerer_preprocessor import (
        ElectraQuestionAnswererPreprocessor,
    )

    if head not in HEADS:
        raise ValueError(f"--head must be one of {HEADS}, got {head!r}")
    if load_from not in ("scratch", "checkpoint"):
        raise ValueError(f"--load_from must be 'scratch' or 'checkpoint', got {load_from!r}")
    hf_checkpoint = None
    if load_from == "checkpoint":
        if not checkpoint_path:
            raise ValueError("--load_from checkpoint needs --checkpoint_path PRESET_DIR")
        kind = preset_kind(checkpoint_path)
        if kind == QA_TASK:
            task = _task_from_preset(checkpoint_path)
            if task.head != head:
                raise ValueError(f"{checkpoint_path} holds a head={task.head!r} model; "
                                 f"pass --head {task.head}")
            if task.preprocessor is None:
                task.preprocessor = ElectraQuestionAnswererPreprocessor(
                    load_tokenizer(checkpoint_path, vocab_file), max_seq_length,
                    max_query_length, doc_stride)
            else:
                task.preprocessor.sequence_length = max_seq_length
                task.preprocessor.doc_stride = doc_stride
                task.preprocessor.max_query_length = max_query_length
            return task
        tokenizer = load_tokenizer(checkpoint_path, vocab_file)
        kwargs = {} if dropout is None else {"dropout": dropout}
        if kind == HF:  # read once: the backbone and (below) qa_outputs
            hf_checkpoint = hf.load_hf_checkpoint(checkpoint_path)
            backbone = hf.backbone_from_hf(hf_checkpoint, **kwargs)
        else:
            backbone = ElectraBackbone.from_preset(str(checkpoint_path), **kwargs)
    else:
        tokenizer = load_tokenizer(None, vocab_file)
        kwargs = {"vocabulary_size": tokenizer.vocabulary_size()}
        if dropout is not None:
            kwargs["dropout"] = dropout
        backbone = ElectraBackbone.from_preset(preset, **kwargs)
    if backbone.vocabulary_size < tokenizer.vocabulary_size():
        raise ValueError(f"the vocabulary has {tokenizer.vocabulary_size()} tokens but the "
                         f"model's embedding table only {backbone.vocabulary_size}")
    if max_seq_length > backbone.max_sequence_length:
        raise ValueError(f"--max_seq_length {max_seq_length} exceeds the model's "
                         f"{backbone.max_sequence_length} positions")
    preprocessor = ElectraQuestionAnswererPreprocessor(
        tokenizer, sequence_length=max_seq_length, max_query_length=max_query_length,
        doc_stride=doc_stride)
    task = ElectraQuestionAnswerer(backbone, preprocessor=preprocessor, head=head)
    if head == "simple" and hf_checkpoint is not None and "qa" in hf_checkpoint.heads:
        hf.assign_head_weights(task.qa_outputs, "qa", hf.hf_qa_weights(hf_checkpoint))
        logger.info("loaded qa_outputs from %s", checkpoint_path)
    return task


def load_question_answerer(preset, vocab_file=None, head="simple", max_seq_length=None):
    """A ready-to-predict `ElectraQuestionAnswerer` from our QA preset or an HF QA dir."""
    from keras_electra.models.electra_question_answerer_preprocessor import (
        ElectraQuestionAnswererPreprocessor,
    )

    kind = preset_kind(preset) if os.path.isdir(str(preset)) else None  # local dirs only
    if kind == QA_TASK:
        task = _task_from_preset(preset)
        if task.preprocessor is None:
            task.preprocessor = ElectraQuestionAnswererPreprocessor(
                load_tokenizer(preset, vocab_file), sequence_length=max_seq_length or 384)
        elif max_seq_length:
            task.preprocessor.sequence_length = max_seq_length
        return task
    if kind == HF:
        return build_question_answerer(load_from="checkpoint", checkpoint_path=preset,
                                       head=head, vocab_file=vocab_file,
                                       max_seq_length=max_seq_length or 384)
    raise ValueError(f"{preset!r}: not a fine-tuned QA preset (no task.json for "
                     "ElectraQuestionAnswerer) nor an HF Electra dir; fine-tune one with "
                     "`keras-electra squad` (it saves OUTPUT_DIR/model)")


def predict_features(task, features, batch_size=32, verbose="auto"):
    """Runs the model over `SquadFeatures`; returns a dict of numpy arrays."""
    outputs = task.predict(features.inputs(), batch_size=batch_size, verbose=verbose)
    return {k: np.asarray(v) for k, v in outputs.items()}


def answer_question(task, question, context, null_threshold=None):
    """Answer one question: `{"answer", "score", "null_odds", "char_start", "char_end"}`.

    `answer` is "" when the null decision says "no answer".
    """
    from keras_electra.squad.postprocess import postprocess_predictions
    from keras_electra.squad.reader import SquadExample

    if not question.strip() or not context.strip():
        raise ValueError("both --question and --context must be non-empty")
    example = SquadExample("question", question, context, [], False)
    features = task.preprocessor.featurize([example], progress=False)
    outputs = predict_features(task, features, batch_size=16, verbose=0)
    result = postprocess_predictions(features, outputs, head=task.head,
                                     null_threshold=null_threshold)
    nbest = result.nbest["question"]
    best = nbest[0] if nbest else {"text": "", "score": float("nan"), "char_start": -1,
                                   "char_end": -1}
    return {"answer": result.predictions["question"], "best_span": best["text"],
            "score": best["score"], "null_odds": result.null_odds["question"],
            "null_threshold": result.threshold, "char_start": best["char_start"],
            "char_end": best["char_end"]}


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


def _set_up_distribution():
    import keras

    from keras_electra.training import distribute

    if keras.backend.backend() == "tensorflow":
        strategy = distribute.create_strategy()
        _, _, is_chief = distribute.strategy_worker_info(strategy)
        return strategy, strategy.num_replicas_in_sync, is_chief
    if keras.backend.backend() == "jax":
        # the SQuAD pipeline yields global batches: Keras gives each process its rows
        distribution = distribute.setup_jax_data_parallel(auto_shard_dataset=True)
        _, _, is_chief = distribute.jax_process_info()
        replicas = len(distribution.device_mesh.devices.flatten()) if distribution else 1
        return None, replicas, is_chief
    raise ValueError(f"keras backend {keras.backend.backend()!r}: use tensorflow or jax")


def _restrict_dataset(dataset, qids):
    return [{"title": article.get("title", ""), "paragraphs": [
        {"qas": [qa for qa in paragraph.get("qas", [])
                 if isinstance(qa, dict) and qa.get("id") in qids]}
        for paragraph in article.get("paragraphs", []) if isinstance(paragraph, dict)]}
        for article in dataset if isinstance(article, dict)]


class _NullScope:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def run_squad(output_dir, train_file=None, predict_file=None, squad_version=None,
              load_from="scratch", checkpoint_path=None, preset="electra_small",
              vocab_file=None, head="electra", per_gpu_batch_size=32, predict_batch_size=None,
              learning_rate=1e-4, warmup_steps=None, warmup_proportion=0.1, total_steps=None,
              epochs=2.0, max_seq_length=384, doc_stride=128, max_query_length=64,
              layerwise_lr_decay=0.8, weight_decay=0.01, optimizer="adamw", dropout=None,
              null_threshold=None, lenient=False, seed=0, verbose="auto", save_model=True):
    """Fine-tune on SQuAD (`train_file`), then predict and evaluate (`predict_file`).

    Either file may be omitted (train only / predict only). Returns a dict:
    `{"eval": official metrics or None, "paths": written files, "total_steps",
    "num_train_features", "train_seconds", "model": the task}`.
    """
    import keras

    from keras_electra.optimizers import (
        create_optimizer,
        format_lr_table,
        layerwise_lr_multipliers,
    )
    from keras_electra.squad.metrics import evaluate_v1, evaluate_v2
    from keras_electra.squad.postprocess import postprocess_predictions, write_predictions
    from keras_electra.squad.reader import read_squad

    if not train_file and not predict_file:
        raise ValueError("give --train_file and/or --predict_file")
    if not train_file and load_from == "scratch":
        raise ValueError("predicting with a randomly initialised model is meaningless; use "
                         "--load_from checkpoint --checkpoint_path FINE_TUNED_PRESET")
    # Read (validate) both SQuAD files before any expensive work: a malformed dev file must
    # not cost a model build and a fine-tuning run before it is noticed.
    train = dev = None
    if train_file:
        train = read_squad(train_file, squad_version=squad_version, lenient=lenient,
                           is_training=True)
    if predict_file:
        dev = read_squad(predict_file, squad_version=squad_version, lenient=lenient)
    keras.utils.set_random_seed(seed)
    os.makedirs(output_dir, exist_ok=True)
    strategy, replicas, is_chief = _set_up_distribution()

    def scope():
        return strategy.scope() if strategy is not None else _NullScope()

    with scope():
        task = build_question_answerer(preset=preset, load_from=load_from,
                                       checkpoint_path=checkpoint_path, head=head,
                                       vocab_file=vocab_file, max_seq_length=max_seq_length,
                                       doc_stride=doc_stride, max_query_length=max_query_length,
                                       dropout=dropout)
    preprocessor = task.preprocessor
    result = {"eval": None, "paths": {}, "total_steps": 0, "num_train_features": 0,
              "train_seconds": 0.0, "model": task}

    if train_file:
        if train.skipped:
            logger.warning("skipped %d malformed training questions: %s",
                           sum(train.skipped.values()), dict(train.skipped))
        features = preprocessor.featurize(train.examples, is_training=True)
        global_batch = per_gpu_batch_size * replicas
        steps_per_epoch = max(1, len(features) // global_batch)
        if total_steps is None:
            total_steps = max(1, int(len(features) // global_batch * epochs))
        if warmup_steps is None:
            warmup_steps = int(total_steps * warmup_proportion)  # G warmup_proportion 0.1
        multipliers = layerwise_lr_multipliers(task, layerwise_lr_decay)
        logger.debug("layer-wise learning rates:\n%s", format_lr_table(multipliers, learning_rate))
        with scope():
            opt = create_optimizer(learning_rate, total_steps=total_steps,
                                   warmup_steps=warmup_steps, weight_decay=weight_decay,
                                   optimizer=optimizer, lr_multipliers=multipliers)
            task.compile(optimizer=opt)
        if is_chief:
            print(f"SQuAD fine-tuning: {len(train.examples)} questions -> {len(features)} "
                  f"features, global batch {global_batch}, {total_steps} steps "
                  f"(warmup {warmup_steps}), lr {learning_rate}, layer-wise decay "
                  f"{layerwise_lr_decay}, head {head}", flush=True)
        dataset = _train_dataset(features, global_batch, seed)
        steps_per_epoch = min(steps_per_epoch, total_steps)
        n_epochs = math.ceil(total_steps / steps_per_epoch)
        start = time.time()
        from keras_electra.training.callbacks import StopAfterSteps

        callbacks = [StopAfterSteps(total_steps)]
        task.fit(dataset, epochs=n_epochs, steps_per_epoch=steps_per_epoch,
                 callbacks=callbacks, verbose=verbose if is_chief else 0)
        result["train_seconds"] = time.time() - start
        result["total_steps"] = total_steps
        result["num_train_features"] = len(features)
        if save_model and is_chief:
            model_dir = os.path.join(output_dir, "model")
            # written aside, swapped in whole: a failed save keeps an earlier model intact
            # (the checkpoint it was loaded from may be this very dir: it is read already)
            with staged_output_dir(model_dir, flag="--output_dir model") as staging:
                task.save_to_preset(staging)
            result["paths"]["model"] = model_dir

    if predict_file:
        features = preprocessor.featurize(dev.examples, is_training=False)
        outputs = predict_features(task, features,
                                   batch_size=predict_batch_size or per_gpu_batch_size,
                                   verbose=verbose if is_chief else 0)
        predictions = postprocess_predictions(features, outputs, head=head,
                                              null_threshold=null_threshold)
        dataset = dev.dataset
        if dev.skipped:  # --lenient: score only the questions that were read
            dataset = _restrict_dataset(dataset, {e.qas_id for e in dev.examples})
        result["predictions"] = predictions
        if is_chief:  # before scoring: a diverged model's outputs are kept for inspection
            result["paths"].update(write_predictions(predictions, output_dir))
        if dev.version == "squadv1":
            evaluation = evaluate_v1(dataset, predictions.non_null_predictions)
        else:  # refuses non-finite null odds (a diverged model), naming the question
            evaluation = evaluate_v2(dataset, predictions.non_null_predictions,
                                     na_probs=predictions.null_odds,
                                     na_prob_thresh=predictions.threshold)
        result["eval"] = dict(evaluation)
        if is_chief:
            eval_path = os.path.join(output_dir, "eval.json")
            with open(eval_path, "w", encoding="utf-8") as f:
                json.dump(result["eval"], f, indent=2)
            result["paths"]["eval"] = eval_path
            print(json.dumps(result["eval"], indent=2), flush=True)
    return result
