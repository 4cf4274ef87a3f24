"""Multi-worker pretraining and step-exact resume after SIGKILL (real processes)."""

import json
import os
import re
import signal
import time

import numpy as np
import pytest
import training_procs as procs
from checkpoint_weights import h5_datasets
from checkpoint_weights import max_abs_diff as _max_diff
from pretrain_shards import write_shards, write_vocab

TOTAL_STEPS = 12
CKPT_EVERY = 3


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    write_shards(str(root / "train"), num_examples=96, sequence_length=32, num_shards=2)
    write_vocab(str(root / "vocab.txt"))
    return root


def _argv(shards, out, run_name, per_gpu_batch_size, dropout="0.1", extra=()):
    return ["tests/training/cli_guarded.py", "pretrain",
            "--train_dir", str(shards / "train"), "--vocab_file", str(shards / "vocab.txt"),
            "--checkpoint_dir", str(out / "ckpt"), "--log_dir", str(out / "logs"),
            "--run_name", run_name, "--model_size", "tiny", "--max_seq_length", "32",
            "--per_gpu_batch_size", str(per_gpu_batch_size), "--total_steps", str(TOTAL_STEPS),
            "--warmup_steps", "2", "--learning_rate", "2e-3", "--end_learning_rate", "4e-4",
            "--checkpoint_frequency", str(CKPT_EVERY), "--log_frequency", "1",
            "--hidden_dropout_prob", dropout, "--attention_probs_dropout_prob", dropout,
            "--shuffle_buffer", "50", "--data_readers", "2", "--seed", "3", "--skip_xla", "true",
            "--progress", "false", "--keep_checkpoints", "10", *extra]


@pytest.fixture(scope="module")
def reference(shards, tmp_path_factory):
    """One uninterrupted single-process run, shared by the two resume tests (they compare
    against the same run: same argv, no fault injected). Started when the first test asks
    for it, running alongside that test's own processes; returns a function that waits for
    it and gives its output dir."""
    out = tmp_path_factory.mktemp("reference")
    proc = procs.start(_argv(shards, out / "ref", "r", 8), procs.base_env(),
                       str(out / "ref.log"))
    state = {}

    def wait():
        if "rc" not in state:
            state["rc"] = procs.wait_all([proc], timeout=600)[0]
        assert state["rc"] == 0, procs.tail(out / "ref.log")
        return out / "ref"

    yield wait
    procs.kill_all([proc])


def _weights(ckpt_dir):
    """Every dataset of model.weights.h5 (model + optimizer) and the dropout RNG states."""
    out = h5_datasets(os.path.join(ckpt_dir, "model.weights.h5"))
    with np.load(os.path.join(ckpt_dir, "rng_state.npz")) as rng:
        out.update({f"rng/{k}": rng[k] for k in rng.files})
    return out


def _final(out, worker=0):
    return os.path.join(out, "ckpt", f"worker-{worker}", f"ckpt-{TOTAL_STEPS:010d}")


def _wait_for_checkpoint(out, worker, min_step, workers, timeout=500):
    deadline = time.monotonic() + timeout
    pattern = re.compile(r"^ckpt-(\d{10})$")
    while time.monotonic() < deadline:
        folder = os.path.join(out, "ckpt", f"worker-{worker}")
        steps = [int(m.group(1)) for n in (os.listdir(folder) if os.path.isdir(folder) else [])
                 if (m := pattern.match(n))]
        if steps and max(steps) >= min_step:
            return max(steps)
        for w in workers:
            assert w.poll() is None, "worker exited early:\n" + procs.tail(w._log_path)
        time.sleep(0.1)
    procs.kill_all(workers)
    raise AssertionError("no checkpoint in time:\n" + "\n".join(procs.tail(w._log_path)
                                                                 for w in workers))


def _resumed_step(log_path):
    match = re.search(r"resuming \S+ from step (\d+)", procs.read(log_path))
    return int(match.group(1)) if match else None


