"""Timing jitted functions the honest way: compile separately, warm up, block, report medians."""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import jax
import numpy as np


@dataclasses.dataclass(frozen=True)
class Timing:
    """Run times in milliseconds and compile time in seconds of one jitted function."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    runs: int
    compile_s: float
    flops: float | None
    temp_bytes: int | None = None  # XLA's scratch memory of the compiled function (memory_analysis)

    @property
    def gflops_per_s(self) -> float | None:
        if not self.flops:
            return None
        return self.flops / (self.median_ms * 1e-3) / 1e9


def _cost_flops(compiled) -> float | None:
    try:
        cost = compiled.cost_analysis()
    except Exception:  # cost analysis is optional on some backends
        return None
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else None
    if not cost:
        return None
    flops = cost.get("flops")
    return float(flops) if flops is not None and flops > 0 else None


def time_jitted(fn: Callable, *args, repeats: int = 10, warmup: int = 2, min_time_s: float = 0.2) -> Timing:
    """Lower and compile ``jax.jit(fn)`` (timed), warm up, then time at least ``repeats`` calls.

    More calls are made, up to ``max(repeats, ...)``, until ``min_time_s`` has passed, so that fast
    kernels get a stable median. Every call is followed by ``block_until_ready``.
    """
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    for _ in range(warmup):
        jax.block_until_ready(compiled(*args))
    times = []
    begin = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - begin < min_time_s and len(times) < 1000):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - t0)
    ms = 1e3 * np.asarray(times)
    return Timing(float(np.median(ms)), float(np.percentile(ms, 10)), float(np.percentile(ms, 90)), len(ms), compile_s, _cost_flops(compiled), _temp_bytes(compiled))


def _temp_bytes(compiled) -> int | None:
    try:
        stats = compiled.memory_analysis()
    except Exception:  # not every backend reports memory
        return None
    return None if stats is None else int(stats.temp_size_in_bytes)


def fit_exponent(lmax: list[int], times_ms: list[float]) -> float:
    """Least-squares slope of ``log(time)`` against ``log(L)``."""
    if len(lmax) < 2:
        return float("nan")
    return float(np.polyfit(np.log(np.asarray(lmax, float)), np.log(np.asarray(times_ms, float)), 1)[0])
