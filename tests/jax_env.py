"""The environment of a test's `KERAS_BACKEND=jax` subprocess (JAX on the CPU).

Those subprocesses run tiny models for a few steps, so XLA's compile time is most of their
cost (ELECTRA-tiny's 4-update pretrain run: ~740 programs, the train step alone ~18 s). The
tests therefore compile them with the LLVM backend at -O0
(`--xla_backend_optimization_level=0`): the same XLA programs, the same operations in the
same order (no fast-math either way), just machine code that is not optimised, which
compiles in about a third less CPU time and runs slower; measured on the AMD EPYC 2-core
box: a 4-update `keras-electra pretrain` 68 -> 46 CPU-s, the JAX task matrix 130 -> 81.
Only JAX processes get it: a TensorFlow process XLA-compiles the pretrainer's step and runs
it for hundreds of updates (at -O0 ELECTRA-tiny's step ran 15x slower), and a JAX process
uses TensorFlow for tf.data only. A developer's own `XLA_FLAGS` are kept.
"""

import os

JAX_TEST_XLA_FLAGS = "--xla_backend_optimization_level=0"


def jax_env(base=None, **extra):
    """`base` (default: os.environ) with `KERAS_BACKEND=jax`, `JAX_PLATFORMS=cpu`, the flag
    above added to `XLA_FLAGS` (also to one given in `extra`), and `extra` as strings."""
    env = dict(os.environ if base is None else base)
    env.update(KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    env.update({k: str(v) for k, v in extra.items()})
    env["XLA_FLAGS"] = " ".join(f for f in (env.get("XLA_FLAGS", ""), JAX_TEST_XLA_FLAGS) if f)
    return env
