"""Invariant initial representations (TinvNN): canonical classical-MDS coordinates of point clouds
and of distance matrices."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from geojax.invariant.checks import (
    SIGN_RULES,
    as_float_array,
    as_mask,
    check_bool,
    check_choice,
    check_gap_tol,
    check_int,
)
from geojax.invariant.eigh import eigh_descending
from geojax.invariant.pca import HIGHEST, principal_axes, relative_gap, safe_sqrt
from geojax.invariant.signs import ORIENTATION, canonical_signs


class InvariantInfo(NamedTuple):
    """Diagnostics returned next to invariant coordinates (a pytree of arrays: fine under jit/vmap).

    Batch shape ``...`` is the leading shape of the input.

    Attributes:
      eigenvalues: descending eigenvalues, float. :func:`mds_coords` and the frames: all ``d``
        eigenvalues of the scatter ``Y^T Y`` of the centred valid points (equal to the nonzero
        classical-MDS eigenvalues of ``B = -1/2 J D^2 J``; ``[..., d]``). :func:`classical_mds`: the
        top ``k`` eigenvalues of ``B`` before clipping (negative ones show a non-Euclidean ``D``;
        ``[..., k]``). No derivative.
      gap: ``[...]`` smallest relative eigengap ``min_i (lam_i - lam_{i+1}) / lam_0`` over the pairs
        that decide the returned columns (``i < k``, and ``i < d - 1``); ``inf`` if there is none.
      ambiguous: ``[...]`` bool, True when the output is not a well-defined invariant: ``gap <
        gap_tol`` (a degenerate spectrum: the basis inside an eigenspace is arbitrary), a NaN/inf
        valid coordinate, fewer valid points than required, or all points coincident.
      n_valid: ``[...]`` int32 number of valid (mask True) points.
      rms: ``[...]`` RMS distance of the valid points to their centroid,
        ``sqrt(mean_i |x_i - c|^2)`` (for :func:`classical_mds`: ``sqrt(trace(B) / n_valid)``); the
        statistic ``scale=True`` divides by.
      sign_source: ``[..., k]`` int32 rule that fixed each column's sign: 0 skewness, 1 fourth
        moment against another column, 2 largest entry, 3 orientation (``proper=True``, last
        column), 4 triple product with two other columns. ``None`` for frames.
      centroid: ``[..., d]`` masked centroid ``c`` (``None`` for :func:`classical_mds`).
      frame: ``[..., d, k]`` orthonormal signed principal axes ``V`` with ``coords = (x - c) V / r``
        (``r = rms`` if ``scale`` else 1) on valid rows. Frames: the unsigned axes ``[..., d, d]``.
        ``None`` for :func:`classical_mds`.
    """

    eigenvalues: jnp.ndarray
    gap: jnp.ndarray
    ambiguous: jnp.ndarray
    n_valid: jnp.ndarray
    rms: jnp.ndarray
    sign_source: jnp.ndarray | None = None
    centroid: jnp.ndarray | None = None
    frame: jnp.ndarray | None = None


def _nan_where(flag: jnp.ndarray, a: jnp.ndarray) -> jnp.ndarray:
    """``a`` with NaN in every entry whose batch element (leading axes of ``flag``) is flagged."""
    flag = flag.reshape(flag.shape + (1,) * (a.ndim - flag.ndim))
    return jnp.where(flag, jnp.nan, a)


@functools.partial(jax.jit, static_argnames=("k", "scale", "sign", "proper", "differentiable", "gap_tol"))
def mds_coords(
    x: jax.typing.ArrayLike,
    mask: jax.typing.ArrayLike | None = None,
    *,
    k: int | None = None,
    scale: bool = True,
    sign: str = "skew",
    proper: bool = False,
    differentiable: bool = False,
    gap_tol: float | None = None,
) -> tuple[jnp.ndarray, InvariantInfo]:
    """Canonical classical-MDS coordinates of point clouds: invariant to rotations, reflections
    (or only rotations), translations, point permutations and (by default) scaling.

    For the valid points ``x_i`` (mask True) with centroid ``c = mean_i x_i``, ``y_i = x_i - c``,
    and the d x d covariance ``C = mean_i y_i y_i^T = V diag(lam) V^T`` (descending; never the
    n x n Gram matrix, whose top-k embedding is the same: ``B = Y Y^T = U L U^T`` with
    ``U L^{1/2} = Y V``)::

        coords_i = y_i^T V_k S / r,    S = diag(s_1..s_k), s_j = +-1,   r = sqrt(mean_i |y_i|^2)

    ``r`` (the RMS distance to the centroid, over all d axes) is used only if ``scale``; with
    ``scale=False`` the coordinates are classical MDS's (scikit-learn's ``ClassicalMDS``) up to
    column signs. The signs are canonical (see :func:`geojax.invariant.signs.canonical_signs`):
    the skewness of each column, then fourth moments against another column, then the largest
    entry, refined by triple products with two other columns (clouds with three perpendicular
    half-turn symmetries), so ``sum_i coords_ij^3 > 0`` whenever it is decisive. ``proper=True`` flips the last
    sign where ``det(V S) < 0``: the frame is then a rotation, the coordinates are SO(d)- rather
    than O(d)-invariant, and mirror images (chiral pairs) get different coordinates.

    Exact invariance: ``mds_coords(a x[perm] R + t)[0] == mds_coords(x)[0][perm]`` for ``R`` in
    O(d) (SO(d) if ``proper``), any ``t``, ``a > 0`` (``a = 1`` unless ``scale``), up to rounding,
    whenever ``info.ambiguous`` is False. Clouds with symmetries (a centrally symmetric cloud,
    mirror planes) leave some signs undetermined by every statistic; those are fixed by the
    largest entry, ties going to the lowest index: per point the output stays invariant to
    rotations, reflections, translations and scaling for fixed labels, and under permutations it
    is the same *set* of rows (the symmetry relabels points; per-point equality is impossible
    there for any canonicalization).

    Args:
      x: points ``[..., n, d]``, real (integers read as the default float; float16/bfloat16
        computed in float32).
      mask: ``[..., n]`` bool (or integer, nonzero = valid), default all valid. Masked-out rows never
        enter the arithmetic (they may hold anything, NaN included) and are 0 in ``coords``.
      k: number of coordinates, ``1 <= k <= d`` (default ``d``).
      scale: divide by the RMS distance ``r`` to the centroid (scale invariance).
      sign: ``"skew"`` (the rule above) or ``"max"`` (largest entry per column only, the
        ``svd_flip`` convention of scikit-learn's ``ClassicalMDS``, which it then matches
        exactly; on symmetric clouds not permutation invariant, even as a set).
      proper: force ``det(V S) = +1`` (needs ``k == d``).
      differentiable: differentiate through the principal axes with a guarded eigenvector
        derivative (finite everywhere, exact up to ``(sqrt(eps)/gap)^2``); by default the axes are
        a ``stop_gradient`` frame and only the centring, projection and scale carry derivatives.
      gap_tol: ``info.ambiguous`` threshold on the relative eigengap (default ``eps ** (1/3)``:
        6e-6 in float64, 4.9e-3 in float32).

    Returns:
      ``(coords, info)``: ``coords`` ``[..., n, k]`` in the input's float dtype, ``info`` an
      :class:`InvariantInfo`.

    Value problems (no exception; flagged in ``info.ambiguous``): a NaN/inf coordinate in a valid
    point makes every valid row of ``coords`` (and ``eigenvalues``, ``gap``) NaN; all points
    coincident (RMS spread <= 100 eps max|x|) or no valid point gives zero ``coords``; fewer than
    ``k`` valid points, or ``gap < gap_tol`` gives finite coordinates that are not invariant.
    Gradients are finite in all of these cases except NaN input.

    Raises:
      TypeError: complex/bool ``x``; float ``mask``; non-int ``k``; non-bool flags.
      ValueError: ``x`` with fewer than 2 axes or ``d == 0``; ``n < k`` (fewer points than
        coordinates, e.g. fewer points than dimensions); ``k`` outside ``[1, d]``; a ``mask`` shape
        that does not broadcast to ``x.shape[:-1]``; unknown ``sign``; ``proper`` with ``k < d``;
        ``gap_tol`` outside ``[0, 1]``.
    """
    x, out_dtype = as_float_array(x, "x", 2, "[..., n, d]")
    *batch, n, d = x.shape
    if d == 0:
        raise ValueError(f"x: expected shape [..., n, d] with d >= 1 coordinate axes, got shape {x.shape}")
    k = d if k is None else check_int(k, "k", 1, d, f"at most the point dimension d = {d} of x {x.shape}")
    if n < k:
        raise ValueError(
            f"x: {n} points cannot determine k = {k} MDS coordinates: need n >= k points (x has shape {x.shape})"
        )
    scale, proper = check_bool(scale, "scale"), check_bool(proper, "proper")
    differentiable = check_bool(differentiable, "differentiable")
    check_choice(sign, "sign", SIGN_RULES)
    if proper and k != d:
        raise ValueError(f"proper=True needs k == d (a rotation frame fixes all d axes), got k = {k}, d = {d}")
    gap_tol = check_gap_tol(gap_tol, x.dtype)
    valid = as_mask(mask, tuple(batch), n)

    pa = principal_axes(x, valid, differentiable=differentiable)
    axes = pa.vectors[..., :, :k]
    p = jnp.einsum("...nd,...dk->...nk", pa.centred, axes, precision=HIGHEST)
    signs, source = canonical_signs(p, pa.weights, pa.keep, rule=sign)
    if proper:
        orientation = jnp.sign(jnp.linalg.det(jax.lax.stop_gradient(pa.vectors))) * jnp.prod(signs, axis=-1)
        signs = signs.at[..., -1].multiply(jnp.where(orientation < 0, -1.0, 1.0).astype(signs.dtype))
        source = source.at[..., -1].set(ORIENTATION)
    frame = axes * signs[..., None, :]
    coords = p * signs[..., None, :]
    rms = safe_sqrt(pa.mean_square)
    if scale:
        live = rms > 0
        coords = coords / jnp.where(live, rms, 1.0)[..., None, None]
    flat = pa.coincident | (pa.n_valid == 0)
    coords = jnp.where(flat[..., None, None] | ~pa.keep[..., None], 0.0, coords)
    coords = jnp.where(pa.nonfinite[..., None, None] & valid[..., None], jnp.nan, coords)

    eigenvalues = _nan_where(pa.nonfinite, pa.scatter)
    gap = _nan_where(pa.nonfinite, relative_gap(pa.scatter, min(k, d - 1)))
    ambiguous = ~(gap >= gap_tol) | pa.nonfinite | flat | (pa.n_valid < k)
    info = InvariantInfo(
        eigenvalues=eigenvalues,
        gap=gap,
        ambiguous=ambiguous,
        n_valid=pa.n_valid,
        rms=_nan_where(pa.nonfinite, rms),
        sign_source=source,
        centroid=_nan_where(pa.nonfinite, pa.centroid),
        frame=_nan_where(pa.nonfinite, frame),
    )
    return coords.astype(out_dtype), info


@functools.partial(jax.jit, static_argnames=("k", "scale", "sign", "differentiable", "gap_tol"))
def classical_mds(
    D: jax.typing.ArrayLike,
    k: int,
    *,
    mask: jax.typing.ArrayLike | None = None,
    scale: bool = False,
    sign: str = "skew",
    differentiable: bool = False,
    gap_tol: float | None = None,
) -> tuple[jnp.ndarray, InvariantInfo]:
    """Classical MDS (Torgerson) of distance matrices (graphs, geodesic distances), canonical signs.

    With ``D2 = ((D + D^T) / 2)^2`` on the valid rows/columns, the masked double centring
    ``B = -1/2 J D2 J`` (``J = I - 1 1^T / m`` over the ``m`` valid points), and its top-k
    eigenpairs ``B u_j = lam_j u_j`` (descending; an n x n eigendecomposition, ``O(n^3)``)::

        coords = U_k diag(sqrt(max(lam_j, 0))) S / r

    negative eigenvalues (a non-Euclidean ``D``) clipped to 0 (their columns are 0; see
    ``info.eigenvalues``), ``S`` the same canonical signs as :func:`mds_coords`, ``r =
    sqrt(trace(B) / m)`` (the RMS distance to the centroid for Euclidean ``D``) if ``scale``. For
    ``D`` the Euclidean distances of points ``x``, this equals ``mds_coords(x, k=k, scale=scale)``.

    Args:
      D: distances ``[..., n, n]``, symmetric with zero diagonal (the symmetric part is used; the
        diagonal enters the double centring as given).
      k: number of coordinates, ``1 <= k <= n - 1`` (n points span at most n - 1 dimensions).
      mask: ``[..., n]`` valid points (bool or integer); masked rows and columns of ``D`` are never
        read into the arithmetic (NaN allowed) and masked rows of ``coords`` are 0.
      scale: divide by ``r`` (scale invariance).
      sign: ``"skew"`` or ``"max"`` as in :func:`mds_coords`; ``"max"`` reproduces scikit-learn's
        ``ClassicalMDS`` exactly (up to ties).
      differentiable: guarded derivative through the eigenvectors. By default the eigenvectors
        are frozen (``stop_gradient``) and only the eigenvalues carry a derivative, their exact
        ``dlam_j = u_j^T dB u_j``.
      gap_tol: ``info.ambiguous`` threshold on the relative eigengap (default ``eps ** (1/3)``).

    Returns:
      ``(coords, info)``: ``coords`` ``[..., n, k]``; ``info`` an :class:`InvariantInfo` whose
      ``eigenvalues`` are the top k of ``B`` (unclipped) and ``centroid``/``frame`` are None.

    Value problems (flagged in ``info.ambiguous``): NaN/inf among valid entries makes the valid
    rows NaN; fewer than ``k + 1`` valid points, all distances 0, or ``gap < gap_tol`` (including
    ``k`` above the rank of ``B``) give finite, non-invariant coordinates.

    Raises:
      TypeError: complex/bool ``D``, float ``mask``, non-int ``k``.
      ValueError: ``D`` not ``[..., n, n]`` with ``n >= 2``; ``k`` outside ``[1, n - 1]``; a bad
        ``mask`` shape; unknown ``sign``; ``gap_tol`` outside ``[0, 1]``.
    """
    D, out_dtype = as_float_array(D, "D", 2, "[..., n, n]")
    *batch, n, n2 = D.shape
    if n != n2 or n < 2:
        raise ValueError(f"D: expected square distance matrices [..., n, n] with n >= 2, got shape {D.shape}")
    k = check_int(k, "k", 1, n - 1, f"n = {n} points span at most n - 1 dimensions")
    scale, differentiable = check_bool(scale, "scale"), check_bool(differentiable, "differentiable")
    check_choice(sign, "sign", SIGN_RULES)
    gap_tol = check_gap_tol(gap_tol, D.dtype)
    valid = as_mask(mask, tuple(batch), n, of="D")

    pair = valid[..., :, None] & valid[..., None, :]
    nonfinite = jnp.any(pair & ~jnp.isfinite(D), axis=(-2, -1))
    D0 = jnp.where(pair & jnp.isfinite(D), D, 0.0)
    D0 = 0.5 * (D0 + jnp.swapaxes(D0, -1, -2))
    D2 = D0 * D0
    n_valid = jnp.sum(valid, axis=-1, dtype=jnp.int32)
    w = valid / jnp.maximum(n_valid, 1)[..., None].astype(D.dtype)
    row = jnp.einsum("...ij,...j->...i", D2, w, precision=HIGHEST)
    total = jnp.einsum("...i,...i->...", row, w, precision=HIGHEST)
    B = -0.5 * (D2 - row[..., :, None] - row[..., None, :] + total[..., None, None])
    B = jnp.where(pair, B, 0.0)
    lam, U = eigh_descending(B, differentiable=differentiable)
    if not differentiable:  # frozen U: lam_j = u_j^T B u_j still carries its exact derivative
        rayleigh = jnp.einsum("...ij,...ik,...kj->...j", U, B, U, precision=HIGHEST)
        lam = lam + (rayleigh - jax.lax.stop_gradient(rayleigh))
    top = lam[..., : k + 1]
    coords = U[..., :, :k] * safe_sqrt(top[..., :k])[..., None, :]
    signs, source = canonical_signs(coords, w, valid, rule=sign)
    coords = coords * signs[..., None, :]
    mean_square = jnp.maximum(jnp.einsum("...ii,...i->...", B, w, precision=HIGHEST), 0.0)
    rms = safe_sqrt(mean_square)
    if scale:
        coords = coords / jnp.where(rms > 0, rms, 1.0)[..., None, None]
    flat = jax.lax.stop_gradient(top[..., 0]) <= 0
    coords = jnp.where(flat[..., None, None] | ~valid[..., None], 0.0, coords)
    coords = jnp.where(nonfinite[..., None, None] & valid[..., None], jnp.nan, coords)

    gap = _nan_where(nonfinite, relative_gap(top, k))
    ambiguous = ~(gap >= gap_tol) | nonfinite | flat | (n_valid < k + 1)
    info = InvariantInfo(
        eigenvalues=_nan_where(nonfinite, jax.lax.stop_gradient(top[..., :k])),
        gap=gap,
        ambiguous=ambiguous,
        n_valid=n_valid,
        rms=_nan_where(nonfinite, rms),
        sign_source=source,
    )
    return coords.astype(out_dtype), info
