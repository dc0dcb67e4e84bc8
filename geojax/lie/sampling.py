"""Samplers with log densities with respect to the Haar measure (normalization below).

Normalizations (all coordinates are in the Frobenius-orthonormal bases of
:mod:`geojax.lie.algebra`, so "Lebesgue on S" is the Euclidean volume of the symmetric
matrices):

- SO(n): ``dR`` is the Haar **probability** measure.
- SL(n): ``mu_SL = J(S) dS dR`` in the polar coordinates ``g = exp(S) R`` (``S`` symmetric
  traceless, ``R`` in SO(n)), ``J(S) = prod_{i<j} sinh(l_j - l_i) / (l_j - l_i)`` with ``l`` the
  eigenvalues of ``S``. For n = 2 in KAK coordinates ``g = k(phi1) diag(e^t, e^-t) k(phi2)`` this
  is ``2 sinh(2t) dt dphi1 dphi2 / (2 pi)`` (the Cartan factor ``sinh 2t``).
- GL+(n): ``mu_GL = J(S) dS dR`` with ``S`` symmetric (trace included) -- equivalently
  ``sqrt(n) ds/s x mu_SL`` for ``g = s g0``, ``s = det(g)^{1/n}``; it is a constant multiple of
  ``dg / |det g|^n``. Both are left- and right-invariant (the groups are unimodular).
- SPD(n): for the congruence action ``P -> h P h^T`` the invariant measure is
  ``nu = J_{1/2}(X) dX`` with ``P = exp(X)``, ``J_{1/2}(X) = prod_{i<j} sinh((m_j - m_i)/2) /
  ((m_j - m_i)/2)``, ``m`` the eigenvalues of ``X``. If ``g ~ mu_GL`` then ``g g^T ~ nu`` up to a
  constant factor (``X = 2 S``).

Sampling distributions (parameters are the standard deviations of the coordinates):

- SO(n): uniform (Haar); n = 2 by a uniform angle, n >= 3 by QR of a standard Gaussian matrix
  with the columns multiplied by ``sign(diag R)`` and the first column flipped when ``det < 0``.
  ``log_density = 0``.
- SL(n): the coordinates of ``S`` i.i.d. ``N(0, sigma^2)``, ``R`` Haar, ``g = exp(S) R``:
  ``log q(g) = sum_k log N(c_k; sigma) - log J(S)``.
- GL+(n): ``g = s g0`` with ``g0`` as for SL(n) and ``log s ~ N(0, sigma_scale^2)``:
  ``log q = log q_SL(g0) + log N(log s; sigma_scale) - (1/2) log n``.
- SPD(n): ``X`` Gaussian as ``S`` above (traceless part ``sigma``, ``log det(P)^{1/n}`` with
  ``sigma_scale``; no scale part for ``unit_det``), ``P = exp(X)``:
  ``log q = log N(coords) - log J_{1/2}(X)``.

For n = 2 the Gaussian coordinates of ``S`` are drawn in polar (Box-Muller) form, the same law
with fewer transcendental functions (:func:`_sym2_gaussian_exp`).

Because each ``log_density`` is exact with respect to the stated Haar measure,
``sum_i f(g_i) exp(-log q_i) / N`` is an unbiased estimate of ``int f dmu`` and ratios of such
estimates converge to ratios of Haar integrals. The 2x2 paths use only closed forms (no eigh, no
QR); n >= 3 uses ``eigh`` of the sampled symmetric matrix (forward only) and QR.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp

from geojax.lie import algebra
from geojax.lie import matrix_functions as mf

Array = jax.Array


def _log_normal(c: Array, sigma, axis: int | None = -1) -> Array:
    """``sum log N(c_k; 0, sigma^2)`` over ``axis`` (elementwise if ``axis`` is None)."""
    sigma = jnp.asarray(sigma, c.dtype)
    terms = -0.5 * jnp.square(c / sigma) - 0.5 * jnp.log(2 * jnp.pi * sigma**2)
    return terms if axis is None else jnp.sum(terms, axis=axis)


def log_jacobian(eigenvalues: Array, half: bool = False) -> Array:
    """``log J = sum_{i<j} log(sinh(d_ij) / d_ij)``, ``d_ij = l_j - l_i`` (``/2`` if ``half``).

    Args:
      eigenvalues: ``[..., n]`` eigenvalues of the symmetric chart matrix.
    Returns:
      ``[...]``. Smooth (even) in every difference, finite for equal eigenvalues.
    """
    d = eigenvalues[..., None, :] - eigenvalues[..., :, None]
    if half:
        d = 0.5 * d
    n = eigenvalues.shape[-1]
    iu = jnp.triu_indices(n, 1)
    return jnp.sum(mf.log_sinhc(jnp.square(d[..., iu[0], iu[1]])), axis=-1)


def _unit_circle(u: Array) -> tuple[Array, Array]:
    """``(cos psi, sin psi)`` with ``psi = 2 pi u - pi/4``: uniform on the circle for uniform
    ``u`` in [0, 1). Computed by quadrant (``4u = q + f``, ``theta = (f - 1/2) pi/2`` in
    [-pi/4, pi/4), then ``q`` quarter turns), the argument range where XLA's CPU sin/cos is
    cheapest."""
    v = 4.0 * u
    q = jnp.floor(v)
    theta = (v - q - 0.5) * (0.5 * jnp.pi)
    c, s = jnp.cos(theta), jnp.sin(theta)
    q = q.astype(jnp.int32) % 4
    cos = jnp.select([q == 0, q == 1, q == 2], [c, -s, -c], s)
    sin = jnp.select([q == 0, q == 1, q == 2], [s, c, -s], -c)
    return cos, sin


@functools.partial(jax.jit, static_argnames=("shape", "n", "dtype"))
def haar_so(key: Array, shape: tuple[int, ...], n: int, dtype: Any) -> Array:
    """Uniform (Haar) rotations ``[*shape, n, n]`` (see module docstring)."""
    if n == 2:
        return mf.rotation2(*_unit_circle(jax.random.uniform(key, shape, dtype)))
    z = jax.random.normal(key, shape + (n, n), dtype)
    q, r = jnp.linalg.qr(z)
    d = jnp.where(jnp.diagonal(r, axis1=-2, axis2=-1) < 0, -1.0, 1.0).astype(dtype)
    q = q * d[..., None, :]
    flip = jnp.where(jnp.linalg.det(q) < 0, -1.0, 1.0).astype(dtype)
    return q.at[..., :, 0].multiply(flip[..., None])


def _spd_factor(c: Array, n: int, half: bool) -> tuple[Array, Array]:
    """``exp(hat_sym0(c))`` and ``log J`` (or ``log J_{1/2}``) for ``c [..., dim]`` (n >= 3)."""
    s = algebra.hat(c, "sym0", n)
    lam, vec = jnp.linalg.eigh(s)
    p = jnp.einsum("...ij,...j,...kj->...ik", vec, jnp.exp(lam), vec)
    return p, log_jacobian(lam, half)


def _scale_part(key: Array, shape, n: int, sigma_scale, dtype) -> tuple[Array, Array]:
    """``log s ~ N(0, sigma_scale^2)`` and its log density w.r.t. ``d(sqrt(n) log s)``."""
    u = jax.random.normal(key, shape, dtype) * jnp.asarray(sigma_scale, dtype)
    return u, _log_normal(u, sigma_scale, axis=None) - 0.5 * math.log(n)


def _sym2_gaussian_exp(u_radius: Array, u_angle: Array, sigma: Any, half: bool, log_scale: Array | None = None):
    """2x2 fast path: ``P = exp(S)``, ``S = [[a, b], [b, -a]]`` with coordinates
    ``(sqrt2 a, sqrt2 b) ~ N(0, sigma^2 I_2)`` drawn in polar form (Box-Muller): squared radius
    ``|c|^2 = -2 sigma^2 log U`` and a uniform angle ``psi`` from ``V`` for uniforms ``U`` in (0, 1],
    ``V`` in [0, 1). Then ``t^2 = a^2 + b^2 = -sigma^2 log U`` and
    ``P = cosh t I + sinh t [[cos psi, sin psi], [sin psi, -cos psi]]``.

    Returns ``(e^{log_scale} P, log N(c) - log J)`` (``J_{1/2}`` if ``half``); exactly the law and
    density of the general path, with one exp, one log and two trig functions per sample.
    """
    sigma = jnp.asarray(sigma, u_radius.dtype)
    t = sigma * jnp.sqrt(-jnp.log(u_radius))  # sigma outside the sqrt: d t / d sigma finite
    t2 = t * t
    if log_scale is None:
        e, ei = jnp.exp(t), jnp.exp(-t)
    else:  # s exp(S) = 0.5 (e^{u+t} + e^{u-t}) I + ...
        e, ei = jnp.exp(log_scale + t), jnp.exp(log_scale - t)
    ch, sh = 0.5 * (e + ei), 0.5 * (e - ei)
    co, si = _unit_circle(u_angle)
    co, si = sh * co, sh * si
    p = mf.assemble2(ch + co, si, si, ch - co)
    # |c|^2 / (2 sigma^2) = t^2 / sigma^2 = -log U; eigenvalues +-t
    log_gauss = jnp.log(u_radius) - jnp.log(2.0 * jnp.pi * sigma * sigma)
    return p, log_gauss - mf.log_sinhc(t2 if half else 4.0 * t2)


def _uniforms(key: Array, shape: tuple[int, ...], k: int, dtype: Any) -> list[Array]:
    """``k`` independent uniform arrays; the first in (0, 1] (safe for log), the others in [0, 1)."""
    u = jax.random.uniform(key, (k,) + shape, dtype)  # leading axis: contiguous slices
    return [1.0 - u[0]] + [u[i] for i in range(1, k)]


def _compose_rotation2(p: Array, u: Array) -> Array:
    """``P R(phi)`` with a uniform angle ``phi`` from ``u`` (Haar on SO(2))."""
    co, si = _unit_circle(u)
    p00, p01, _, p11 = mf.entries2(p)
    return mf.assemble2(p00 * co + p01 * si, p01 * co - p00 * si, p01 * co + p11 * si, p11 * co - p01 * si)


@functools.partial(jax.jit, static_argnames=("shape", "n", "dtype"))
def sample_sl(key: Array, shape: tuple[int, ...], n: int, sigma: Any, dtype: Any) -> tuple[Array, Array]:
    """``g = exp(S) R`` in SL(n) and ``log q`` w.r.t. ``mu_SL`` (module docstring)."""
    if n == 2:
        u_r, u_psi, u_phi = _uniforms(key, shape, 3, dtype)
        p, logq = _sym2_gaussian_exp(u_r, u_psi, sigma, half=False)
        return _compose_rotation2(p, u_phi), logq
    k_s, k_r = jax.random.split(key)
    dim = algebra.dimension("sym0", n)
    c = jax.random.normal(k_s, shape + (dim,), dtype) * jnp.asarray(sigma, dtype)
    p, log_j = _spd_factor(c, n, half=False)
    logq = _log_normal(c, sigma) - log_j
    return p @ haar_so(k_r, shape, n, dtype), logq


@functools.partial(jax.jit, static_argnames=("shape", "n", "dtype"))
def sample_glplus(
    key: Array, shape: tuple[int, ...], n: int, sigma: Any, sigma_scale: Any, dtype: Any
) -> tuple[Array, Array]:
    """``g = s exp(S0) R`` in GL+(n) and ``log q`` w.r.t. ``mu_GL`` (module docstring)."""
    k_sl, k_s = jax.random.split(key)
    u, logq_s = _scale_part(k_s, shape, n, sigma_scale, dtype)
    if n == 2:
        u_r, u_psi, u_phi = _uniforms(k_sl, shape, 3, dtype)
        p, logq = _sym2_gaussian_exp(u_r, u_psi, sigma, False, log_scale=u)
        return _compose_rotation2(p, u_phi), logq + logq_s
    g0, logq = sample_sl(k_sl, shape, n, sigma, dtype)
    return jnp.exp(u)[..., None, None] * g0, logq + logq_s


@functools.partial(jax.jit, static_argnames=("shape", "n", "unit_det", "dtype"))
def sample_spd(
    key: Array, shape: tuple[int, ...], n: int, unit_det: bool, sigma: Any, sigma_scale: Any, dtype: Any
) -> tuple[Array, Array]:
    """``P = exp(X)`` and ``log q`` w.r.t. the congruence-invariant ``nu`` (module docstring)."""
    k_x, k_s = jax.random.split(key)
    if n == 2:
        u_r, u_psi = _uniforms(k_x, shape, 2, dtype)
        if unit_det:
            return _sym2_gaussian_exp(u_r, u_psi, sigma, half=True)
        u, logq_s = _scale_part(k_s, shape, n, sigma_scale, dtype)
        p, logq = _sym2_gaussian_exp(u_r, u_psi, sigma, True, log_scale=u)
        return p, logq + logq_s
    dim = algebra.dimension("sym0", n)
    c = jax.random.normal(k_x, shape + (dim,), dtype) * jnp.asarray(sigma, dtype)
    p, log_j = _spd_factor(c, n, half=True)
    logq = _log_normal(c, sigma) - log_j
    if unit_det:
        return p, logq
    u, logq_s = _scale_part(k_s, shape, n, sigma_scale, dtype)
    return jnp.exp(u)[..., None, None] * p, logq + logq_s


def log_density_sym(
    s: Array, n: int, sigma: Any, sigma_scale: Any, unit_det: bool, half: bool
) -> Array:
    """``log q`` of the samplers above at a symmetric chart matrix ``S`` (or ``X``) ``[..., n, n]``.

    Shared by ``SL/GLPlus/SPD.log_density``: the Gaussian density of the coordinates of ``S``
    minus ``log J(S)`` (``log J_{1/2}`` if ``half``); the trace part uses ``sigma_scale`` unless
    ``unit_det``.
    """
    dt = s.dtype
    trace_part = jnp.trace(s, axis1=-2, axis2=-1) / n  # log s
    c = algebra.vee(s, "sym0", n)
    out = _log_normal(c, sigma)
    if not unit_det:
        out = out + _log_normal(trace_part, sigma_scale, axis=None) - 0.5 * math.log(n)
    if n == 2:
        t2 = 0.5 * jnp.sum(jnp.square(c), axis=-1)
        log_j = mf.log_sinhc(t2 if half else 4.0 * t2)
    else:
        lam = jnp.linalg.eigvalsh(s)
        log_j = log_jacobian(lam, half)
    return (out - log_j).astype(dt)
