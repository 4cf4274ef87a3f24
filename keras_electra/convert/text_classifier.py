"""`ElectraTextClassifier` <-> Hugging Face `ElectraForSequenceClassification`.

* `text_classifier_from_hf` / `text_classifier_from_keras_hub`: the `from_preset` loaders
  (registered in `keras_electra.convert.__init__`) for an HF Electra dir / `hf://` handle and
  a keras-hub `ElectraBackbone` preset.
* `classifier_head_to_hf_tensors` / `classifier_head_from_hf_tensors`: the head's weight
  map (HF `classifier.dense`, `classifier.out_proj`, `Linear.weight` `[out, in]` <-> Keras
  `Dense.kernel` `[in, out]`); `export_text_classifier_to_hf` writes the whole model with
  `num_labels`, `id2label`/`label2id` and `problem_type` in `config.json`.

Only `head="hf"` (transformers' `ElectraClassificationHead` layout) has an HF class; a
`head="electra"` classifier (google-research/electra's single dense layer) is refused with
one line.

Example:
```python
from keras_electra import ElectraTextClassifier
from keras_electra.convert.text_classifier import export_text_classifier_to_hf

classifier = ElectraTextClassifier.from_preset("./glue_out/model")
export_text_classifier_to_hf(classifier, "./hf_classifier")
# transformers.ElectraForSequenceClassification.from_pretrained("./hf_classifier")
```
"""

import json
import os

import numpy as np

HF_MODEL_CLASS = "ElectraForSequenceClassification"
TASK_REGISTERED_NAME = "ElectraTextClassifier"
# (HF name, our layer attribute, weight)
HEAD_TABLE = (
    ("classifier.dense.weight", "classifier_dense", "kernel"),
    ("classifier.dense.bias", "classifier_dense", "bias"),
    ("classifier.out_proj.weight", "classifier_out_proj", "kernel"),
    ("classifier.out_proj.bias", "classifier_out_proj", "bias"),
)


def is_text_classifier_preset(preset):
    """Whether `preset` is a local dir saved from an `ElectraTextClassifier` (task.json)."""
    path = os.path.join(os.fspath(preset), "task.json")
    if not os.path.isfile(path):
        return False
    from keras_electra.utils.errors import read_json_file

    task = read_json_file(path, "preset task file")
    return isinstance(task, dict) and TASK_REGISTERED_NAME in str(task.get("registered_name"))


def _refuse_electra_head(classifier):
    if classifier.head != "hf":
        raise ValueError(
            f"this classifier has head={classifier.head!r} (google-research/electra's single "
            "dense layer), which transformers' ElectraForSequenceClassification cannot hold; "
            "fine-tune with head='hf' (keras-electra glue --head hf) to export to HF")


def classifier_head_to_hf_tensors(classifier):
    """The head's weights as HF tensors (`classifier.*`, numpy, exact)."""
    import keras

    _refuse_electra_head(classifier)
    out = {}
    for hf_name, attr, weight in HEAD_TABLE:
        value = np.asarray(keras.ops.convert_to_numpy(getattr(getattr(classifier, attr),
                                                              weight).value))
        out[hf_name] = np.ascontiguousarray(value.T if weight == "kernel" else value)
    return out


def classifier_head_from_hf_tensors(classifier, tensors, describe=None):
    """Copy HF `classifier.*` tensors into a `head="hf"` classifier."""
    describe = describe or (lambda n: f"tensor {n!r}")
    _refuse_electra_head(classifier)
    for hf_name, attr, weight in HEAD_TABLE:
        if hf_name not in tensors:
            raise ValueError(f"{describe(hf_name)}: missing; ElectraForSequenceClassification's "
                             "head needs classifier.dense and classifier.out_proj")
        value = np.asarray(tensors[hf_name])
        value = value.T if weight == "kernel" else value
        variable = getattr(getattr(classifier, attr), weight)
        if tuple(variable.shape) != value.shape:
            raise ValueError(f"{describe(hf_name)}: shape {tuple(np.shape(tensors[hf_name]))} "
                             f"does not fit the classifier's {attr}.{weight} "
                             f"{tuple(variable.shape)} (num_labels / hidden_size)")
        variable.assign(value)


def hf_num_labels(config):
    """`num_labels` of an HF config dict (from `id2label`, as transformers reads it)."""
    id2label = config.get("id2label")
    if isinstance(id2label, dict) and id2label:
        return len(id2label)
    return int(config.get("num_labels", 2))


def _hf_label_names(config):
    id2label = config.get("id2label")
    if not isinstance(id2label, dict) or not id2label:
        return None
    names = [id2label.get(str(i), id2label.get(i)) for i in range(len(id2label))]
    if any(n is None for n in names) or all(n == f"LABEL_{i}" for i, n in enumerate(names)):
        return None
    return names


def _preprocessor(tokenizer, backbone, sequence_length):
    from keras_electra.models.electra_text_classifier_preprocessor import (
        ElectraTextClassifierPreprocessor,
    )

    if tokenizer is None:
        return None
    return ElectraTextClassifierPreprocessor(
        tokenizer, sequence_length=min(sequence_length, backbone.max_sequence_length))


