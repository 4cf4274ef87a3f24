"""JAX data parallel for real: two processes on loopback (gloo CPU collectives) and one
process with two host devices, each equal to one process on one device over the same global
batches; resume agreement, the NaN guard and chief-only writes across processes."""

import glob
import os
import re

import pytest
import training_procs as procs
from checkpoint_weights import h5_datasets as _h5
from checkpoint_weights import max_abs_diff as _max_diff
from jax_env import jax_env
from pretrain_shards import write_shards, write_vocab

TOTAL_STEPS = 4


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("jax_shards")
    write_shards(str(root / "train"), num_examples=64, sequence_length=32, num_shards=2)
    write_shards(str(root / "val"), num_examples=24, sequence_length=32, num_shards=2, seed=1)
    write_vocab(str(root / "vocab.txt"))
    return root


def _argv(shards, out, per_device_batch, extra=()):
    return ["tests/training/cli_guarded.py", "pretrain",
            "--train_dir", str(shards / "train"), "--val_dir", str(shards / "val"),
            "--vocab_file", str(shards / "vocab.txt"),
            "--checkpoint_dir", str(out / "ckpt"), "--log_dir", str(out / "logs"),
            "--run_name", "j", "--model_size", "tiny", "--max_seq_length", "32",
            "--per_gpu_batch_size", str(per_device_batch), "--total_steps", str(TOTAL_STEPS),
            "--warmup_steps", "1", "--checkpoint_frequency", "2", "--log_frequency", "1",
            "--validation_frequency", "2", "--validation_steps", "2",
            "--data_readers", "2", "--seed", "3", "--shuffle_buffer", "20",
            "--keep_checkpoints", "10", "--progress", "false", *extra]


def _env(**extra):
    return jax_env(procs.base_env(), **extra)


def _start_processes(shards, out, tag, extra=(), env_extra=None):
    """Two `keras-electra pretrain` processes joined by jax.distributed on 127.0.0.1."""
    (port,) = procs.free_ports(1)
    return [procs.start(_argv(shards, out, 4, extra),
                        _env(JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES=2,
                             JAX_PROCESS_ID=i, **(env_extra or {})),
                        str(out.parent / f"{tag}-{i}.log"))
            for i in range(2)]


def _run(processes, timeout=480):
    try:
        rcs = procs.wait_all(processes, timeout=timeout)
    finally:
        procs.kill_all(processes, grace=3)
    return rcs


def _preset(out, step=TOTAL_STEPS):
    return _h5(out / "ckpt" / "presets" / f"j-step{step}-discriminator" / "model.weights.h5")


def _checkpoint(out, worker, step=TOTAL_STEPS):
    return _h5(out / "ckpt" / f"worker-{worker}" / f"ckpt-{step:010d}" / "model.weights.h5")


@pytest.mark.jax
@pytest.mark.slow
def test_two_processes_and_two_devices_equal_one_device(shards, tmp_path):
    single, devices, multi = tmp_path / "single", tmp_path / "devices", tmp_path / "multi"
    # one process, one device, global batch 8 (both runs below: 2 x 4 rows)
    run = procs.start(_argv(shards, single, 8), _env(), str(tmp_path / "single.log"))
    assert _run([run]) == [0], procs.tail(tmp_path / "single.log")
    # one process, two host devices
    run = procs.start(_argv(shards, devices, 4), _env(
        XLA_FLAGS="--xla_force_host_platform_device_count=2"), str(tmp_path / "devices.log"))
    assert _run([run]) == [0], procs.tail(tmp_path / "devices.log")
    assert "2 replica(s), process 0 of 1" in procs.read(tmp_path / "devices.log")
    # two processes, stopped after update 2 and restarted: they agree on the resume step
    first = _start_processes(shards, multi, "m1", extra=("--stop_after_steps", "2"))
    assert _run(first) == [0, 0], "\n".join(procs.tail(p._log_path) for p in first)
    second = _start_processes(shards, multi, "m2")
    assert _run(second) == [0, 0], "\n".join(procs.tail(p._log_path) for p in second)
    logs = [procs.read(p._log_path) for p in second]
    assert "2 replica(s), process 0 of 2" in logs[0]
    for i, log in enumerate(logs):
        assert f"worker {i}: resuming j from step 2" in log, log[-3000:]

    reference = _preset(single)
    assert _max_diff(_preset(devices), reference) <= 1e-4
    assert _max_diff(_preset(multi), reference) <= 1e-4
    assert _max_diff(_checkpoint(multi, 0), _checkpoint(multi, 1)) == 0.0  # identical processes
    # the weights moved: the comparison above is not between two untouched initialisations
    first_preset = _preset(single, step=2)
    assert _max_diff(first_preset, reference) > 1e-4
    # chief-only writes: one presets dir, TensorBoard/JSONL logs from process 0 only
    assert sorted(os.listdir(multi / "ckpt" / "presets")) == [
        "j-step2-discriminator", "j-step2-generator", "j-step4-discriminator",
        "j-step4-generator"]
    assert sorted(n for n in os.listdir(multi / "ckpt") if not n.startswith(".lock-")) == [
        "presets", "worker-0", "worker-1"]  # besides the per-worker checkpoint-dir locks
    assert "run j: step 4" in logs[0] and "validation" in logs[0].lower()
    # validation ran on both processes with the same batches: logged losses agree with 1 device
    single_log = procs.read(tmp_path / "single.log")
    for key in ("val_loss", "val_disc_auc"):
        assert _logged(single_log, key) == pytest.approx(_logged(logs[0], key), abs=1e-4), key


def _logged(log, key):
    """The last `key=value` of a log."""
    values = re.findall(rf"\b{key}=([-0-9.e+naif]+)", log)
    assert values, key
    return float(values[-1])


@pytest.mark.jax
@pytest.mark.slow
def test_nan_guard_stops_both_processes_at_the_last_good_checkpoint(shards, tmp_path):
    out = tmp_path / "nan"
    processes = _start_processes(shards, out, "nan", env_extra={"GUARD_NAN_AT_STEP": 3})
    rcs = _run(processes)
    logs = [procs.read(p._log_path) for p in processes]
    assert rcs == [1, 1], "\n".join(log[-2000:] for log in logs)
    for log in logs:
        assert re.search(r"step 4: loss is (nan|inf)", log), log[-2000:]
    for worker in (0, 1):
        steps = sorted(os.path.basename(p) for p in glob.glob(
            str(out / "ckpt" / f"worker-{worker}" / "ckpt-*")))
        assert steps == ["ckpt-0000000002"], steps  # nothing written at or after the NaN
    assert all("-step2-" in name for name in os.listdir(out / "ckpt" / "presets"))
