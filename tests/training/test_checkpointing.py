"""Atomic step checkpoints: round trip, retention, crash mid-write, presets."""

import json
import os
import signal
import time

import numpy as np
import pytest
import training_procs as procs
from checkpoint_weights import tiny_model, train_tiny

from keras_electra.training.checkpointing import (
    CheckpointError,
    CheckpointManager,
    resolve_checkpoint_path,
    weights_checksum,
)

_model = tiny_model


def _train(model, steps=3):
    train_tiny(model, steps)


def test_round_trip_restores_weights_optimizer_and_state(tmp_path):
    model = _model()
    _train(model)
    manager = CheckpointManager(tmp_path, max_to_keep=2)
    path = manager.save(model, step=3, batches_consumed=3, seed=11, config_hash="abc",
                        extra={"run_name": "r"})
    assert os.path.basename(path) == "ckpt-0000000003"
    fresh = _model(seed=1)
    assert weights_checksum(fresh) != weights_checksum(model)
    state = CheckpointManager(tmp_path).restore(fresh)
    assert state["step"] == 3 and state["batches_consumed"] == 3 and state["seed"] == 11
    assert state["config_hash"] == "abc" and state["run_name"] == "r"
    assert int(fresh.optimizer.iterations) == 3
    assert weights_checksum(fresh) == weights_checksum(model)  # model + optimizer, bit-exact
    # continuing both gives the same result (optimizer moments came back too)
    _train(model, 2)
    _train(fresh, 2)
    assert weights_checksum(fresh) == weights_checksum(model)


def test_keeps_last_k_and_resolves_paths(tmp_path):
    model = _model()
    manager = CheckpointManager(tmp_path, max_to_keep=2)
    for step in (10, 20, 30):
        manager.save(model, step=step, batches_consumed=step, seed=0)
    assert manager.own_steps() == [20, 30]
    assert manager.latest_step() == 30
    assert resolve_checkpoint_path(str(tmp_path)).endswith("ckpt-0000000030")
    assert resolve_checkpoint_path(os.path.join(manager.worker_dir, "ckpt-0000000020")) \
        .endswith("ckpt-0000000020")
    with pytest.raises(CheckpointError, match="no checkpoint there"):
        resolve_checkpoint_path(str(tmp_path / "nothing"))
    # re-saving an existing step replaces it atomically
    manager.save(model, step=30, batches_consumed=31, seed=0)
    assert CheckpointManager.read_state(manager.path_for(30))["batches_consumed"] == 31


def test_other_workers_checkpoints_are_visible_on_a_shared_dir(tmp_path):
    model = _model()
    CheckpointManager(tmp_path, worker_index=0).save(model, step=5, batches_consumed=5, seed=0)
    other = CheckpointManager(tmp_path, worker_index=1)
    assert other.own_steps() == []
    assert other.latest_step() == 5
    assert other.restore(_model(seed=3))["step"] == 5


def test_kill_during_checkpoint_write_leaves_previous_loadable(tmp_path):
    proc = procs.start(["tests/training/ckpt_kill_worker.py", str(tmp_path)], procs.base_env(),
                       str(tmp_path / "worker.log"))
    try:
        deadline = time.monotonic() + 120
        while "WRITING" not in procs.read(tmp_path / "worker.log"):
            assert proc.poll() is None, procs.tail(tmp_path / "worker.log")
            assert time.monotonic() < deadline, "worker never reached the write"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        procs.kill(proc)
    manager = CheckpointManager(tmp_path)
    leftovers = [n for n in os.listdir(manager.worker_dir) if n.startswith(".tmp-")]
    assert leftovers, "the interrupted write should have left its temporary directory"
    assert manager.own_steps() == [1]  # the half-written step 2 is invisible
    model = _model(seed=5)
    state = manager.restore(model)
    assert state["step"] == 1 and state["seed"] == 7
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(),
                                  np.load(tmp_path / "step1_kernel.npy"))
    assert manager.cleanup_partial() == leftovers
    assert not [n for n in os.listdir(manager.worker_dir) if n.startswith(".tmp-")]


def test_state_json_is_plain_json(tmp_path):
    model = _model()
    path = CheckpointManager(tmp_path).save(model, step=1, batches_consumed=4, seed=2,
                                            config_hash="x")
    with open(os.path.join(path, "state.json")) as f:
        state = json.load(f)
    assert {"step", "batches_consumed", "seed", "config_hash", "format_version"} <= set(state)




def test_restore_refuses_a_checkpoint_with_a_different_optimizer(tmp_path):
    import keras

    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")  # 1 slot fewer per var
    CheckpointManager(tmp_path).save(model, step=1, batches_consumed=1, seed=0)
    with pytest.raises(CheckpointError, match="incomplete restore"):
        CheckpointManager(tmp_path).restore(_model())
