#!/usr/bin/env bash
# One GPU, JAX backend, no TensorFlow needed; < 8 min: ELECTRA-Base seq 512, Small seq 512 and
# Small seq 128, each with the shipped recipe and the speed options (rbg PRNG, attention
# dropout 0 / fused attention), the HF/PyTorch step, and a jax.profiler summary of Base.
# Extra flags go to benchmarks/gpu.py (e.g. --cases base_s512 --variants default,rbg).
cd "$(dirname "$0")/.." && KERAS_BACKEND=jax PYTHONPATH=".:benchmarks:benchmarks/vendor:${PYTHONPATH:-}" \
  exec "${PYTHON:-python3}" benchmarks/gpu.py --with-hf "$@"
