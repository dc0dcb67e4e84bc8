"""Reading kernel inputs: ``e3nn.IrrepsArray`` or plain ``[..., (L+1)**2]`` arrays."""

from __future__ import annotations

import dataclasses

import e3nn_jax as e3nn
import jax.numpy as jnp
import numpy as np

from geojax.so3.irreps import SphericalSignature, lmax_from_dim, spherical_signature


@dataclasses.dataclass(frozen=True)
class Signal:
    """A spherical signal's coefficients with its degree and parities (static metadata)."""

    array: jnp.ndarray
    signature: SphericalSignature
    is_irreps: bool

    @property
    def lmax(self) -> int:
        return self.signature.lmax


def read_signal(x, name: str) -> Signal:
    """Validate ``x`` and return its array and signature.

    Plain arrays are read as ``0e + 1o + 2e + ...`` (``p_val = 1``, ``p_arg = -1``).

    Raises:
      TypeError: ``x`` is not floating point.
      ValueError: no last axis, a last axis that is not ``(L+1)**2``, or non-spherical irreps.
    """
    if isinstance(x, e3nn.IrrepsArray):
        signature = spherical_signature(x.irreps, name)
        array, is_irreps = x.array, True
    else:
        array, is_irreps = jnp.asarray(x), False
    if array.ndim < 1:
        raise ValueError(f"{name}: expected shape [..., (L+1)**2], got a scalar")
    if not jnp.issubdtype(array.dtype, jnp.floating):
        raise TypeError(f"{name}: expected a floating-point dtype (float32, float64, bfloat16), got {array.dtype}")
    lmax = lmax_from_dim(array.shape[-1], name)
    if not is_irreps:
        signature = SphericalSignature(lmax=lmax, p_val=1, p_arg=-1 if lmax > 0 else None)
    return Signal(array, signature, is_irreps)


def common_p_arg(*signals: Signal) -> int | None:
    """The shared ``p_arg``; raises ``ValueError`` if two inputs disagree."""
    known = {s.signature.p_arg for s in signals if s.signature.p_arg is not None}
    if len(known) > 1:
        raise ValueError(
            "x and y must be signals on the sphere with the same p_arg (parity of the argument), got "
            + " and ".join(str(s.signature.irreps()) for s in signals)
        )
    return known.pop() if known else None


def check_lmax_out(lmax_out, limit: int, name: str = "lmax_out") -> int:
    """``lmax_out`` defaulted to ``limit`` and checked to lie in ``[0, limit]``."""
    if lmax_out is None:
        return limit
    if isinstance(lmax_out, bool) or not isinstance(lmax_out, (int, np.integer)):
        raise TypeError(f"{name} must be an int or None, got {lmax_out!r}")
    if not 0 <= lmax_out <= limit:
        raise ValueError(f"{name} must lie in [0, {limit}] (the largest degree of the product), got {lmax_out}")
    return int(lmax_out)


def compute_dtype(*dtypes) -> tuple[jnp.dtype, jnp.dtype]:
    """``(result dtype, compute dtype)``: half-precision inputs are computed in float32."""
    result = jnp.result_type(*dtypes)
    compute = result if jnp.finfo(result).bits >= 32 else jnp.dtype(jnp.float32)
    return jnp.dtype(result), jnp.dtype(compute)


def broadcast_leading(name_x: str, x: jnp.ndarray, name_y: str, y: jnp.ndarray) -> tuple[int, ...]:
    """Broadcast shape of the leading (all but last) axes; ``ValueError`` naming both arguments."""
    try:
        return tuple(np.broadcast_shapes(x.shape[:-1], y.shape[:-1]))
    except ValueError:
        raise ValueError(
            f"the leading dimensions of {name_x} {x.shape[:-1]} and {name_y} {y.shape[:-1]} do not broadcast"
        ) from None


def wrap_output(array: jnp.ndarray, lmax: int, p_val: int, p_arg: int | None, as_irreps: bool) -> jnp.ndarray | e3nn.IrrepsArray:
    """Return ``array`` as an ``IrrepsArray`` of ``e3nn.s2_irreps(lmax, p_val, p_arg)`` if asked."""
    if not as_irreps:
        return array
    irreps = SphericalSignature(lmax, p_val, p_arg).irreps()
    return e3nn.IrrepsArray(irreps, array)
