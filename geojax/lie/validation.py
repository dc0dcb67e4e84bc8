"""Trace-time argument checks and value-level masking shared by :mod:`geojax.lie`.

Shape, dtype and static-argument problems raise at trace time (``ValueError`` / ``TypeError``
naming the argument, what was given and what was expected). Problems that only the values can
reveal (a determinant <= 0, a matrix that is not symmetric) are never raised: the affected
outputs are NaN, and every group has a ``contains`` check the caller can use beforehand.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def float_array(x: Any, name: str) -> Array:
    """``jnp.asarray(x)``; raises ``TypeError`` unless the dtype is real floating point (or ``x``
    cannot be converted: the pair ``(g, log_density)`` that ``sample`` returns, for one)."""
    try:
        x = jnp.asarray(x)
    except (TypeError, ValueError) as err:
        hint = " (sample returns (g, log_density): pass g)" if isinstance(x, tuple) else ""
        raise TypeError(f"{name} must be a real floating-point array, got a {type(x).__name__} that is not one{hint}: {err}") from err
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{name} must be a real floating-point array, got dtype {x.dtype}")
    return x


def square(x: Any, name: str, n: int | None = None) -> Array:
    """Checks ``x`` has shape ``[..., n, n]`` (any ``n`` when ``n`` is None) and is floating."""
    x = float_array(x, name)
    want = "[..., n, n]" if n is None else f"[..., {n}, {n}]"
    if x.ndim < 2 or x.shape[-1] != x.shape[-2] or (n is not None and x.shape[-1] != n):
        raise ValueError(f"{name} must have shape {want}, got shape {tuple(x.shape)}")
    return x


def vectors(x: Any, name: str, d: int) -> Array:
    """Checks ``x`` has shape ``[..., d]`` and is floating."""
    x = float_array(x, name)
    if x.ndim < 1 or x.shape[-1] != d:
        raise ValueError(f"{name} must have shape [..., {d}], got shape {tuple(x.shape)}")
    return x


def matrix_size(n: Any, name: str = "n", minimum: int = 2) -> int:
    """Checks a static matrix size: a Python int >= ``minimum``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be a Python int, got {type(n).__name__} {n!r}")
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {n}")
    return int(n)


def sample_shape(shape: Any) -> tuple[int, ...]:
    """Normalizes ``shape`` (an int or a sequence of ints >= 0) to a tuple."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    if not isinstance(shape, Sequence) or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0 for s in shape
    ):
        raise ValueError(f"shape must be an int or a tuple of ints >= 0, got {shape!r}")
    return tuple(int(s) for s in shape)


def positive(value: Any, name: str) -> Any:
    """Checks a Python number is finite and > 0; arrays (traced values) pass through unchecked."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a positive float, got {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        if not (math.isfinite(float(value)) and float(value) > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def sample_dtype(dtype: Any) -> np.dtype:
    """The floating dtype to sample in: ``dtype`` or JAX's default float (float64 under x64)."""
    if dtype is None:
        return jnp.zeros(()).dtype  # float32, or float64 when x64 is enabled
    dt = jnp.dtype(dtype)
    if not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype, got {dtype!r}")
    return dt


def default_tol(dtype: Any) -> float:
    """Membership tolerance used when ``tol`` is None: ``sqrt(eps)`` of ``dtype``.

    About 1.5e-8 for float64 and 3.5e-4 for float32: loose enough for round-off accumulated over
    many products, tight enough to reject matrices that are not in the group.
    """
    return float(np.sqrt(np.finfo(jnp.dtype(dtype)).eps))


def tolerance(tol: float | None, dtype: Any) -> float:
    """``tol`` checked (a float >= 0), or :func:`default_tol` of ``dtype`` when None.

    Raises:
      TypeError: ``tol`` not a number. ValueError: ``tol < 0``.
    """
    if tol is None:
        return default_tol(dtype)
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.integer, np.floating)):
        raise TypeError(f"tol must be a float or None, got {tol!r}")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol!r}")
    return float(tol)


def nan_unless(ok: Array, x: Array, event_ndim: int) -> Array:
    """``x`` where ``ok`` holds and NaN elsewhere; ``ok`` has the batch shape of ``x``."""
    ok = jnp.reshape(ok, ok.shape + (1,) * event_ndim)
    return jnp.where(ok, x, jnp.asarray(jnp.nan, x.dtype))


def is_symmetric(x: Array, tol: float) -> Array:
    """``max |x - x^T| <= tol * max(1, max |x|)`` over the last two axes."""
    scale = jnp.maximum(1.0, jnp.max(jnp.abs(x), axis=(-2, -1)))
    return jnp.max(jnp.abs(x - jnp.swapaxes(x, -1, -2)), axis=(-2, -1)) <= tol * scale


def is_skew(x: Array, tol: float) -> Array:
    """``max |x + x^T| <= tol * max(1, max |x|)`` over the last two axes."""
    scale = jnp.maximum(1.0, jnp.max(jnp.abs(x), axis=(-2, -1)))
    return jnp.max(jnp.abs(x + jnp.swapaxes(x, -1, -2)), axis=(-2, -1)) <= tol * scale


def is_traceless(x: Array, tol: float) -> Array:
    """``|tr x| <= tol * max(1, max |x|)``."""
    scale = jnp.maximum(1.0, jnp.max(jnp.abs(x), axis=(-2, -1)))
    return jnp.abs(jnp.trace(x, axis1=-2, axis2=-1)) <= tol * scale


def all_finite(x: Array, event_ndim: int) -> Array:
    """Whether all entries of each event (the last ``event_ndim`` axes) are finite: ``[...]``."""
    axes = tuple(range(-event_ndim, 0))
    return jnp.all(jnp.isfinite(x), axis=axes)
