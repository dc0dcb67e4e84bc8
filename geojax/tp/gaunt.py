"""The Gaunt tensor product: public entry point and method dispatch."""

from __future__ import annotations

import functools
from typing import Literal

import jax
import jax.numpy as jnp

from geojax.tp.dense import gaunt_dense
from geojax.tp.fourier import half_torus_projection, half_torus_shape, sh_to_half_torus
from geojax.tp.s2grid import gaunt_s2grid
from geojax.tp.signal import (
    Signal,
    broadcast_leading,
    check_lmax_out,
    common_p_arg,
    compute_dtype,
    read_signal,
    wrap_output,
)

Method = Literal["auto", "fourier", "s2grid", "dense"]
METHODS = ("auto", "fourier", "s2grid", "dense")


def auto_method(lmax_x: int, lmax_y: int, lmax_out: int, backend: str) -> str:
    """The method ``"auto"`` picks for the given degrees and JAX backend.

    Rule, from ``python -m geojax.bench tp`` on 2 CPU cores (float32, batch 256; README
    "Benchmarks"): ``"dense"`` while both inputs have degree <= 1 (a few dozen multiply-adds, no
    transforms), otherwise ``"s2grid"``, which was the fastest method at every degree from 2 to 16
    (1.8-3.6x faster than ``"fourier"``, whose half torus has a few more points and whose stages
    are less tuned: a change of basis to the 2D Fourier spectrum before its DFT GEMMs, and a real
    FFT on the way back). ``backend`` is part of the signature so
    accelerators can get their own measured rule; none was measured here.
    """
    del lmax_out, backend
    return "dense" if max(lmax_x, lmax_y) <= 1 else "s2grid"


def _fourier(x: jnp.ndarray, lx: int, y: jnp.ndarray, ly: int, lmax_out: int) -> jnp.ndarray:
    rows, n_v = half_torus_shape((lx, ly), lmax_out)
    values = sh_to_half_torus(x, lx, rows, n_v) * sh_to_half_torus(y, ly, rows, n_v)
    return half_torus_projection(values, lx + ly, lmax_out)


_KERNELS = {"fourier": _fourier, "s2grid": gaunt_s2grid, "dense": gaunt_dense}


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


@functools.partial(jax.jit, static_argnames=("lmax_out", "method"))
def gaunt_tensor_product(x, y, *, lmax_out: int | None = None, method: Method = "auto"):
    """Gaunt tensor product of two signals on the sphere (Luo, Chen, Krishnapriyan, ICLR 2024).

    ``out[l3 m3] = sum_{l1 m1, l2 m2} G(l1 m1, l2 m2, l3 m3) x[l1 m1] y[l2 m2]`` with
    ``G = int_{S^2} Y_{l1 m1} Y_{l2 m2} Y_{l3 m3}`` for e3nn-jax's real spherical harmonics with
    ``normalization="integral"``. Equivalently ``out`` holds the coefficients of the pointwise
    product of ``f_x = sum x_lm Y_lm`` and ``f_y``, truncated at degree ``lmax_out``. In e3nn's
    basis ``G = r(l1, l2, l3) * e3nn.clebsch_gordan(l1, l2, l3)`` (see
    :func:`geojax.so3.cg_gaunt_ratio`): only even paths, no antisymmetric couplings.

    Args:
      x: ``e3nn.IrrepsArray`` with irreps ``e3nn.s2_irreps(Lx, p_val, p_arg)``, or an array
        ``[..., (Lx+1)**2]`` (read as ``0e + 1o + 2e + ...``).
      y: the same with its own ``Ly``; leading axes broadcast with ``x`` (batch, channels).
      lmax_out: largest output degree, ``0 <= lmax_out <= Lx + Ly`` (default ``Lx + Ly``: exact).
      method: ``"fourier"`` (2D Fourier basis, FFT convolution), ``"s2grid"`` (product on an exact
        Gauss-Legendre grid), ``"dense"`` (sparse Gaunt coefficients; input degrees <= 16) or
        ``"auto"`` (:func:`auto_method`). All methods are exact to round-off.

    Returns:
      ``[..., (lmax_out+1)**2]`` in the dtype of ``x * y`` (bfloat16/float16 are computed in
      float32); an ``IrrepsArray`` of ``e3nn.s2_irreps(lmax_out, p_val_x * p_val_y, p_arg)`` if
      either input is one.

    Raises:
      TypeError: non-floating inputs; ``lmax_out`` not an int.
      ValueError: a last axis that is not ``(L+1)**2``; irreps not of the spherical form; different
        ``p_arg``; leading axes that do not broadcast; ``lmax_out`` outside ``[0, Lx + Ly]``; an
        unknown method; ``"dense"`` beyond its degree limit.

    NaN and inf propagate to NaN/inf outputs (with ``"fourier"`` they spread over all coefficients).

    Example:
      >>> import jax.numpy as jnp, e3nn_jax as e3nn
      >>> x = e3nn.normal(e3nn.s2_irreps(2), jax.random.key(0), (5,))
      >>> gaunt_tensor_product(x, x).irreps
      1x0e+1x1o+1x2e+1x3o+1x4e
    """
    check_method(method)
    sx, sy = read_signal(x, "x"), read_signal(y, "y")
    p_arg = common_p_arg(sx, sy)
    broadcast_leading("x", sx.array, "y", sy.array)
    lmax_out = check_lmax_out(lmax_out, sx.lmax + sy.lmax)
    result_dtype, dtype = compute_dtype(sx.array.dtype, sy.array.dtype)
    if method == "auto":
        method = auto_method(sx.lmax, sy.lmax, lmax_out, jax.default_backend())
    out = _KERNELS[method](sx.array.astype(dtype), sx.lmax, sy.array.astype(dtype), sy.lmax, lmax_out)
    return _finish(out.astype(result_dtype), lmax_out, sx, sy, p_arg)


def _finish(out: jnp.ndarray, lmax_out: int, sx: Signal, sy: Signal, p_arg: int | None):
    p_val = sx.signature.p_val * sy.signature.p_val
    return wrap_output(out, lmax_out, p_val, p_arg, sx.is_irreps or sy.is_irreps)
