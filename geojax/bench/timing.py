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
    cold_median_ms: float | None = None  # median of the first call of each block, right after another function ran
    output: object = dataclasses.field(default=None, repr=False, compare=False)  # of the last timed call

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

    More calls are made, up to 1,000, until ``min_time_s`` has passed, so that fast kernels get a
    stable median. Every call is followed by ``block_until_ready``. Raises what compiling or
    calling ``fn`` raises.
    """
    result = time_interleaved({"fn": fn}, *args, repeats=repeats, warmup=warmup, min_time_s=min_time_s)["fn"]
    if isinstance(result, Exception):
        raise result
    return result


def time_interleaved(fns: dict[str, Callable], *args, repeats: int = 10, warmup: int = 2, min_time_s: float = 0.2,
                     block: int = 1, seed: int = 0) -> dict[str, Timing | Exception]:
    """Time several functions of the same ``args`` in interleaved rounds: ``{name: Timing}``.

    Each function is lowered and compiled (timed) and warmed up; then every round runs each
    function for ``block`` consecutive calls, the functions in a freshly shuffled order (``seed``),
    until each has at least ``repeats`` timed calls and ``min_time_s`` per function has passed (at
    most 1,000 rounds). A slow drift of the machine (frequency, a neighbour on a shared host) then
    lands on every function alike, so ratios of medians from one call are not skewed by which
    function happened to run first.

    With ``block > 1`` the first call of each block, made right after a different function
    emptied the caches, is reported apart (``Timing.cold_median_ms``) and the statistics come from
    the other ``block - 1`` calls: the state of a function called repeatedly, as in a training
    loop or a back-to-back benchmark. With ``block == 1`` every call is such a first call and
    counts. (On 2 CPU cores the batch-256 L = 8 Gaunt product took 0.98 ms alternating call by call
    with e3nn-jax's CG product and 0.64 ms alternating with e3nn-jax's grid product.) A function that fails to compile or run maps to its
    exception instead of a ``Timing``. ``Timing.output`` holds the result of the last timed call,
    so callers check values without compiling again.

    The same ``seed`` repeats the same sequence of orders, and with it whatever the position in a
    round adds: on 2 CPU cores one compiled kernel under two names differed by 2-8% in five runs
    with one seed and swapped places when the names did (docs/benchmarks/HISTORY.md). Vary ``seed`` to
    spread that over runs.

    Raises:
      ValueError: ``block < 1``.
    """
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    compiled, compile_s, results, outputs = {}, {}, {}, {}
    for name, fn in fns.items():
        try:
            start = time.perf_counter()
            compiled[name] = jax.jit(fn).lower(*args).compile()
            compile_s[name] = time.perf_counter() - start
            for _ in range(warmup):
                jax.block_until_ready(compiled[name](*args))
        except Exception as err:  # reported per function, not raised
            compiled.pop(name, None)
            results[name] = err
    names = list(compiled)
    times = {name: [] for name in names}
    cold = {name: [] for name in names}
    order = np.random.default_rng(seed)
    begin = time.perf_counter()
    for _ in range(1000):
        if not names or len(times[names[0]]) >= repeats and time.perf_counter() - begin >= min_time_s * len(names):
            break
        for k in order.permutation(len(names)):
            name = names[k]
            for call in range(block):
                t0 = time.perf_counter()
                outputs[name] = jax.block_until_ready(compiled[name](*args))
                elapsed = time.perf_counter() - t0
                if call == 0:
                    cold[name].append(elapsed)
                if call > 0 or block == 1:
                    times[name].append(elapsed)
    for name in names:
        ms = 1e3 * np.asarray(times[name])
        results[name] = Timing(float(np.median(ms)), float(np.percentile(ms, 10)), float(np.percentile(ms, 90)), len(ms),
                               compile_s[name], _cost_flops(compiled[name]), _temp_bytes(compiled[name]),
                               float(1e3 * np.median(cold[name])), outputs[name])
    return {name: results[name] for name in fns}


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