def _losses(out, run_name):
    path = os.path.join(out, "logs", run_name, "metrics.jsonl")
    with open(path) as f:
        records = [json.loads(line) for line in f]
    return {r["step"]: r for r in records if r["split"] == "train"}


@pytest.mark.slow
def test_single_process_sigkill_resume_matches_uninterrupted(shards, reference, tmp_path):
    run = tmp_path / "run"
    env = procs.base_env(GUARD_STEP_SLEEP="0.25")
    victim = procs.start(_argv(shards, run, "r", 8), env, str(tmp_path / "run1.log"))
    try:
        killed_after = _wait_for_checkpoint(run, 0, 6, [victim])
        os.kill(victim.pid, signal.SIGKILL)  # the whole (one-process) job
        victim.wait(10)
        assert killed_after < TOTAL_STEPS
        resumed = procs.start(_argv(shards, run, "r", 8), env, str(tmp_path / "run2.log"))
        assert procs.wait_all([resumed], timeout=600) == [0], procs.tail(tmp_path / "run2.log")
    finally:
        procs.kill_all([victim])
    ref = reference()
    step = _resumed_step(tmp_path / "run2.log")
    assert step is not None and step >= 6 and step % CKPT_EVERY == 0, procs.tail(
        tmp_path / "run2.log")
    state = json.load(open(os.path.join(_final(run), "state.json")))
    assert state["batches_consumed"] == TOTAL_STEPS
    assert _max_diff(_weights(_final(ref)), _weights(_final(run))) <= 1e-6


@pytest.mark.slow
def test_kill_during_a_checkpoint_write_and_ctrl_c_resume_bit_identically(shards, reference,
                                                                          tmp_path):
    """Issue 15: SIGKILL in the middle of writing checkpoint 6 (weights written, state.json
    not, dir not renamed), and SIGINT (Ctrl-C) mid-run: rerunning the same command gives
    weights, optimizer state and RNG state bit-identical to an uninterrupted run."""
    killed, interrupted = tmp_path / "killed", tmp_path / "interrupted"
    victim = procs.start(_argv(shards, killed, "r", 8),
                         procs.base_env(GUARD_KILL_IN_SAVE_AT_STEP="6"),
                         str(tmp_path / "killed1.log"))
    # slow steps (1 s each) so that Ctrl-C lands mid-run, whatever the machine's load
    ctrl_c = procs.start(_argv(shards, interrupted, "r", 8),
                         procs.base_env(GUARD_STEP_SLEEP="1.0"),
                         str(tmp_path / "interrupted1.log"))
    try:
        _wait_for_checkpoint(interrupted, 0, 6, [ctrl_c])
        ctrl_c.send_signal(signal.SIGINT)
        assert ctrl_c.wait(120) == 130, procs.tail(tmp_path / "interrupted1.log")
        assert "keras-electra: interrupted" in procs.read(tmp_path / "interrupted1.log")
        assert victim.wait(500) == -signal.SIGKILL, procs.tail(tmp_path / "killed1.log")
        worker_dir = killed / "ckpt" / "worker-0"
        names = sorted(os.listdir(worker_dir))
        assert [n for n in names if n.startswith("ckpt-")] == ["ckpt-0000000003"], names
        (partial,) = [n for n in names if n.startswith(".tmp-ckpt-0000000006-")]
        assert (worker_dir / partial / "model.weights.h5").is_file()
        assert not (worker_dir / partial / "state.json").exists()
        reruns = [procs.start(_argv(shards, killed, "r", 8), procs.base_env(),
                              str(tmp_path / "killed2.log")),
                  procs.start(_argv(shards, interrupted, "r", 8), procs.base_env(),
                              str(tmp_path / "interrupted2.log"))]
        assert procs.wait_all(reruns, timeout=600) == [0, 0], (
            procs.tail(tmp_path / "killed2.log") + procs.tail(tmp_path / "interrupted2.log"))
    finally:
        procs.kill_all([victim, ctrl_c])
    ref = reference()
    assert _resumed_step(tmp_path / "killed2.log") == 3  # the intact one before the kill
    assert not any(n.startswith(".tmp-") for n in os.listdir(worker_dir))  # cleaned up
    assert _resumed_step(tmp_path / "interrupted2.log") >= 6
    expected = _weights(_final(ref))
    for run in (killed, interrupted):
        got = _weights(_final(run))
        assert sorted(got) == sorted(expected)
        for name in expected:  # bit-identical: not a tolerance
            assert np.array_equal(got[name], expected[name]), (run.name, name)


