"""Task presets hold weights only: `task.weights.h5` without the optimizer's state.

keras-hub's `Task.save_task_weights` saves every object of the task outside the backbone,
the compiled optimizer included (Adam's moments: 3x the model), and `from_preset` then warns
"Skipping variable loading for optimizer ..." because the fresh task's optimizer is not
built. A preset is for inference and fine-tuning, so it holds weights only; resume
checkpoints (`keras_electra.training.checkpointing`) keep the optimizer's state.
"""

import keras


def _objects_to_skip(task):
    skip = list(task.backbone._flatten_layers())
    if getattr(task, "optimizer", None) is not None:
        skip.append(task.optimizer)
    return skip


def _check_filename(filepath):
    if not str(filepath).endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: {filepath}")


class WeightsOnlyTaskPreset:
    """Mixin before keras-hub's `Task`: `save_task_weights` / `load_task_weights` leave the
    optimizer out (a preset written with optimizer state before loads quietly too)."""

    def save_task_weights(self, filepath):
        """keras-hub's `Task.save_task_weights` without the optimizer's state."""
        _check_filename(filepath)
        keras.saving.save_weights(self, filepath=filepath, objects_to_skip=_objects_to_skip(self))

    def load_task_weights(self, filepath):
        """keras-hub's `Task.load_task_weights`, the optimizer left alone."""
        _check_filename(filepath)
        keras.saving.load_weights(self, filepath, objects_to_skip=_objects_to_skip(self))
