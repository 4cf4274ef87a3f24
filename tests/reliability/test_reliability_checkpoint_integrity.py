"""Checkpoint integrity (issue 15): every checkpoint records the sha256 of its files; a resume
checks them, skips a damaged checkpoint with a warning naming it and resumes from the newest
intact one (or refuses when none is intact). Old checkpoints without sums still load."""

import hashlib
import json
import os
import shutil
import sys

import h5py
import numpy as np
import pytest

from keras_electra.training.checkpointing import (
    CheckpointError,
    CheckpointManager,
    load_checkpoint,
    weights_checksum,
)

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/training")
from checkpoint_weights import h5_datasets, tiny_model, train_tiny  # noqa: E402  (tests/training helper)
from pretrain_shards import write_shards  # noqa: E402  (tests/training helper)

_model = tiny_model


def _train(model, steps=1):
    train_tiny(model, steps)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def flip_bytes(weights_file, name_part, count=16, skip_bytes=0):
    """XOR `count` bytes inside the first dataset whose name contains `name_part` (bit rot)."""
    with h5py.File(weights_file, "r") as f:
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        name = next(n for n in names if name_part in n)
        offset = f[name].id.get_offset() + skip_bytes
        assert f[name].id.get_storage_size() >= skip_bytes + count
    with open(weights_file, "r+b") as fh:
        fh.seek(offset)
        data = fh.read(count)
        fh.seek(offset)
        fh.write(bytes(b ^ 0x10 for b in data))  # flips a bit in every byte; values stay finite
    return name


def _ckpt(manager, step):
    return os.path.join(manager.worker_dir, f"ckpt-{step:010d}")


def test_checkpoint_records_the_sha256_of_its_files(tmp_path):
    path = CheckpointManager(tmp_path).save(_model(), step=1, batches_consumed=1, seed=0)
    state = json.loads((tmp_path / "worker-0" / "ckpt-0000000001" / "state.json").read_text())
    assert state.get("checksums") == {
        "model.weights.h5": sha256(os.path.join(path, "model.weights.h5")),
        "rng_state.npz": sha256(os.path.join(path, "rng_state.npz")),
    }


def test_damaged_newest_checkpoint_is_skipped_with_a_warning(tmp_path, capfd):
    model = _model()
    manager = CheckpointManager(tmp_path, max_to_keep=5)
    _train(model)
    manager.save(model, step=1, batches_consumed=1, seed=0)
    at_step_1 = weights_checksum(model)
    _train(model)
    manager.save(model, step=2, batches_consumed=2, seed=0)
    assert sorted(manager.visible_checkpoints()) == [1, 2]
    flip_bytes(os.path.join(_ckpt(manager, 2), "model.weights.h5"), "dense")
    capfd.readouterr()

    assert sorted(manager.visible_checkpoints()) == [1]  # the damaged one is left out
    err = capfd.readouterr().err
    assert f"checkpoint {_ckpt(manager, 2)} is damaged: model.weights.h5 has sha256" in err
    assert f"the newest intact checkpoint is {_ckpt(manager, 1)}" in err
    fresh = _model(seed=1)
    assert manager.restore(fresh)["step"] == 1
    assert weights_checksum(fresh) == at_step_1
    # loading the damaged one directly (e.g. --checkpoint_path) is refused, naming it
    with pytest.raises(CheckpointError, match=r"checkpoint .*ckpt-0000000002 is damaged: "
                                              r"model\.weights\.h5 has sha256.*move it aside"):
        load_checkpoint(_model(seed=2), _ckpt(manager, 2))