@pytest.mark.mwms
@pytest.mark.slow
def test_two_worker_mwms_pretrain_and_kill_resume(shards, tmp_path):
    """2 MWMS workers == 1 process with 2 replicas; SIGKILL one worker, restart, same result.

    (Killing the whole job is covered by the single-process test above.)
    """
    mwms, mirrored, killed = tmp_path / "mwms", tmp_path / "mirrored", tmp_path / "killed"
    # 1) uninterrupted 2-worker run, and a one-process run with the same replica layout
    #    (2 logical CPUs, global batch 8) for the loss curve.
    workers = procs.start_workers(_argv(shards, mwms, "m", 4), 2, str(tmp_path), tag="mwms")
    single = procs.start(_argv(shards, mirrored, "m", 4),
                         procs.base_env(KERAS_ELECTRA_CPU_REPLICAS="2"),
                         str(tmp_path / "mirrored.log"))
    rcs = procs.wait_all(workers + [single], timeout=600)
    assert rcs == [0, 0, 0], "\n".join(procs.tail(p._log_path) for p in workers + [single])
    w0, w1 = _weights(_final(mwms, 0)), _weights(_final(mwms, 1))
    assert _max_diff(w0, w1) == 0.0  # bit-identical workers
    curve, reference = _losses(mwms, "m"), _losses(mirrored, "m")
    assert sorted(curve) == list(range(1, TOTAL_STEPS + 1))
    for step in range(1, 6):
        for key in ("loss", "gen_loss", "disc_loss"):
            assert curve[step][key] == pytest.approx(reference[step][key], abs=1e-5, rel=1e-5), \
                (step, key)

    # 2) same run; SIGKILL worker 1 mid-run: the survivor must end by itself (a peer-reset
    #    error, or the step watchdog if it blocks in a collective), then restart both.
    env = {"GUARD_STEP_SLEEP": "0.3"}
    workers = procs.start_workers(_argv(shards, killed, "m", 4, extra=("--step_timeout_s", "20")),
                                  2, str(tmp_path), env, tag="k1-")
    try:
        _wait_for_checkpoint(killed, 1, 3, workers)
        os.kill(workers[1].pid, signal.SIGKILL)
        workers[1].wait(10)
        survivor_rc = workers[0].wait(120)  # raises TimeoutExpired if it stalls
    finally:
        procs.kill_all(workers, grace=3)
    survivor_log = open(workers[0]._log_path).read()
    assert survivor_rc != 0, survivor_log[-3000:]
    print("survivor exit code", survivor_rc,
          "(watchdog)" if "Timeout (0:00:20)!" in survivor_log else "(error)")
    # 3) restart with the same command: both resume from the same step and finish.
    workers = procs.start_workers(_argv(shards, killed, "m", 4), 2, str(tmp_path), tag="k2-")
    rcs = procs.wait_all(workers, timeout=600)
    assert rcs == [0, 0], "\n".join(procs.tail(w._log_path) for w in workers)
    resumed = [_resumed_step(w._log_path) for w in workers]
    assert resumed[0] == resumed[1] and 3 <= resumed[0] < TOTAL_STEPS, resumed
    k0, k1 = _weights(_final(killed, 0)), _weights(_final(killed, 1))
    assert _max_diff(k0, k1) == 0.0  # workers identical after the kill
    assert _max_diff(k0, w0) <= 1e-6  # and equal to the uninterrupted 2-worker run
