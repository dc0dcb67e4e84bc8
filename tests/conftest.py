"""Test setup: 8 fake CPU devices and cheap compilation before any JAX computation, and shared helpers."""

import os

os.environ.setdefault("XLA_FLAGS", "")
# Compiling many small programs dominates this suite's time. This skips LLVM's expensive passes
# (XLA's HLO passes still run): float32 results move by round-off only, and a compile-bound test
# ran ~30% faster (run-time-bound ones gained nothing). Subprocesses inherit it.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
import jax  # noqa: E402

jax.config.update("jax_num_cpu_devices", 8)
jax.config.update("jax_platforms", "cpu")

import functools  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from flax import nnx  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


def relative_error(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@functools.partial(nnx.jit, static_argnames="method")
def jit_call(module: nnx.Module, *args, method: str = "__call__", **kwargs):
    """``getattr(module, method)(*args, **kwargs)`` compiled once per shape.

    Tests call whole models through this: op by op, every new shape compiles a small program of its
    own (an affine classifier's first call took 5.9 s eagerly against 0.9 s jitted).
    """
    return getattr(module, method)(*args, **kwargs)
