"""Trace-time validation shared by the invariant kernels: point arrays, masks, static options."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

SIGN_RULES = ("skew", "max")


def as_float_array(x, name: str, min_ndim: int, shape_doc: str) -> tuple[jnp.ndarray, jnp.dtype]:
    """``x`` as an array in its compute dtype, and the dtype results are returned in.

    Integers are read as the default float dtype; float16/bfloat16 are computed in float32 and
    returned in their own dtype.

    Raises:
      TypeError: complex or boolean ``x``, or something that is not an array.
      ValueError: fewer than ``min_ndim`` axes.
    """
    try:
        array = jnp.asarray(x)
    except TypeError as err:
        raise TypeError(f"{name}: expected an array of shape {shape_doc}, got {type(x).__name__}") from err
    if jnp.issubdtype(array.dtype, jnp.complexfloating) or array.dtype == jnp.bool_:
        raise TypeError(f"{name}: expected a real floating-point (or integer) dtype, got {array.dtype}")
    if not jnp.issubdtype(array.dtype, jnp.number):
        raise TypeError(f"{name}: expected a real numeric dtype, got {array.dtype}")
    if array.ndim < min_ndim:
        raise ValueError(f"{name}: expected shape {shape_doc} (at least {min_ndim} axes), got shape {array.shape}")
    if jnp.issubdtype(array.dtype, jnp.floating):
        result = jnp.dtype(array.dtype)
        compute = result if jnp.finfo(result).bits >= 32 else jnp.dtype(jnp.float32)
    else:
        result = compute = jnp.dtype(jnp.result_type(float))
    return array.astype(compute), result


def as_mask(mask, batch_shape: tuple[int, ...], n: int, name: str = "mask", of: str = "x") -> jnp.ndarray:
    """The validity mask as a boolean array of shape ``batch_shape + (n,)`` (all True if None).

    ``mask`` may be boolean or integer (nonzero = valid point) and may omit leading axes that
    broadcast; it may not add axes or change ``n``.

    Raises:
      TypeError: a floating or complex mask.
      ValueError: a shape that does not broadcast to ``batch_shape + (n,)``.
    """
    expected = tuple(batch_shape) + (n,)
    if mask is None:
        return jnp.ones(expected, dtype=bool)
    array = jnp.asarray(mask)
    if not (array.dtype == jnp.bool_ or jnp.issubdtype(array.dtype, jnp.integer)):
        raise TypeError(f"{name}: expected a boolean (or integer 0/1) mask, got dtype {array.dtype}")
    try:
        ok = array.ndim >= 1 and array.shape[-1] == n and np.broadcast_shapes(array.shape, expected) == expected
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{name}: expected shape {expected} (the leading shape of {of}, one entry per point; leading axes may"
            f" broadcast), got shape {array.shape}"
        )
    return jnp.broadcast_to(array != 0, expected)


def check_int(value, name: str, low: int, high: int, why: str) -> int:
    """``value`` checked to be an int in ``[low, high]``; ``why`` explains the upper bound.

    Raises:
      TypeError: not an int (bools and floats included). ValueError: outside ``[low, high]``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}] ({why}), got {value}")
    return int(value)


def check_choice(value, name: str, choices: tuple) -> None:
    """Raises ``ValueError`` unless ``value`` is one of the strings ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def check_bool(value, name: str) -> bool:
    """``value`` as a Python bool; raises ``TypeError`` for anything but a bool (``1`` included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def check_gap_tol(gap_tol, dtype) -> float:
    """The eigengap threshold: ``eps ** (1/3)`` of the compute dtype by default (6e-6 in float64,
    4.9e-3 in float32: eigenvectors are then accurate to about ``eps / gap = eps ** (2/3)``),
    otherwise a float in ``[0, 1]``.

    Raises:
      TypeError: not a real number or None. ValueError: outside ``[0, 1]``.
    """
    if gap_tol is None:
        return float(jnp.finfo(dtype).eps) ** (1.0 / 3.0)
    if isinstance(gap_tol, bool) or not isinstance(gap_tol, (int, float, np.floating, np.integer)):
        raise TypeError(f"gap_tol must be a float or None, got {gap_tol!r}")
    if not 0.0 <= float(gap_tol) <= 1.0:
        raise ValueError(f"gap_tol must lie in [0, 1] (a gap relative to the largest eigenvalue), got {gap_tol}")
    return float(gap_tol)
