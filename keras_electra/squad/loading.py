"""Loading an `ElectraQuestionAnswerer` for fine-tuning, answering and export.

Inference (`keras-electra answer`, `keras-electra export`, `serving/`) loads its task here, not
through `training/`; `training/finetune.py` builds its task with `build_question_answerer`.

Example:
```python
from keras_electra.squad.answering import answer_question
from keras_electra.squad.loading import load_question_answerer

task = load_question_answerer("squad_out/model")  # a `keras-electra squad` output, or an HF QA dir
answer_question(task, "Who wrote it?", "It was written by Ada.")
```
"""

import logging
import os

from keras_electra.convert import hf
from keras_electra.models.electra_question_answerer import HEADS
from keras_electra.utils.preset_dirs import HF, QA_TASK, preset_kind

logger = logging.getLogger(__name__)


def _task_from_preset(path):
    """`ElectraQuestionAnswerer.from_preset` (weights only, even of a preset written with
    optimizer state: `models/electra_task_weights.py`)."""
    from keras_electra.models.electra_question_answerer import ElectraQuestionAnswerer

    return ElectraQuestionAnswerer.from_preset(str(path))


def load_tokenizer(preset=None, vocab_file=None):
    """Tokenizer from `vocab_file`, else from a preset dir (ours or HF)."""
    from keras_electra.models.electra_tokenizer import ElectraTokenizer

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
    from keras_electra.models.electra_backbone import ElectraBackbone
    from keras_electra.models.electra_presets import architecture_preset_name
    from keras_electra.models.electra_question_answerer import ElectraQuestionAnswerer
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
            check_max_seq_length(task.backbone, max_seq_length, checkpoint_path)
            check_vocabulary_fits(task.backbone, task.preprocessor.tokenizer, checkpoint_path)
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
        # --model_size tiny or electra_tiny (as pretrain)
        backbone = ElectraBackbone.from_preset(architecture_preset_name(preset) or preset,
                                               **kwargs)
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


def check_max_seq_length(backbone, max_seq_length, source="the model"):
    """ValueError naming the limit when `max_seq_length` exceeds the model's positions."""
    if max_seq_length is not None and int(max_seq_length) > int(backbone.max_sequence_length):
        raise ValueError(f"--max_seq_length {max_seq_length} exceeds the "
                         f"{backbone.max_sequence_length} positions of {source}; pass "
                         f"--max_seq_length <= {backbone.max_sequence_length}")


def check_vocabulary_fits(backbone, tokenizer, source="the model"):
    """ValueError when the tokenizer can produce ids the embedding table does not have (the
    gather would clamp them silently)."""
    if tokenizer is not None and tokenizer.vocabulary_size() > backbone.vocabulary_size:
        raise ValueError(f"{source}: the vocabulary has {tokenizer.vocabulary_size()} tokens "
                         f"but the model's embedding table only {backbone.vocabulary_size}; "
                         "ids beyond it would be clamped. Use the vocabulary the model was "
                         "trained with.")


def _check_vocab_file_matches(task, preset, vocab_file):
    """A fine-tuned QA preset carries its tokenizer: `--vocab_file` may only repeat it."""
    if not vocab_file:
        return
    from keras_electra.utils.vocab_file import read_vocabulary_file

    given = read_vocabulary_file(vocab_file)
    own = list(task.preprocessor.tokenizer.get_vocabulary())
    if given != own:
        raise ValueError(
            f"--vocab_file {vocab_file}: {preset} is a fine-tuned model with its own "
            f"vocabulary ({len(own)} tokens; {len(given)} in --vocab_file, which differs); the "
            "model answers with the vocabulary it was trained with. Drop --vocab_file (it is "
            "for a model dir without a vocabulary).")


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
        else:
            _check_vocab_file_matches(task, preset, vocab_file)
            if max_seq_length:
                task.preprocessor.sequence_length = max_seq_length
        check_max_seq_length(task.backbone, task.preprocessor.sequence_length, preset)
        check_vocabulary_fits(task.backbone, task.preprocessor.tokenizer, preset)
        return task
    if kind == HF:
        return build_question_answerer(load_from="checkpoint", checkpoint_path=preset,
                                       head=head, vocab_file=vocab_file,
                                       max_seq_length=max_seq_length or 384)
    raise ValueError(f"{preset!r}: not a fine-tuned QA preset (no task.json for "
                     "ElectraQuestionAnswerer) nor an HF Electra dir; fine-tune one with "
                     "`keras-electra squad` (it saves OUTPUT_DIR/model)")