def test_every_checkpoint_damaged_is_refused(tmp_path):
    model = _model()
    manager = CheckpointManager(tmp_path)
    for step in (1, 2):
        manager.save(model, step=step, batches_consumed=step, seed=0)
    flip_bytes(os.path.join(_ckpt(manager, 2), "model.weights.h5"), "dense")
    with open(os.path.join(_ckpt(manager, 1), "state.json"), "r+b") as f:
        f.truncate(40)  # a truncated state.json is damage too
    with pytest.raises(CheckpointError) as error:
        manager.visible_checkpoints()
    message = str(error.value)
    assert f"every checkpoint under {tmp_path} is damaged" in message
    assert "ckpt-0000000001: state.json is unreadable" in message
    assert "ckpt-0000000002: model.weights.h5 has sha256" in message
    assert "--checkpoint_dir" in message


def test_checkpoint_without_checksums_still_loads(tmp_path):
    model = _model()
    _train(model)
    path = CheckpointManager(tmp_path).save(model, step=1, batches_consumed=1, seed=0)
    state_path = os.path.join(path, "state.json")
    state = json.loads(open(state_path).read())
    state.pop("checksums", None)  # as written before checksums were recorded
    with open(state_path, "w") as f:
        json.dump(state, f)
    fresh = _model(seed=1)
    assert CheckpointManager(tmp_path).restore(fresh)["step"] == 1
    assert weights_checksum(fresh) == weights_checksum(model)


def _weights(ckpt_dir):
    out = h5_datasets(os.path.join(ckpt_dir, "model.weights.h5"))
    with np.load(os.path.join(ckpt_dir, "rng_state.npz")) as rng:
        out.update({f"rng/{k}": rng[k] for k in rng.files})
    return out


@pytest.mark.slow
def test_pretrain_resumes_from_the_newest_intact_checkpoint(tmp_path, capfd):
    from keras_electra.training.pretrain import pretrain

    write_shards(str(tmp_path / "train"), num_examples=32, sequence_length=16, num_shards=1)
    options = dict(train_dir=str(tmp_path / "train"), checkpoint_dir=str(tmp_path / "ckpt"),
                   log_dir=str(tmp_path / "logs"), model_size="tiny", max_seq_length=16,
                   per_gpu_batch_size=4, total_steps=6, warmup_steps=1, checkpoint_frequency=2,
                   keep_checkpoints=10, run_name="integrity", skip_xla=True, progress=False)
    pretrain(**options)  # uninterrupted: checkpoints at steps 2, 4, 6
    manager = CheckpointManager(tmp_path / "ckpt")
    reference = _weights(_ckpt(manager, 6))
    # As if the run had stopped after step 4, and step 4's weights then rotted on disk.
    shutil.rmtree(_ckpt(manager, 6))
    weights_file = os.path.join(_ckpt(manager, 4), "model.weights.h5")
    flip_bytes(weights_file, "token_embedding", skip_bytes=104 * 64 * 4)  # rows of used ids
    capfd.readouterr()

    result = pretrain(**options)
    err = capfd.readouterr().err
    assert f"checkpoint {_ckpt(manager, 4)} is damaged: model.weights.h5 has sha256" in err
    assert f"the newest intact checkpoint is {_ckpt(manager, 2)}" in err
    assert result.resumed_from_step == 2 and result.step == 6
    resumed = _weights(_ckpt(manager, 6))
    assert sorted(resumed) == sorted(reference)
    for key in reference:  # bit-exact, as a resume from an intact checkpoint is
        np.testing.assert_array_equal(resumed[key], reference[key], err_msg=key)
    # the damaged step 4 was rewritten on the way and is intact again
    assert sorted(manager.visible_checkpoints()) == [2, 4, 6]
    # every checkpoint damaged: refused before the model is built (CLI: exit 2), never a
    # silent start from scratch
    for step in (2, 4, 6):
        flip_bytes(os.path.join(_ckpt(manager, step), "model.weights.h5"), "token_embedding",
                   skip_bytes=104 * 64 * 4)
    with pytest.raises(CheckpointError, match=r"every checkpoint under .*ckpt is damaged.*"
                                              r"--checkpoint_dir to start from scratch"):
        pretrain(**options)
