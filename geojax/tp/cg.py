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


def gaunt_path_weights(lx: int, ly: int, lmax_out: int) -> np.ndarray:
    """``[len(gaunt_paths(...))]`` float64: the weights ``r(l1, l2, l3)`` that make CG equal Gaunt."""
    return np.array([cg_gaunt_ratio(*p) for p in gaunt_paths(lx, ly, lmax_out)])


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
      ValueError: a degree beyond :data:`E3NN_CG_MAX_L`; ``path_weights`` with the wrong last axis.
    """
    if max(lx, ly, (lmax_out + 1) // 2) > E3NN_CG_MAX_L:
        raise ValueError(f"e3nn.clebsch_gordan fails at (12, 12, 24); cg_product supports L <= {E3NN_CG_MAX_L}")
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
