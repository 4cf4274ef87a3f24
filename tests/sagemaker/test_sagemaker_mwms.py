"""The SageMaker entry point as two "hosts" on this machine: MWMS training, export, resume.

Two processes run `python -m keras_electra.sagemaker.entry_point` with the
environment SageMaker's training toolkit gives each instance (`SM_HOSTS`,
`SM_CURRENT_HOST`, `SM_HPS`, `SM_CHANNEL_TRAIN`/`_VALIDATION`, `SM_MODEL_DIR`,
`SM_OUTPUT_DATA_DIR`), both on 127.0.0.1 with their own ports
(`KERAS_ELECTRA_SM_HOST_PORTS`) and their own stand-in for /opt/ml/checkpoints
(`KERAS_ELECTRA_CHECKPOINT_DIR`). The first run is SIGKILLed once both workers
have a checkpoint (a spot interruption); the restarted run must resume from it,
finish, and leave the discriminator preset in the chief's SM_MODEL_DIR.

Every process is ended by PID (SIGTERM, then SIGKILL: an MWMS worker ignores SIGTERM).
"""

import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOSTS = ["algo-1", "algo-2"]
SEQ = 32
TOTAL_STEPS = 24
CHECKPOINT_EVERY = 5
RUN_NAME = "sm-mwms"
PHASE_TIMEOUT = 420


def write_shards(out_dir, corpus_dir, vocab_path, examples_per_split=(192, 32)):
    """G-schema TFRecord shards (int64 input_ids/input_mask/segment_ids) from the shared corpus."""
    import numpy as np
    import tensorflow as tf

    from keras_electra.models.electra_tokenizer import ElectraTokenizer

    tokenizer = ElectraTokenizer(vocabulary=str(vocab_path))
    text = sorted(pathlib.Path(corpus_dir).glob("*.txt"))[0].read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if len(line.split()) >= 6]
    needed = sum(examples_per_split)
    ids = tokenizer.tokenize(tf.constant(lines[: needed * 2]))
    rows = ids.to_list() if hasattr(ids, "to_list") else [np.asarray(r).tolist() for r in ids]
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    examples = []
    for row in rows:
        body = row[: SEQ - 2]
        if len(body) < 4:
            continue
        input_ids = [cls_id] + body + [sep_id]
        mask = [1] * len(input_ids)
        pad = SEQ - len(input_ids)
        examples.append((input_ids + [0] * pad, mask + [0] * pad, [0] * SEQ))
        if len(examples) == needed:
            break
    assert len(examples) == needed, "corpus too small for the test"
    paths = {}
    start = 0
    for split, count in zip(("train", "val"), examples_per_split):
        split_dir = pathlib.Path(out_dir) / split
        split_dir.mkdir(parents=True)
        for shard in range(2):
            path = split_dir / f"pretrain_data.tfrecord-{shard:05d}-of-00002"
            with tf.io.TFRecordWriter(str(path)) as writer:
                for input_ids, mask, segments in examples[start + shard: start + count: 2]:
                    feature = {
                        "input_ids": tf.train.Feature(int64_list=tf.train.Int64List(
                            value=np.asarray(input_ids))),
                        "input_mask": tf.train.Feature(int64_list=tf.train.Int64List(
                            value=mask)),
                        "segment_ids": tf.train.Feature(int64_list=tf.train.Int64List(
                            value=segments)),
                    }
                    writer.write(tf.train.Example(
                        features=tf.train.Features(feature=feature)).SerializeToString())
        start += count
        paths[split] = str(split_dir)
    return paths


def free_ports(count):
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def host_env(tmp_path, host, host_ports, hyperparameters, shards):
    host_dir = tmp_path / host
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SM_", "TF_CONFIG", "KERAS_ELECTRA_"))}
    env.update({
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        "PYTHONUNBUFFERED": "1",
        "SM_HOSTS": json.dumps(HOSTS),
        "SM_CURRENT_HOST": host,
        "SM_NUM_GPUS": "0",
        "SM_HPS": json.dumps(hyperparameters),
        "SM_CHANNEL_TRAIN": shards["train"],
        "SM_CHANNEL_VALIDATION": shards["val"],
        "SM_MODEL_DIR": str(host_dir / "model"),
        "SM_OUTPUT_DATA_DIR": str(host_dir / "output"),
        "KERAS_ELECTRA_CHECKPOINT_DIR": str(host_dir / "checkpoints"),
        "KERAS_ELECTRA_SM_HOST_PORTS": json.dumps(host_ports),
    })
    return env


def start_hosts(tmp_path, phase, hyperparameters, shards):
    ports = free_ports(len(HOSTS))
    host_ports = {host: f"127.0.0.1:{port}" for host, port in zip(HOSTS, ports)}
    procs = []
    for host in HOSTS:
        log = open(tmp_path / f"{host}-{phase}.log", "w")
        procs.append((host, log, subprocess.Popen(
            [sys.executable, "-m", "keras_electra.sagemaker.entry_point"],
            env=host_env(tmp_path, host, host_ports, hyperparameters, shards),
            cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT,
        )))
    return procs


