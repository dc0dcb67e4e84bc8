"""Decompositions of GL+(n): polar (Cartan) ``g = P R``, Iwasawa ``g = K A N``, ``g = s g0``.

These give the global coordinates of Mironenco & Forre (ICLR 2024): GL+(n) is diffeomorphic to
``SPD(n) x SO(n)`` by the polar decomposition and to ``R_{>0} x SL(n)`` by the scale.
Inputs with ``det g <= 0`` give NaN outputs (use ``GLPlus(n).contains`` to check).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from geojax.lie import matrix_functions as mf
from geojax.lie import validation as V

Array = jax.Array


@jax.jit
def polar(g: Array) -> tuple[Array, Array]:
    """Polar decomposition ``g = P R``: ``P = (g g^T)^{1/2}`` SPD, ``R = P^{-1} g`` in SO(n).

    n = 2 (closed form, no square roots of matrices): ``R`` is the rotation by
    ``theta = atan2(g10 - g01, g00 + g11)`` and ``P = g R^T`` (symmetric, since a 2x2 matrix is
    a rotation-scaling plus a traceless symmetric part). n >= 3: ``R`` from the scaled Newton
    iteration :func:`geojax.lie.matrix_functions.orthogonal_factor`, ``P = sym(g R^T)``.
    Round trip ``P R = g`` to float64 round-off for well-conditioned ``g``.

    Args:
      g: ``[..., n, n]`` with ``det g > 0``.
    Returns:
      ``(P, R)``, both ``[..., n, n]``; NaN where ``det g <= 0``.
    Raises:
      ValueError / TypeError: ``g`` not a floating ``[..., n, n]`` array.
    """
    g = V.square(g, "g")
    n = g.shape[-1]
    if n == 2:
        g00, g01, g10, g11 = mf.entries2(g)
        ok = mf._det2(g00, g01, g10, g11) > 0
        p, q = g00 + g11, g10 - g01
        rho = jnp.sqrt(jnp.where(ok, p * p + q * q, 1.0))
        c, s = p / rho, q / rho
        r = mf.rotation2(c, s)
        # P = g R^T with R^T = [[c, s], [-s, c]]
        p00 = g00 * c - g01 * s
        p11 = g10 * s + g11 * c
        p01 = 0.5 * ((g00 * s + g01 * c) + (g10 * c - g11 * s))
        pm = mf.assemble2(p00, p01, p01, p11)
        return V.nan_unless(ok, pm, 2), V.nan_unless(ok, r, 2)
    sign, _ = jnp.linalg.slogdet(g)
    ok = sign > 0
    r = mf.orthogonal_factor(g)
    pm = mf._sym(g @ mf._mT(r))
    return V.nan_unless(ok, pm, 2), V.nan_unless(ok, r, 2)


@jax.jit
def iwasawa(g: Array) -> tuple[Array, Array, Array]:
    """Iwasawa decomposition ``g = K A N`` (QR with positive diagonal).

    ``K`` in SO(n), ``A`` diagonal with positive entries, ``N`` upper unitriangular. With
    ``g = Q R`` (QR), ``D = sign(diag R)``: ``K = Q D``, ``A = diag(|diag R|)``,
    ``N = A^{-1} D R``. n = 2 closed form: ``K`` the rotation taking ``e_1`` to ``g e_1 / rho``,
    ``rho = |g e_1|``, ``A = diag(rho, det g / rho)``, ``N_01 = (g00 g01 + g10 g11) / rho^2``.

    Args:
      g: ``[..., n, n]`` with ``det g > 0``.
    Returns:
      ``(K, A, N)``, each ``[..., n, n]``; NaN where ``det g <= 0``.
    Raises:
      ValueError / TypeError: ``g`` not a floating ``[..., n, n]`` array.
    """
    g = V.square(g, "g")
    n = g.shape[-1]
    if n == 2:
        g00, g01, g10, g11 = mf.entries2(g)
        det = mf._det2(g00, g01, g10, g11)
        ok = det > 0
        rho2 = jnp.where(ok, g00 * g00 + g10 * g10, 1.0)
        rho = jnp.sqrt(rho2)
        k = mf.rotation2(g00 / rho, g10 / rho)
        zero, one = jnp.zeros_like(rho), jnp.ones_like(rho)
        a = mf.assemble2(rho, zero, zero, det / rho)
        nn = mf.assemble2(one, (g00 * g01 + g10 * g11) / rho2, zero, one)
        return tuple(V.nan_unless(ok, m, 2) for m in (k, a, nn))
    sign, _ = jnp.linalg.slogdet(g)
    ok = sign > 0
    q, r = jnp.linalg.qr(g)
    d = jnp.where(jnp.diagonal(r, axis1=-2, axis2=-1) < 0, -1.0, 1.0).astype(g.dtype)
    k = q * d[..., None, :]
    r = r * d[..., :, None]
    diag = jnp.diagonal(r, axis1=-2, axis2=-1)
    a = diag[..., :, None] * jnp.eye(n, dtype=g.dtype)
    nn = jnp.triu(r / diag[..., :, None], 1) + jnp.eye(n, dtype=g.dtype)
    return tuple(V.nan_unless(ok, m, 2) for m in (k, a, nn))


@jax.jit
def split_scale(g: Array) -> tuple[Array, Array]:
    """GL+(n) = R_{>0} x SL(n): ``g = s g0`` with ``s = det(g)^{1/n}``, ``det g0 = 1``.

    Args:
      g: ``[..., n, n]`` with ``det g > 0``.
    Returns:
      ``(s [...], g0 [..., n, n])``; NaN where ``det g <= 0``.
    Raises:
      ValueError / TypeError: ``g`` not a floating ``[..., n, n]`` array.
    """
    g = V.square(g, "g")
    n = g.shape[-1]
    if n == 2:
        det = mf._det2(*mf.entries2(g))
        s = jnp.sqrt(jnp.where(det > 0, det, jnp.nan))
    else:
        sign, logabs = jnp.linalg.slogdet(g)
        s = jnp.where(sign > 0, jnp.exp(logabs / n), jnp.nan)
    return s, g / s[..., None, None]


@jax.jit
def join_scale(s: Array, g0: Array) -> Array:
    """Inverse of :func:`split_scale`: ``g = s g0`` (``s [...]``, ``g0 [..., n, n]``).

    Raises:
      ValueError / TypeError: ``g0`` not a floating ``[..., n, n]`` array.
    """
    g0 = V.square(g0, "g0")
    s = V.float_array(s, "s")
    return s[..., None, None] * g0
