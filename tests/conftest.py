"""Test setup: 8 fake CPU devices and cheap compilation before any JAX computation, and shared helpers."""

import os

# Compiling many small programs dominates this suite's time. This skips LLVM's expensive passes
# (XLA's HLO passes still run): float32 results move by round-off only, and a compile-bound test
# ran ~30% faster (run-time-bound ones gained nothing). Subprocesses inherit it.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
# XLA:CPU's older elemental emitters compile small fusions about twice as fast as its fusion
# emitters: tests/nn/test_gaunt_models.py spent 24 s instead of 51 s compiling (75 -> 49 s wall).
# Tests compare two different programs up to round-off, never bitwise (fusion choices differ).
# `XLA_FLAGS=--xla_cpu_use_fusion_emitters=true pytest` tests with XLA's default, as programs compile outside tests.
if "xla_cpu_use_fusion_emitters" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_use_fusion_emitters=false").strip()
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
