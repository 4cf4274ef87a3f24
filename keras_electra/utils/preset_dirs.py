"""What a preset is: the one place that tells the checkpoint formats and vocab files apart.

`preset_kind(preset)` classifies a preset string, path or handle:

* `HF`: `hf://org/name`, or a local dir, whose config.json has a `model_type`
  (a transformers model; `keras_electra.convert.hf` refuses a non-Electra one
  clearly). An `hf://` repo holding a Keras-format preset is not one.
* `KERAS_HUB`: a local dir or remote handle (`kaggle://...`) of keras-hub's own
  `ElectraBackbone` (config.json `registered_name: "keras_hub>ElectraBackbone"`).
* `QA_TASK`: a local dir of one of our fine-tuned `ElectraQuestionAnswerer`
  presets (task.json).
* `None`: anything else (architecture preset names, keras-hub preset names,
  our own backbone presets, missing paths, ...).

A remote handle's config.json is fetched alone (not the weights). A local
config.json that is not valid JSON raises `ValueError` naming the file.

`find_vocab_file(path)` finds the `vocab.txt` that belongs next to a data or
checkpoint path.

Example:
```python
from keras_electra.utils.preset_dirs import HF, preset_kind

preset_kind("./electra-small-discriminator") == HF   # a save_pretrained dir
```
"""

import json
import os

from keras_electra.utils.errors import read_json_file

HF = "hf"
KERAS_HUB = "keras_hub"
QA_TASK = "qa_task"

HF_SCHEME = "hf://"
KERAS_HUB_REGISTERED_NAME = "keras_hub>ElectraBackbone"
VOCAB_FILE = "vocab.txt"


def _read_json(path):
    """A local JSON file as a dict; None when absent or not a JSON object."""
    if not os.path.isfile(path):
        return None
    value = read_json_file(path, "preset config file")  # InputFileError naming the file
    return value if isinstance(value, dict) else None


def remote_config(preset):
    """config.json of a remote preset (hf://, kaggle://, ...), fetched alone."""
    if preset.startswith(HF_SCHEME):
        import huggingface_hub

        repo_id = preset[len(HF_SCHEME):].strip("/")
        try:
            path = huggingface_hub.hf_hub_download(repo_id, "config.json")
        except Exception as e:
            raise OSError(
                f"Could not fetch config.json of {preset} ({type(e).__name__}: {e}). Check the "
                "repo name and the network (HF_HUB_OFFLINE must be unset)."
            ) from e
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    # private import, keras-hub 0.32 (tests/models/test_models_keras_patches.py)
    from keras_hub.src.utils.preset_utils import load_json

    return load_json(preset, "config.json")


def preset_kind(preset):
    """`HF`, `KERAS_HUB`, `QA_TASK` or None for `preset` (see the module docstring)."""
    if not isinstance(preset, (str, os.PathLike)):
        return None
    preset = os.fspath(preset)
    if "://" in preset:
        config = remote_config(preset)
        if preset.startswith(HF_SCHEME) and "model_type" in config:
            return HF
        if config.get("registered_name") == KERAS_HUB_REGISTERED_NAME:
            return KERAS_HUB
        return None
    if not os.path.isdir(preset):
        return None
    config = _read_json(os.path.join(preset, "config.json"))
    if config is not None and "model_type" in config:
        return HF
    if config is not None and config.get("registered_name") == KERAS_HUB_REGISTERED_NAME:
        return KERAS_HUB
    task_path = os.path.join(preset, "task.json")
    task = _read_json(task_path)
    if os.path.isfile(task_path) and (task is None or not isinstance(
            task.get("registered_name"), str) or not isinstance(task.get("class_name"), str)):
        from keras_electra.utils.errors import InputFileError

        raise InputFileError(
            f"{task_path}: not a Keras task file: it needs a JSON object with the task's class "
            "(\"class_name\" and \"registered_name\", e.g. "
            "\"keras_electra>ElectraQuestionAnswerer\"); the file is damaged or was edited. "
            "Re-save the model (`keras-electra squad` writes OUTPUT_DIR/model) or restore the "
            "file.")
    if task is not None and "ElectraQuestionAnswerer" in task["registered_name"]:
        return QA_TASK
    return None


def find_vocab_file(path):
    """`vocab.txt` in `path` (a dir, or the dir of a file / checkpoint prefix) or its parent.

    Returns the path of the first one found, or None.
    """
    path = os.fspath(path)
    directory = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    for candidate in (directory, os.path.dirname(os.path.abspath(directory))):
        vocab = os.path.join(candidate, VOCAB_FILE)
        if os.path.isfile(vocab):
            return vocab
    return None


def is_google_checkpoint(path):
    """True for a TF checkpoint prefix (`prefix.index` exists) or a directory with a TF
    `checkpoint` state file and no config.json: how google-research/electra saves and
    releases its TF1 checkpoints (e.g. `electra_small/model.ckpt-1000000` or `electra_small/`)."""
    if not isinstance(path, (str, os.PathLike)):
        return False
    path = os.fspath(path)
    if "://" in path:
        return False
    if os.path.isfile(path + ".index"):
        return True
    return (os.path.isdir(path) and os.path.isfile(os.path.join(path, "checkpoint"))
            and not os.path.isfile(os.path.join(path, "config.json")))
