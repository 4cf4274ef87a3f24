"""Training faults: disk full while checkpointing, float16 loss scaling skipping a step."""

import errno
import os
import sys

import numpy as np
import pytest

from keras_electra.training import checkpointing
from keras_electra.training.checkpointing import CheckpointManager

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/training")
from checkpoint_weights import tiny_model, train_tiny  # noqa: E402  (tests/training helper)

_model = tiny_model


def _train(model, steps=2):
    train_tiny(model, steps)


def _disk_full(path):
    """Write half a file at `path` then fail the way a full disk does."""
    with open(path, "wb") as f:
        f.write(b"\x00" * 1024)
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


@pytest.mark.parametrize("failing_writer", ["weights", "rng_state", "state_json"])
def test_disk_full_mid_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch, failing_writer):
    manager = CheckpointManager(tmp_path, max_to_keep=1)
    model = _model()
    _train(model)
    good = manager.save(model, step=2, batches_consumed=2, seed=7)
    good_kernel = model.layers[0].kernel.numpy().copy()
    good_files = {n: open(os.path.join(good, n), "rb").read() for n in os.listdir(good)}
    _train(model)  # weights move on; the next save runs out of space half-way

    if failing_writer == "weights":
        monkeypatch.setattr(model, "save_weights", _disk_full)
    elif failing_writer == "rng_state":
        monkeypatch.setattr(checkpointing, "save_seed_generator_states",
                            lambda model, path: _disk_full(path))
    else:
        real_dump = checkpointing.json.dump
        monkeypatch.setattr(checkpointing.json, "dump", lambda obj, f, **kw: (
            f.write('{"step": 4, "trunc'), _disk_full(f.name + ".x"), real_dump)[0])
    with pytest.raises(OSError) as info:
        manager.save(model, step=4, batches_consumed=4, seed=7)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()

    # the failed step is invisible, the previous checkpoint was not pruned nor touched
    assert manager.own_steps() == [2] and manager.latest_step() == 2
    assert {n: open(os.path.join(good, n), "rb").read() for n in os.listdir(good)} == good_files
    restored = _model(seed=3)
    state = manager.restore(restored)
    assert state["step"] == 2 and state["batches_consumed"] == 2
    np.testing.assert_array_equal(restored.layers[0].kernel.numpy(), good_kernel)
    # the failed save removed its own half-written temp dir (and closed its HDF5 file, which
    # HDF5 would otherwise flush at exit on the full disk and crash): nothing for a restart
    # to clean up (a kill mid-write still leaves one: test_reliability_checkpoint_integrity)
    assert not [n for n in os.listdir(manager.worker_dir) if n.startswith(".tmp-ckpt-")]
    assert manager.cleanup_partial() == []
    # once space is back, saving works and pruning keeps max_to_keep=1
    manager.save(model, step=4, batches_consumed=4, seed=7)
    assert manager.own_steps() == [4]


@pytest.mark.slow
def test_float16_loss_scaling_skips_a_non_finite_step():
    """mixed_float16: gradients that overflow skip the update and halve the loss scale."""
    import keras
    from keras import ops

    from keras_electra import ElectraBackbone, ElectraPretrainer

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(0)
        backbone = ElectraBackbone(vocabulary_size=200, num_layers=1, num_heads=2, hidden_dim=16,
                                   embedding_dim=16, intermediate_dim=32, dropout=0.0,
                                   max_sequence_length=16)
        model = ElectraPretrainer(backbone, generator_hidden_size=0.5, xla=False)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        model.optimizer.build(model.trainable_variables)
        rng = np.random.default_rng(0)
        ids = rng.integers(104, 200, size=(4, 16)).astype("int32")
        ids[:, 0], ids[:, -1] = 101, 102
        x = {"token_ids": ids, "segment_ids": np.zeros_like(ids),
             "padding_mask": np.ones_like(ids)}

        def snapshot():
            return [ops.convert_to_numpy(v).copy() for v in model.trainable_variables]

        before = snapshot()
        model.optimizer.dynamic_scale.assign(2.0 ** 100)  # scaled fp16 gradients overflow
        model.fit(x, batch_size=4, epochs=1, verbose=0)
        after = snapshot()
        assert all(np.array_equal(a, b) for a, b in zip(before, after)), "step was applied"
        assert int(ops.convert_to_numpy(model.optimizer.inner_optimizer.iterations)) == 0
        assert float(ops.convert_to_numpy(model.optimizer.dynamic_scale)) == 2.0 ** 99
        assert all(np.isfinite(a).all() for a in after)

        model.optimizer.dynamic_scale.assign(2.0 ** 10)  # a sane scale: the step is applied
        model.fit(x, batch_size=4, epochs=1, verbose=0)
        assert int(ops.convert_to_numpy(model.optimizer.inner_optimizer.iterations)) == 1
        assert not all(np.array_equal(a, b) for a, b in zip(after, snapshot()))
        assert all(np.isfinite(v).all() for v in snapshot())
    finally:
        keras.config.set_dtype_policy(previous)