def text_classifier_from_hf(cls, preset, load_weights=True, num_classes=None, head="hf",
                            sequence_length=128, **kwargs):
    """An `ElectraTextClassifier` (`cls`) from an HF Electra dir or `hf://` handle.

    An `ElectraForSequenceClassification` dir gives the backbone and its head (its
    `num_labels`); any other Electra dir the backbone and a new head (`num_classes`
    needed). `**kwargs`: `ElectraBackbone` arguments go to the backbone, the rest to the
    task.
    """
    from keras_electra.convert import hf
    from keras_electra.convert.pretrainer import _split_backbone_kwargs

    backbone_kwargs, kwargs = _split_backbone_kwargs(kwargs)
    if "dtype" in kwargs:
        backbone_kwargs["dtype"] = kwargs["dtype"]
    ckpt = hf.load_hf_checkpoint(preset)
    has_head = any(n.startswith("classifier.dense.") for n in ckpt.tensors)
    if has_head:
        if head != "hf":
            raise ValueError(
                f"{ckpt.path} is an ElectraForSequenceClassification checkpoint, whose head is "
                f"head='hf'; head={head!r} would drop it. Pass head='hf', or load the "
                "backbone alone with ElectraBackbone.from_preset to start a new head.")
        stored = hf_num_labels(ckpt.config)
        if num_classes is not None and num_classes != stored:
            raise ValueError(
                f"{ckpt.path}: its classifier has {stored} labels but num_classes="
                f"{num_classes}; omit num_classes to keep the head, or load the backbone "
                "alone with ElectraBackbone.from_preset for a new head")
        num_classes = stored
        if kwargs.get("label_names") is None:
            kwargs["label_names"] = _hf_label_names(ckpt.config)
    elif num_classes is None:
        raise ValueError(f"{ckpt.path} has no classification head ({ckpt.model_class}); pass "
                         "num_classes= for a new one")
    backbone = hf.backbone_from_hf(ckpt, load_weights=load_weights, **backbone_kwargs)
    preprocessor = kwargs.pop("preprocessor", None)
    if preprocessor is None:
        preprocessor = _preprocessor(hf.tokenizer_from_hf(ckpt.path), backbone, sequence_length)
    task = cls(backbone, num_classes=num_classes, preprocessor=preprocessor, head=head,
               **kwargs)
    if load_weights and has_head:
        classifier_head_from_hf_tensors(task, ckpt.tensors, describe=ckpt.describe)
    return task


def text_classifier_from_keras_hub(cls, preset, load_weights=True, num_classes=None,
                                   sequence_length=128, **kwargs):
    """An `ElectraTextClassifier` on a keras-hub `ElectraBackbone` preset (a new head)."""
    from keras_electra.convert import keras_hub
    from keras_electra.convert.pretrainer import _split_backbone_kwargs

    if num_classes is None:
        raise ValueError(f"{preset}: a keras-hub ElectraBackbone preset has no classification "
                         "head; pass num_classes= for a new one")
    backbone, tokenizer, kwargs = keras_hub.task_parts_from_keras_hub(
        preset, load_weights, *_split_backbone_kwargs(kwargs))
    preprocessor = kwargs.pop("preprocessor", None)
    if preprocessor is None:
        preprocessor = _preprocessor(tokenizer, backbone, sequence_length)
    return cls(backbone, num_classes=num_classes, preprocessor=preprocessor, **kwargs)


def hf_classifier_config(classifier):
    """HF `config.json` of an `ElectraForSequenceClassification` for `classifier`."""
    from keras_electra.convert import hf

    config = hf.backbone_config_to_hf_config(classifier.backbone.get_config(), HF_MODEL_CLASS)
    names = classifier.label_names or [f"LABEL_{i}" for i in range(classifier.num_classes)]
    config["id2label"] = {str(i): name for i, name in enumerate(names)}
    config["label2id"] = {name: i for i, name in enumerate(names)}
    config["problem_type"] = ("regression" if classifier.num_classes == 1
                              else "single_label_classification")
    if abs(classifier.dropout - classifier.backbone.dropout) > 0:
        config["classifier_dropout"] = classifier.dropout
    return config


def export_text_classifier_to_hf(classifier, out_dir, source=None):
    """Write `classifier` as an HF `ElectraForSequenceClassification` directory
    (config.json, model.safetensors, vocab.txt when it has a preprocessor), aside and
    swapped in whole (never onto `source`). Returns `out_dir`."""
    from safetensors.numpy import save_file

    from keras_electra.convert import hf
    from keras_electra.utils.output_dirs import staged_output_dir

    _refuse_electra_head(classifier)  # before anything is written
    tensors = hf.backbone_to_hf_tensors(classifier.backbone, prefix="electra.")
    tensors.update(classifier_head_to_hf_tensors(classifier))
    config = hf_classifier_config(classifier)
    with staged_output_dir(out_dir, sources=(source,), flag="OUT_DIR") as staging:
        with open(os.path.join(staging, "config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
        save_file(tensors, os.path.join(staging, hf.SAFETENSORS_FILE),
                  metadata={"format": "pt"})
        if classifier.preprocessor is not None:
            tokenizer = classifier.preprocessor.tokenizer
            with open(os.path.join(staging, "vocab.txt"), "w", encoding="utf-8") as f:
                f.write("\n".join(tokenizer.get_vocabulary()) + "\n")
            with open(os.path.join(staging, "tokenizer_config.json"), "w",
                      encoding="utf-8") as f:
                json.dump({"tokenizer_class": "ElectraTokenizer",
                           "do_lower_case": bool(tokenizer.lowercase), "strip_accents": None,
                           "model_max_length": config["max_position_embeddings"]}, f, indent=2)
    return os.fspath(out_dir)
