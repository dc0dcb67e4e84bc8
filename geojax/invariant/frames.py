"""Frame averaging (Puny et al., ICLR 2022) over the sign frames of the principal axes."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from geojax.invariant.checks import as_float_array, as_mask, check_bool, check_gap_tol
from geojax.invariant.mds import InvariantInfo, _nan_where
from geojax.invariant.pca import HIGHEST, principal_axes, relative_gap, safe_sqrt

GROUPS = ("O(d)", "SO(d)", "E(d)", "SE(d)")
_GROUP = re.compile(r"^(SE|SO|E|O)\((\d+)\)$")


def parse_group(group: str, d: int) -> tuple[bool, bool]:
    """``(proper, translations)`` for ``"O(d)" | "SO(d)" | "E(d)" | "SE(d)"`` acting on ``R^d``.

    Raises:
      ValueError: an unknown group, or a group dimension other than the points' ``d``.
    """
    match = _GROUP.match(group) if isinstance(group, str) else None
    if match is None:
        raise ValueError(f"group must be one of {GROUPS} with d the point dimension (e.g. 'SE(3)'), got {group!r}")
    if int(match.group(2)) != d:
        raise ValueError(f"group {group!r} acts on R^{match.group(2)} but x has d = {d} coordinates per point")
    kind = match.group(1)
    return kind in ("SO", "SE"), kind in ("E", "SE")


@functools.lru_cache(maxsize=None)
def sign_patterns(d: int, proper: bool) -> np.ndarray:
    """The ``2^d`` sign vectors ``[F, d]`` (all of ``{-1, +1}^d``), or the ``2^(d-1)`` with product +1."""
    rows = [s for s in itertools.product((1.0, -1.0), repeat=d) if not proper or np.prod(s) > 0]
    patterns = np.asarray(rows, np.float64)
    patterns.flags.writeable = False  # cached and shared
    return patterns


def _frames(x, group, mask, differentiable, gap_tol):
    """Validated inputs and the frames; shared by :func:`pca_frames` and :func:`frame_average`."""
    x, out_dtype = as_float_array(x, "x", 2, "[..., n, d]")
    *batch, n, d = x.shape
    if d == 0:
        raise ValueError(f"x: expected shape [..., n, d] with d >= 1 coordinate axes, got shape {x.shape}")
    proper, translations = parse_group(group, d)
    if n < d:
        raise ValueError(f"x: {n} points cannot fix a frame in d = {d} dimensions: need n >= d (x has shape {x.shape})")
    differentiable = check_bool(differentiable, "differentiable")
    gap_tol = check_gap_tol(gap_tol, x.dtype)
    valid = as_mask(mask, tuple(batch), n)
    pa = principal_axes(x, valid, differentiable=differentiable)
    axes = pa.vectors
    if proper:  # make det(axes) = +1; with sign patterns of product +1 every frame is a rotation
        det = jnp.sign(jnp.linalg.det(jax.lax.stop_gradient(axes)))
        axes = axes.at[..., :, -1].multiply(jnp.where(det < 0, -1.0, 1.0).astype(axes.dtype)[..., None])
    patterns = jnp.asarray(sign_patterns(d, proper), x.dtype)  # [F, d]
    rotations = axes[..., None, :, :] * patterns[:, None, :]  # [..., F, d, d]
    flat = pa.coincident | (pa.n_valid == 0)
    gap = _nan_where(pa.nonfinite, relative_gap(pa.scatter, d - 1))
    info = InvariantInfo(
        eigenvalues=_nan_where(pa.nonfinite, pa.scatter),
        gap=gap,
        ambiguous=~(gap >= gap_tol) | pa.nonfinite | flat | (pa.n_valid < d),
        n_valid=pa.n_valid,
        rms=_nan_where(pa.nonfinite, safe_sqrt(pa.mean_square)),
        centroid=_nan_where(pa.nonfinite, pa.centroid),
        frame=_nan_where(pa.nonfinite, pa.vectors),
    )
    return x, out_dtype, valid, pa, rotations, translations, info


@functools.partial(jax.jit, static_argnames=("group", "differentiable", "gap_tol"))
def pca_frames(
    x: jax.typing.ArrayLike,
    *,
    group: str = "O(3)",
    mask: jax.typing.ArrayLike | None = None,
    differentiable: bool = False,
    gap_tol: float | None = None,
) -> tuple[jnp.ndarray, InvariantInfo]:
    """The PCA frame of each point cloud: ``F`` orthogonal matrices ``G_f = V diag(s_f)``.

    ``V`` ``[..., d, d]`` holds the principal axes of the masked covariance
    ``C = mean_i (x_i - c)(x_i - c)^T`` (columns, descending eigenvalues) and ``s_f`` runs over all
    ``2^d`` sign vectors (``O(d)``, ``E(d)``), or, with the last column of ``V`` flipped so that
    ``det V = +1``, over the ``2^(d-1)`` sign vectors with product +1 (``SO(d)``, ``SE(d)``: every
    ``G_f`` is a rotation). The set is equivariant: ``{G_f(R x + t)} = {R G_f(x)}`` for ``R`` in the
    group whenever the spectrum is simple (``info.ambiguous`` False). Canonical points in frame
    ``f`` are ``(x_i - c) G_f`` (``E``/``SE``) or ``x_i G_f`` (``O``/``SO``); ``c = info.centroid``.

    Args:
      x: points ``[..., n, d]`` with ``n >= d``.
      group: ``"O(d)"``, ``"SO(d)"``, ``"E(d)"`` or ``"SE(d)"`` with ``d`` written out (``"SE(3)"``).
      mask: ``[..., n]`` valid points (bool or integer); masked rows never enter the arithmetic.
      differentiable: guarded derivative through ``V`` (default: ``stop_gradient`` frame).
      gap_tol: ``info.ambiguous`` threshold on the relative eigengap (default ``eps ** (1/3)``).

    Returns:
      ``(frames, info)``: ``frames`` ``[..., F, d, d]`` and an :class:`InvariantInfo` (``frame``
      holds the unsigned ``V``; ``sign_source`` is None).

    Value problems (flagged in ``info.ambiguous``): a degenerate spectrum (frames not unique, the
    average not invariant), fewer than ``d`` valid points, all points coincident; NaN/inf valid
    coordinates make ``info``'s float fields NaN (the frames themselves stay finite).

    Raises:
      TypeError / ValueError: as :func:`mds_coords`; an unknown ``group`` or one whose dimension is
      not ``d``; ``n < d``.
    """
    _, out_dtype, _, _, rotations, _, info = _frames(x, group, mask, differentiable, gap_tol)
    return rotations.astype(out_dtype), info


def _batch_nan(flag: jnp.ndarray, leaf: jnp.ndarray, batch: tuple[int, ...]) -> jnp.ndarray:
    if not jnp.issubdtype(leaf.dtype, jnp.inexact):
        return leaf
    if leaf.shape[: len(batch)] == batch:
        return _nan_where(flag, leaf)
    return jnp.where(jnp.any(flag), jnp.nan, leaf)


def frame_average(
    fn: Callable[..., Any],
    x: jax.typing.ArrayLike,
    *,
    group: str = "O(3)",
    mask: jax.typing.ArrayLike | None = None,
    equivariant: bool | str = False,
    differentiable: bool = False,
    gap_tol: float | None = None,
    return_info: bool = False,
) -> Any:
    """Average ``fn`` over the PCA frames of ``x``: exact group invariance or equivariance.

    With the frames ``G_f`` of :func:`pca_frames` (``F = 2^d`` for ``O``/``E``, ``2^(d-1)`` for
    ``SO``/``SE``), centroid ``c`` and ``y_i = x_i - c`` (``E``/``SE``) or ``y_i = x_i``
    (``O``/``SO``)::

        invariant:            out = 1/F sum_f fn(y G_f)
        equivariant points:   out = 1/F sum_f fn(y G_f) G_f^T (+ c for E/SE)
        equivariant vectors:  out = 1/F sum_f fn(y G_f) G_f^T

    Then ``out(x R^T + t) = out(x)`` (invariant), ``out(x) R^T + t`` (points) or ``out(x) R^T``
    (vectors) for every ``R`` in ``O(d)`` / ``SO(d)`` and (``E``/``SE``) every translation ``t``, up
    to rounding, for any ``fn``, whenever ``info.ambiguous`` is False; invariance to point
    permutations holds if ``fn`` is permutation invariant (equivariant). ``fn`` is evaluated once per
    frame under ``jax.vmap`` (``F`` times the memory of one call; ``F`` grows as ``2^d``, so this is
    meant for small ``d``).

    Args:
      fn: called as ``fn(y_f)`` (``fn(y_f, mask)`` when ``mask`` is given) with ``y_f`` shaped like
        ``x`` (masked rows 0); returns a pytree of arrays. For ``equivariant``, every leaf must be
        ``[..., *rest, d]`` with the batch shape of ``x`` leading and ``d`` last (e.g. ``[..., m, d]``
        coordinates or ``[..., d]`` vectors); the last axis is rotated back.
      x: points ``[..., n, d]`` with ``n >= d``.
      group: ``"O(d)"``, ``"SO(d)"``, ``"E(d)"`` or ``"SE(d)"`` with ``d`` written out.
      mask: ``[..., n]`` valid points; masked rows are 0 in every ``y_f``. For ``"points"`` outputs
        of shape ``[..., n, d]`` the masked rows are set to 0.
      equivariant: ``False`` (invariant), ``"points"`` (or ``True``) or ``"vectors"``.
      differentiable: guarded derivative through the frame; by default the frame is a
        ``stop_gradient`` (the gradient then holds the frame fixed: equivariant, finite, but not the
        total derivative of the averaged function).
      gap_tol: ``info.ambiguous`` threshold on the relative eigengap (default ``eps ** (1/3)``).
      return_info: also return the :class:`InvariantInfo` of the frames.

    Returns:
      The averaged pytree (``(out, info)`` if ``return_info``). A NaN/inf valid coordinate makes
      every floating output of that batch element NaN; degenerate spectra, fewer than ``d`` valid
      points and coincident points are flagged in ``info.ambiguous`` (the output is then a finite
      but non-invariant average).

    Raises:
      TypeError: ``fn`` not callable; as :func:`pca_frames`.
      ValueError: as :func:`pca_frames`; an unknown ``equivariant``; an equivariant output leaf
        without the batch shape of ``x`` leading and ``d`` last.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if equivariant is True:
        equivariant = "points"
    if equivariant not in (False, "points", "vectors"):
        raise ValueError(f"equivariant must be False, True, 'points' or 'vectors', got {equivariant!r}")
    return_info = check_bool(return_info, "return_info")
    x, out_dtype, valid, pa, rotations, translations, info = _frames(x, group, mask, differentiable, gap_tol)
    *batch, n, d = x.shape
    batch = tuple(batch)
    y = pa.centred if translations else jnp.where(pa.keep[..., None], x, 0.0)
    frames = jnp.moveaxis(rotations, -3, 0)  # [F, ..., d, d]
    canonical = jnp.einsum("...nd,f...de->f...ne", y, frames, precision=HIGHEST).astype(out_dtype)
    if mask is None:
        outputs = jax.vmap(fn)(canonical)
    else:
        outputs = jax.vmap(fn, in_axes=(0, None))(canonical, valid)

    def back(leaf):
        leaf = jnp.asarray(leaf)
        # leaf: [F, *batch, *rest, d]
        if leaf.ndim < 2 + len(batch) or leaf.shape[1 : 1 + len(batch)] != batch or leaf.shape[-1] != d:
            raise ValueError(
                f"fn: with equivariant={equivariant!r} every output must have shape [*batch, ..., d] with batch ="
                f" {batch} and d = {d}, got an output of shape {leaf.shape[1:]}"
            )
        extra = leaf.ndim - 2 - len(batch)  # len(rest)
        g = frames.reshape(frames.shape[:-2] + (1,) * extra + (d, d)).astype(leaf.dtype)
        out = jnp.einsum("...e,...de->...d", leaf, g, precision=HIGHEST)
        if equivariant == "points" and translations:
            c = pa.centroid.reshape(batch + (1,) * extra + (d,)).astype(leaf.dtype)
            out = out + c
        return out

    if equivariant:
        outputs = jax.tree_util.tree_map(back, outputs)
    out = jax.tree_util.tree_map(lambda leaf: jnp.mean(leaf, axis=0), outputs)
    if equivariant == "points" and mask is not None:
        out = jax.tree_util.tree_map(
            lambda leaf: jnp.where(valid[..., None], leaf, 0.0) if leaf.shape == batch + (n, d) else leaf, out
        )
    out = jax.tree_util.tree_map(lambda leaf: _batch_nan(pa.nonfinite, leaf, batch), out)
    return (out, info) if return_info else out
