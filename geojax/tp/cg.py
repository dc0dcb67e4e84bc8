"""The Clebsch-Gordan twin of the Gaunt product, through e3nn-jax, with optional learned path weights.

``e3nn.tensor_product`` of degrees ``(l1, l2)`` with ``irrep_normalization="none"`` gives, per output
degree ``l3``, ``sum cg(l1, l2, l3)[m1, m2, m3] x_{l1 m1} y_{l2 m2}``. On signals of the spherical form
``0e + 1o + 2e + ...`` parity keeps only the even paths (``l1 + l2 + l3`` even), exactly the paths of
the Gaunt product, and with path weights ``r(l1, l2, l3)`` (:func:`geojax.so3.cg_gaunt_ratio`) the sum
is the Gaunt product. Learned path weights give the usual CG layer (one weight per path), which is
what the E(3) models swap in to compare against Gaunt products with everything else equal.
"""

from __future__ import annotations

import functools

import e3nn_jax as e3nn
import jax.numpy as jnp
import numpy as np

from geojax.so3 import cg_gaunt_ratio

# e3nn.clebsch_gordan(12, 12, 24) raises: CG products stop at input degree 11.
E3NN_CG_MAX_L = 11


@functools.cache
def gaunt_paths(lx: int, ly: int, lmax_out: int) -> tuple[tuple[int, int, int], ...]:
    """The paths ``(l1, l2, l3)`` with ``l1 <= lx``, ``l2 <= ly``, ``l3 <= lmax_out``, triangle and even sum.

    The order is the order of ``path_weights`` in :func:`cg_product`.
    """
    return tuple(
        (l1, l2, l3)
        for l1 in range(lx + 1)
        for l2 in range(ly + 1)
        for l3 in range(abs(l1 - l2), min(l1 + l2, lmax_out) + 1)
        if (l1 + l2 + l3) % 2 == 0
    )


@functools.cache
def _gaunt_path_weights(lx: int, ly: int, lmax_out: int) -> np.ndarray:
    return np.array([cg_gaunt_ratio(*p) for p in gaunt_paths(lx, ly, lmax_out)])


def gaunt_path_weights(lx: int, ly: int, lmax_out: int) -> np.ndarray:
    """``[len(gaunt_paths(...))]`` float64: the weights ``r(l1, l2, l3)`` that make CG equal Gaunt."""
    return _gaunt_path_weights(lx, ly, lmax_out).copy()  # a copy: callers may write into it


def check_path_factors(factors, degrees: tuple[int, ...], *, batched: bool = False) -> tuple:
    """The factors ``(u, v, w)`` of a rank-``K`` Gaunt product, each ``[K, degree+1]`` (with leading
    batch axes if ``batched``), as given; ``ValueError`` naming the factor otherwise."""
    if len(factors) != len(degrees):
        raise ValueError(f"path factors: expected {len(degrees)} arrays (u, v, w), got {len(factors)}")
    rank = factors[0].shape[-2] if factors[0].ndim >= 2 else None
    for name, f, degree in zip("uvw", factors, degrees):
        if f.ndim < 2 or (f.ndim != 2 and not batched) or f.shape[-2:] != (rank, degree + 1):
            raise ValueError(f"path factors {name}: expected [{'..., ' if batched else ''}K={rank}, {degree + 1}] (one scale per term and degree 0..{degree}), got shape {f.shape}")
    return tuple(factors)