def stop(procs, grace=5):
    """End every process by PID: SIGTERM, then SIGKILL after `grace` seconds."""
    for _, _, proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for _, _, proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    for _, log, _ in procs:
        log.close()


def kill_now(procs):
    for _, _, proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    for _, log, proc in procs:
        proc.wait(timeout=30)
        log.close()


def output(tmp_path, host, phase):
    return (tmp_path / f"{host}-{phase}.log").read_text(errors="replace")


def checkpoint_steps(tmp_path, host, worker):
    worker_dir = tmp_path / host / "checkpoints" / f"worker-{worker}"
    if not worker_dir.is_dir():
        return []
    return sorted(int(m.group(1)) for name in os.listdir(worker_dir)
                  if (m := re.fullmatch(r"ckpt-(\d+)", name)))


def logged_steps(text):
    return [int(m.group(1)) for m in re.finditer(r"^step (\d+) ", text, re.MULTILINE)]


def wait_all(procs, timeout, tmp_path, phase):
    deadline = time.monotonic() + timeout
    for host, _, proc in procs:
        try:
            proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            stop(procs)
            pytest.fail(f"{phase}: {host} did not finish in {timeout} s:\n"
                        + output(tmp_path, host, phase)[-4000:])


@pytest.mark.slow
@pytest.mark.mwms
def test_entry_point_trains_exports_and_resumes_under_mwms(tmp_path, bert_vocab_path, corpus_dir):
    shards = write_shards(tmp_path / "data", corpus_dir, bert_vocab_path)
    hyperparameters = {
        "task": "pretrain",
        "model_size": "tiny",
        "vocab_file": str(bert_vocab_path),
        "per_gpu_batch_size": 4,
        "max_seq_length": SEQ,
        "total_steps": TOTAL_STEPS,
        "warmup_steps": 2,
        "learning_rate": 1e-3,
        "checkpoint_frequency": CHECKPOINT_EVERY,
        "validation_frequency": 12,
        "validation_steps": 1,
        "log_frequency": 1,
        "run_name": RUN_NAME,
        "skip_xla": True,
        "progress": False,
        "shuffle_buffer": 64,
        "seed": 7,
    }

    # Phase 1: train until both workers hold a checkpoint, then kill both (spot interruption).
    procs = start_hosts(tmp_path, "first", hyperparameters, shards)
    try:
        deadline = time.monotonic() + PHASE_TIMEOUT
        while time.monotonic() < deadline:
            if checkpoint_steps(tmp_path, "algo-1", 0) and checkpoint_steps(tmp_path, "algo-2", 1):
                break
            if any(proc.poll() is not None for _, _, proc in procs):
                break
            time.sleep(0.05)
        finished_early = [host for host, _, proc in procs if proc.poll() is not None]
    finally:
        kill_now(procs)
    assert not finished_early, (
        f"phase 1 ended before it could be interrupted ({finished_early}):\n"
        + output(tmp_path, "algo-1", "first")[-4000:] + output(tmp_path, "algo-2", "first")[-4000:]
    )
    saved = {host: checkpoint_steps(tmp_path, host, w) for w, host in enumerate(HOSTS)}
    assert all(saved.values()), saved
    assert max(max(steps) for steps in saved.values()) < TOTAL_STEPS
    # The cluster really was two workers on the addresses the entry point was given.
    first_chief = output(tmp_path, "algo-1", "first")
    assert '"index": 0' in first_chief and '"index": 1' in output(tmp_path, "algo-2", "first")

    # Phase 2: restart both hosts with the same hyperparameters; they must resume.
    procs = start_hosts(tmp_path, "second", hyperparameters, shards)
    try:
        wait_all(procs, PHASE_TIMEOUT, tmp_path, "second")
    finally:
        stop(procs)
    for host, _, proc in procs:
        assert proc.returncode == 0, f"{host} exited {proc.returncode}:\n" + output(
            tmp_path, host, "second")[-4000:]

    resume_floor = min(max(steps) for steps in saved.values())
    chief_text = output(tmp_path, "algo-1", "second")
    steps = logged_steps(chief_text)
    assert steps, "the chief printed no metrics lines:\n" + chief_text[-4000:]
    assert steps[0] > resume_floor, f"did not resume (first logged step {steps[0]}, " \
        f"checkpoints {saved}):\n" + chief_text[-4000:]
    assert steps[-1] == TOTAL_STEPS

    # The discriminator preset is in the chief's SM_MODEL_DIR and loads.
    preset = tmp_path / "algo-1" / "model" / f"{RUN_NAME}-step{TOTAL_STEPS}-discriminator"
    assert (preset / "config.json").is_file(), sorted(
        str(p.relative_to(tmp_path)) for p in (tmp_path / "algo-1").rglob("*"))[:50]
    from keras_electra import ElectraBackbone

    backbone = ElectraBackbone.from_preset(str(preset))
    assert backbone.num_layers == 2  # electra_tiny
