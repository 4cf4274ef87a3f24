"""The task API on raw strings: TF/JAX x QA (both heads)/pretrainer x predict/fit/evaluate x
float32/mixed_bfloat16. One subprocess per backend runs the whole matrix on tiny models
(`task_api_matrix_script.py`), as the other backend tests do."""

import os
import pathlib
import subprocess
import sys

import pytest
from jax_env import jax_env

HERE = pathlib.Path(__file__).resolve().parent
CELLS = [f"OK {task} {dtype} {call}" for dtype in ("float32", "mixed_bfloat16")
         for task in ("qa-simple", "qa-electra", "pretrainer")
         for call in ("predict", "fit", "evaluate")]


def _run_matrix(backend, vocab_path):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if backend == "jax":
        env = jax_env(env)
    proc = subprocess.run([sys.executable, str(HERE / "task_api_matrix_script.py"),
                           str(vocab_path)], env=env, capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = set(proc.stdout.splitlines())
    assert [c for c in CELLS if c not in lines] == []
    assert f"MATRIX-OK {backend}" in lines


@pytest.mark.slow
@pytest.mark.jax
def test_task_api_on_raw_strings_jax(bert_vocab_path):
    _run_matrix("jax", bert_vocab_path)


@pytest.mark.slow
def test_task_api_on_raw_strings_tensorflow(bert_vocab_path):
    _run_matrix("tensorflow", bert_vocab_path)