def separable_path_weights(u: jnp.ndarray, v: jnp.ndarray, w: jnp.ndarray, lx: int, ly: int, lmax_out: int) -> jnp.ndarray:
    """``[..., P]``: the CG path weights ``r(l1, l2, l3) sum_k u_k[l1] v_k[l2] w_k[l3]`` of a rank-``K`` Gaunt product.

    A sum of ``K`` Gaunt products with per-degree scalings, ``sum_k w_k o Gaunt(u_k o x, v_k o y)``
    (``o`` scales each degree), equals :func:`cg_product` with these weights (paths of
    :func:`gaunt_paths`). Rank 2 already fits every weight vector of the 11 paths at ``L = 2``
    (a least-squares fit, tested; rank 1 does not).

    Args:
      u: ``[..., K, lx+1]``; v: ``[..., K, ly+1]``; w: ``[..., K, lmax_out+1]`` (numpy or jax).

    Raises:
      ValueError: a last axis that does not match its degree, or different ``K``.
    """
    check_path_factors((u, v, w), (lx, ly, lmax_out), batched=True)
    l1, l2, l3 = (np.array(axis) for axis in zip(*gaunt_paths(lx, ly, lmax_out)))
    return gaunt_path_weights(lx, ly, lmax_out) * (u[..., l1] * v[..., l2] * w[..., l3]).sum(axis=-2)


def cg_product(
    x: jnp.ndarray, lx: int, y: jnp.ndarray, ly: int, lmax_out: int, path_weights: jnp.ndarray | None = None
) -> jnp.ndarray:
    """``out_{l3} = sum_{paths} w_p cg(l1, l2, l3) x_{l1} y_{l2}`` by e3nn-jax's tensor product.

    Args:
      x: ``[..., (lx+1)**2]``; y: ``[..., (ly+1)**2]`` (leading axes broadcast), e3nn ordering.
      lmax_out: largest output degree.
      path_weights: ``[P]`` or ``[..., P]`` (broadcasting with the leading axes), one weight per
        path of :func:`gaunt_paths`; default :func:`gaunt_path_weights` (the Gaunt product).

    Returns:
      ``[..., (lmax_out+1)**2]``.

    Raises:
      ValueError: ``lx`` or ``ly`` beyond :data:`E3NN_CG_MAX_L` (output degrees above ``lx + ly`` are
        zero and need no Clebsch-Gordan coefficients); ``path_weights`` with the wrong last axis.
    """
    if max(lx, ly) > E3NN_CG_MAX_L:
        raise ValueError(f"e3nn.clebsch_gordan fails at (12, 12, 24); cg_product supports input degrees "
                         f"<= {E3NN_CG_MAX_L}, got lx={lx}, ly={ly}")
    paths = gaunt_paths(lx, ly, lmax_out)
    if path_weights is None:
        path_weights = jnp.asarray(gaunt_path_weights(lx, ly, lmax_out), x.dtype)
    if path_weights.shape[-1] != len(paths):
        raise ValueError(f"path_weights: expected last axis {len(paths)} (the paths {lx} x {ly} -> {lmax_out}), got {path_weights.shape}")
    index = {p: n for n, p in enumerate(paths)}
    xa = e3nn.IrrepsArray(e3nn.s2_irreps(lx), x)
    ya = e3nn.IrrepsArray(e3nn.s2_irreps(ly), y)
    keep = e3nn.s2_irreps(lmax_out)
    lead = jnp.broadcast_shapes(x.shape[:-1], y.shape[:-1], path_weights.shape[:-1])
    out = [jnp.zeros(lead + (2 * l + 1,), x.dtype) for l in range(lmax_out + 1)]
    for l1, a in enumerate(xa.chunks):
        for l2, b in enumerate(ya.chunks):
            pair = e3nn.tensor_product(
                e3nn.IrrepsArray(e3nn.Irreps([xa.irreps[l1]]), a[..., 0, :]),
                e3nn.IrrepsArray(e3nn.Irreps([ya.irreps[l2]]), b[..., 0, :]),
                filter_ir_out=keep,
                irrep_normalization="none",
            )
            for (_, ir), chunk in zip(pair.irreps, pair.chunks):
                w = path_weights[..., index[(l1, l2, ir.l)], None]
                out[ir.l] = out[ir.l] + w * chunk[..., 0, :]
    return jnp.concatenate(out, axis=-1)
