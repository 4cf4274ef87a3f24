"""The upstream code `keras_electra.training.keras_patches` replaces, and the private reads of
the training package: each test fails when keras / TensorFlow change what they rely on. (That
the MWMS fixes are still needed and still work is `test_mwms_fixes.py`, 2 real processes.)"""

import inspect
import logging
import warnings

import keras
import numpy as np
import pytest

from keras_electra.training import keras_patches


def _parameters(function):
    return list(inspect.signature(function).parameters)


def test_the_functions_the_mwms_fixes_replace_keep_their_signatures():
    from keras.src.backend.tensorflow import trainer as tf_trainer

    assert _parameters(tf_trainer.reduce_per_replica) == ["values", "strategy", "reduction"]
    assert _parameters(tf_trainer.TensorFlowTrainer._maybe_symbolic_build) == [
        "self", "iterator", "data_batch"]
    assert "data_batch" in _parameters(tf_trainer.TensorFlowTrainer._symbolic_build)
    assert _parameters(tf_trainer._collective_all_reduce_multi_worker) == ["strategy"]


def test_the_mwms_fixes_are_not_applied_on_another_keras(monkeypatch, caplog):
    monkeypatch.setattr(keras, "__version__", "3.99.0")
    with caplog.at_level(logging.WARNING, logger=keras_patches.__name__):
        assert keras_patches.apply_keras_mwms_fixes() is False
    assert "keras 3.99.0 (written for 3.15.x): the MWMS fixes are not applied" in caplog.text


def test_multi_worker_mode_probe_exists():
    pytest.importorskip("tensorflow")
    from tensorflow.python.distribute.collective_all_reduce_strategy import (
        CollectiveAllReduceExtended,
    )

    assert _parameters(CollectiveAllReduceExtended._in_multi_worker_mode) == ["self"]


def _model(optimizer):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=optimizer, loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


def test_loss_tracker_and_the_incomplete_restore_warning(tmp_path):
    model = _model(keras.optimizers.Adam())
    assert model._loss_tracker is not None  # callbacks.loss_value
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    other = _model(keras.optimizers.SGD(momentum=0.9))  # another optimizer variable count
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        other.load_weights(path)
    # checkpointing.load_checkpoint refuses a restore on exactly this text
    assert any("Skipping variable loading" in str(w.message) for w in caught)
    np.testing.assert_array_equal(other.layers[0].kernel.numpy(),
                                  model.layers[0].kernel.numpy())
