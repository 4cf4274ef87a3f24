"""The pretraining driver on the JAX backend (fit + checkpoint + resume), in a subprocess."""

import os
import re

import pytest
import training_procs as procs
from jax_env import jax_env
from pretrain_shards import write_shards, write_vocab


@pytest.mark.jax
@pytest.mark.slow
def test_pretrain_cli_on_jax_backend_resumes(tmp_path):
    write_shards(str(tmp_path / "train"), num_examples=32, sequence_length=32, num_shards=1)
    write_vocab(str(tmp_path / "vocab.txt"))
    argv = ["tests/training/cli_guarded.py", "pretrain", "--train_dir", str(tmp_path / "train"),
            "--vocab_file", str(tmp_path / "vocab.txt"), "--checkpoint_dir",
            str(tmp_path / "ckpt"), "--log_dir", str(tmp_path / "logs"), "--run_name", "j",
            "--model_size", "tiny", "--max_seq_length", "32", "--per_gpu_batch_size", "4",
            "--warmup_steps", "1", "--checkpoint_frequency", "2", "--log_frequency", "1",
            "--progress", "false", "--total_steps", "4", "--jax_prng", "rbg"]
    env = jax_env(procs.base_env())
    first = procs.start(argv + ["--stop_after_steps", "2"], env, str(tmp_path / "a.log"))
    assert procs.wait_all([first], timeout=600) == [0], procs.tail(tmp_path / "a.log")
    second = procs.start(argv, env, str(tmp_path / "b.log"))
    assert procs.wait_all([second], timeout=600) == [0], procs.tail(tmp_path / "b.log")
    log = procs.read(tmp_path / "b.log")
    assert re.search(r"resuming j from step 2", log), log[-3000:]
    assert "run j: step 4" in log
    assert os.path.isdir(tmp_path / "ckpt" / "presets" / "j-step4-discriminator")
    assert "JAX PRNG: rbg" in log  # the opt-in generator, kept across the resume
