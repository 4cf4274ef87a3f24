#!/usr/bin/env bash
# One GPU, JAX backend, no TensorFlow needed; < 8 min. Extra flags go to gpu.py (e.g. --with-hf).
cd "$(dirname "$0")/.." && KERAS_BACKEND=jax PYTHONPATH=".:benchmarks/vendor:${PYTHONPATH:-}" exec "${PYTHON:-python3}" benchmarks/gpu.py "$@"
