"""`ElectraQuestionAnswerer.from_preset(hf_dir)`: an HF Electra dir as a QA task.

An `ElectraForQuestionAnswering` dir gives the backbone and its `qa_outputs`
(`head="simple"`, the default here, is exactly that layer); any other Electra dir
(`ElectraModel`, `ElectraForPreTraining`, ...) gives the backbone and a random
head of the chosen kind, ready for fine-tuning. A `vocab.txt` beside the
weights becomes the preprocessor's tokenizer.

Example:
```python
from keras_electra import ElectraQuestionAnswerer

qa = ElectraQuestionAnswerer.from_preset("./electra-small-squad2")  # save_pretrained dir
qa.predict(...)
```
"""


def question_answerer_from_hf(cls, preset, load_weights=True, head="simple",
                              sequence_length=384, **kwargs):
    """An `ElectraQuestionAnswerer` (`cls`) from an HF Electra dir or `hf://` handle.

    Args:
        cls: the task class.
        preset: HF dir / handle.
        load_weights: False builds the sizes only.
        head: "simple" (HF's `qa_outputs`, loaded when the dir has it) or
            "electra" (G's head, random init).
        sequence_length: the preprocessor's sequence length (if a vocab is there).
        **kwargs: `ElectraBackbone` arguments (e.g. `dropout`) go to the
            backbone, the rest to the task (e.g. `beam_size`).
    """
    from keras_electra.convert import hf
    from keras_electra.convert.pretrainer import _split_backbone_kwargs
    from keras_electra.models.electra_question_answerer_preprocessor import (
        ElectraQuestionAnswererPreprocessor,
    )

    backbone_kwargs, kwargs = _split_backbone_kwargs(kwargs)
    ckpt = hf.load_hf_checkpoint(preset)
    if head != "simple" and "qa" in ckpt.heads:
        raise ValueError(
            f"{ckpt.path} is an ElectraForQuestionAnswering checkpoint, whose head is "
            f"head='simple'; head={head!r} would drop its qa_outputs. Pass head='simple', or "
            "load the backbone alone with ElectraBackbone.from_preset to start a new head."
        )
    backbone = hf.backbone_from_hf(ckpt, load_weights=load_weights, **backbone_kwargs)
    preprocessor = kwargs.pop("preprocessor", None)
    if preprocessor is None:
        tokenizer = hf.tokenizer_from_hf(ckpt.path)
        if tokenizer is not None:
            preprocessor = ElectraQuestionAnswererPreprocessor(
                tokenizer, sequence_length=min(sequence_length, backbone.max_sequence_length))
    task = cls(backbone, preprocessor=preprocessor, head=head, **kwargs)
    if load_weights and "qa" in ckpt.heads:
        hf.assign_head_weights(task.qa_outputs, "qa", hf.hf_qa_weights(ckpt))
    return task


def question_answerer_from_keras_hub(cls, preset, load_weights=True, head="electra",
                                     sequence_length=384, **kwargs):
    """An `ElectraQuestionAnswerer` (`cls`) from a keras-hub Electra preset (name, handle or
    local dir of keras-hub's own `ElectraBackbone`): its encoder, a fresh QA head of kind
    `head` (keras-hub presets hold none; said in one line), and, when the preset has a
    tokenizer, a preprocessor on its vocabulary (uncased conventions).

    Args:
        cls: the task class.
        preset: keras-hub preset name / handle / dir.
        load_weights: False builds the sizes only.
        head: "electra" (G's head) or "simple" (HF's `qa_outputs`), random init.
        sequence_length: the preprocessor's sequence length.
        **kwargs: `ElectraBackbone` arguments go to the backbone, the rest to the task.
    """
    import logging

    from keras_electra.convert import keras_hub
    from keras_electra.convert.pretrainer import _split_backbone_kwargs
    from keras_electra.models.electra_question_answerer_preprocessor import (
        ElectraQuestionAnswererPreprocessor,
    )

    backbone, tokenizer, kwargs = keras_hub.task_parts_from_keras_hub(
        preset, load_weights, *_split_backbone_kwargs(kwargs))
    preprocessor = kwargs.pop("preprocessor", None)
    if tokenizer is not None:
        preprocessor = ElectraQuestionAnswererPreprocessor(
            tokenizer, sequence_length=min(sequence_length, backbone.max_sequence_length))
    task = cls(backbone, preprocessor=preprocessor, head=head, **kwargs)
    logging.getLogger(__name__).warning(
        "%s: a keras-hub backbone preset holds no QA head; the head=%r head is freshly "
        "initialised (fine-tune it, e.g. keras-electra squad --load_from checkpoint).",
        preset, head)
    return task
