"""Every override or read of private upstream code is version-guarded (keras_electra/utils/
upstream.py): on a keras / keras-hub / TensorFlow version it was not written for, it raises
`UpstreamVersionError` naming itself before touching the private API. (That the private API
is still there with the expected signature is checked in tests/models/test_models_keras_patches.py
and tests/training/test_training_keras_patches.py.)"""

import keras
import numpy as np
import pytest

from keras_electra.utils import upstream


@pytest.fixture
def keras_from_the_future(monkeypatch):
    monkeypatch.setattr(keras, "__version__", "3.99.0")
    upstream.check_upstream.cache_clear()
    yield
    upstream.check_upstream.cache_clear()


def test_the_installed_versions_pass_the_guard():
    upstream.check_upstream.cache_clear()
    assert upstream.upstream_mismatch(keras_hub=True, tensorflow=True) is None
    upstream.check_upstream("anything", keras_hub=True, tensorflow=True)


def test_the_models_guard_is_the_shared_one():
    from keras_electra.models import keras_patches

    assert keras_patches.check_upstream is upstream.check_upstream
    assert keras_patches.UpstreamVersionError is upstream.UpstreamVersionError


@pytest.mark.parametrize("name", ["ElectraAdamW", "ElectraAdam"])
def test_the_optimizers_clip_and_all_reduce_overrides(name, keras_from_the_future):
    import keras_electra.optimizers as optimizers

    with pytest.raises(upstream.UpstreamVersionError,
                       match=r"_clip_gradients, _all_reduce_sum_gradients.*keras 3\.99\.0 "
                             r"\(written for 3\.15\.x\)"):
        getattr(optimizers, name)(learning_rate=1e-3)


def test_the_pretrainer_task_fit_bypass_and_loss_tracker(monkeypatch):
    from keras_electra import ElectraPretrainer

    model = ElectraPretrainer.from_preset("electra_tiny", vocabulary_size=128,
                                          max_sequence_length=16, num_layers=1)
    monkeypatch.setattr(keras, "__version__", "3.99.0")  # built on 3.15, then run on "3.99"
    upstream.check_upstream.cache_clear()
    batch = {"token_ids": np.full((2, 16), 5, "int32"), "padding_mask": np.ones((2, 16), bool),
             "segment_ids": np.zeros((2, 16), "int32")}
    for call in (model.fit, model.evaluate):
        with pytest.raises(upstream.UpstreamVersionError,
                           match=r"Task\.fit.*_loss_tracker.*keras 3\.99\.0"):
            call(batch, verbose=0)
    upstream.check_upstream.cache_clear()


def test_the_training_loss_tracker_read(keras_from_the_future):
    from keras_electra.training.callbacks import loss_value

    with pytest.raises(upstream.UpstreamVersionError, match=r"_loss_tracker.*keras 3\.99\.0"):
        loss_value(keras.Sequential([keras.layers.Dense(1)]))


def test_the_multi_worker_mode_probe(monkeypatch):
    tf = pytest.importorskip("tensorflow")
    from keras_electra.training.distribute import is_multi_worker

    monkeypatch.setattr(tf, "__version__", "2.99.0")
    upstream.check_upstream.cache_clear()
    try:
        # an MWMS object without its constructor: the guard runs before anything is read
        strategy = object.__new__(tf.distribute.MultiWorkerMirroredStrategy)
        with pytest.raises(upstream.UpstreamVersionError,
                           match=r"_in_multi_worker_mode.*tensorflow 2\.99\.0 \(written for "
                                 r"2\.21\.x\)"):
            is_multi_worker(strategy)
        assert is_multi_worker(tf.distribute.get_strategy()) is False  # no MWMS: no check
    finally:
        upstream.check_upstream.cache_clear()
