"""Principal axes of masked point clouds: masked centring, the d x d covariance, its spectrum."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from geojax.invariant.eigh import eigh_descending

HIGHEST = jax.lax.Precision.HIGHEST


class Principal(NamedTuple):
    """Internal: everything the MDS coordinates and the frames are built from (batch shape ``...``)."""

    centred: jnp.ndarray  # [..., n, d] x - centroid on kept points, 0 elsewhere
    centroid: jnp.ndarray  # [..., d] masked mean of the kept points
    vectors: jnp.ndarray  # [..., d, d] principal axes (columns), descending eigenvalues, signs arbitrary
    scatter: jnp.ndarray  # [..., d] eigenvalues of sum_i y_i y_i^T (descending), no derivative
    weights: jnp.ndarray  # [..., n] 1 / n_kept on kept points, 0 elsewhere
    keep: jnp.ndarray  # [..., n] bool: valid and finite
    n_valid: jnp.ndarray  # [..., ] int32: number of valid (mask True) points
    mean_square: jnp.ndarray  # [...] mean squared distance to the centroid (differentiable)
    nonfinite: jnp.ndarray  # [...] bool: some valid point has a NaN or inf coordinate
    coincident: jnp.ndarray  # [...] bool: RMS spread <= 100 eps max|x| (all points at one place)


def safe_sqrt(a: jnp.ndarray) -> jnp.ndarray:
    """``sqrt(max(a, 0))`` elementwise, with derivative 0 (not inf or NaN) at and below 0."""
    positive = a > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, a, 1.0)), 0.0)


def principal_axes(x: jnp.ndarray, valid: jnp.ndarray, *, differentiable: bool) -> Principal:
    """Masked centring and eigendecomposition of the d x d covariance ``C = sum_i w_i y_i y_i^T``.

    ``x`` ``[..., n, d]`` in its compute dtype, ``valid`` ``[..., n]`` bool. Points that are masked
    out or not finite get weight 0 and never touch the arithmetic (so NaN padding is harmless); a
    non-finite *valid* point only raises ``nonfinite``. ``coincident`` flags an RMS spread below
    ``100 eps max|x|``, the rounding level of the centring.

    Raises:
      Nothing: inputs are not validated (internal; callers validate).
    """
    eps = jnp.finfo(x.dtype).eps
    finite = jnp.all(jnp.isfinite(x), axis=-1)
    keep = valid & finite
    nonfinite = jnp.any(valid & ~finite, axis=-1)
    n_valid = jnp.sum(valid, axis=-1, dtype=jnp.int32)
    n_kept = jnp.sum(keep, axis=-1)
    weights = keep / jnp.maximum(n_kept, 1)[..., None].astype(x.dtype)
    x0 = jnp.where(keep[..., None], x, 0.0)
    centroid = jnp.einsum("...n,...nd->...d", weights, x0, precision=HIGHEST)
    centred = jnp.where(keep[..., None], x0 - centroid[..., None, :], 0.0)
    cov = jnp.einsum("...ni,...n,...nj->...ij", centred, weights, centred, precision=HIGHEST)
    lam, vectors = eigh_descending(cov, differentiable=differentiable)
    scatter = jax.lax.stop_gradient(lam) * n_kept[..., None].astype(x.dtype)
    mean_square = jnp.einsum("...n,...n->...", weights, jnp.sum(centred * centred, axis=-1), precision=HIGHEST)
    magnitude = jnp.max(jnp.where(keep[..., None], jnp.abs(x0), 0.0), axis=(-2, -1))
    spread = safe_sqrt(jax.lax.stop_gradient(mean_square))
    coincident = spread <= 100.0 * eps * magnitude
    return Principal(centred, centroid, vectors, scatter, weights, keep, n_valid, mean_square, nonfinite, coincident)


def relative_gap(eigenvalues: jnp.ndarray, pairs: int) -> jnp.ndarray:
    """``min_{i < pairs} (lam_i - lam_{i+1}) / lam_0`` over descending ``eigenvalues`` ``[..., m]``;
    ``inf`` when ``pairs == 0``, 0 when ``lam_0 <= 0``."""
    lam = jax.lax.stop_gradient(eigenvalues)
    if pairs == 0:
        return jnp.full(lam.shape[:-1], jnp.inf, lam.dtype)
    top = lam[..., 0]
    gaps = jnp.min(lam[..., :pairs] - lam[..., 1 : pairs + 1], axis=-1)
    positive = top > 0
    return jnp.where(positive, gaps / jnp.where(positive, top, 1.0), 0.0)
