"""Benchmark harness: timing utilities, e3nn-jax baselines and the ``geojax-bench`` CLI."""

from geojax.bench.timing import Timing, fit_exponent, time_interleaved, time_jitted

__all__ = ["Timing", "fit_exponent", "time_interleaved", "time_jitted"]
