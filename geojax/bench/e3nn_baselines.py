"""e3nn-jax baselines that compute exactly the Gaunt product (adapters, no e3nn code copied).

* Clebsch-Gordan: ``e3nn.tensor_product`` of each pair of degrees ``(l1, l2)`` with
  ``irrep_normalization="none"`` gives ``sum cg(l1, l2, l3)[m1, m2, m3] x y`` per path ``l3``;
  the parity filter ``e3nn.s2_irreps`` keeps only even paths (``l1 + l2 + l3`` even); each path is
  multiplied by ``r(l1, l2, l3)`` (``geojax.so3.cg_gaunt_ratio``) and paths with the same ``l3``
  are summed. ``e3nn.clebsch_gordan(12, 12, 24)`` raises, so this baseline stops at L = 11.
* Grid: ``e3nn.to_s2grid`` of both inputs on the smallest exact Gauss-Legendre grid, pointwise
  product, ``e3nn.from_s2grid`` (both with ``normalization="integral"``). e3nn's grid signals
  hold ``sqrt(4 pi) * sum x_lm Y_lm`` (its round trip is the identity), so the projected product
  of two of them is ``sqrt(4 pi)`` times the Gaunt product, and a ``nu``-th power
  ``(4 pi)^((nu - 1) / 2)`` times ``x^nu``: the adapters divide that constant out.
"""

from __future__ import annotations

import math

import e3nn_jax as e3nn
import jax.numpy as jnp

from geojax.so3 import cg_gaunt_ratio

E3NN_CG_MAX_L = 11


def e3nn_cg_gaunt(x: jnp.ndarray, lx: int, y: jnp.ndarray, ly: int, lmax_out: int) -> jnp.ndarray:
    """The Gaunt product through e3nn-jax's Clebsch-Gordan tensor product (see module docstring)."""
    if max(lx, ly, (lmax_out + 1) // 2) > E3NN_CG_MAX_L:
        raise ValueError(f"e3nn.clebsch_gordan fails at (12, 12, 24); this baseline supports L <= {E3NN_CG_MAX_L}")
    xa = e3nn.IrrepsArray(e3nn.s2_irreps(lx), x)
    ya = e3nn.IrrepsArray(e3nn.s2_irreps(ly), y)
    keep = e3nn.s2_irreps(lmax_out)
    lead = jnp.broadcast_shapes(x.shape[:-1], y.shape[:-1])
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
                out[ir.l] = out[ir.l] + cg_gaunt_ratio(l1, l2, ir.l) * chunk[..., 0, :]
    return jnp.concatenate(out, axis=-1)


def exact_grid_shape(bandwidth: int) -> tuple[int, int]:
    """e3nn grid resolution exact for a band-limited integrand (res_alpha odd for its FFT)."""
    res_beta = bandwidth // 2 + 1
    res_beta += res_beta % 2  # e3nn's Gauss-Legendre grid wants an even res_beta
    res_alpha = bandwidth + 1
    res_alpha += 1 - res_alpha % 2
    return res_beta, res_alpha


def e3nn_grid_gaunt(x: jnp.ndarray, lx: int, y: jnp.ndarray, ly: int, lmax_out: int) -> jnp.ndarray:
    """The Gaunt product through e3nn-jax's S2 grid transforms (see module docstring)."""
    res_beta, res_alpha = exact_grid_shape(lx + ly + lmax_out)
    gx = e3nn.to_s2grid(e3nn.IrrepsArray(e3nn.s2_irreps(lx), x), res_beta, res_alpha, quadrature="gausslegendre", p_val=1, p_arg=-1)
    gy = e3nn.to_s2grid(e3nn.IrrepsArray(e3nn.s2_irreps(ly), y), res_beta, res_alpha, quadrature="gausslegendre", p_val=1, p_arg=-1)
    return e3nn.from_s2grid(gx * gy, e3nn.s2_irreps(lmax_out)).array / math.sqrt(4 * math.pi)


def e3nn_grid_power(x: jnp.ndarray, lx: int, nu: int, lmax_out: int) -> jnp.ndarray:
    """``x^nu`` on e3nn's grid: one transform, a pointwise power, one projection."""
    res_beta, res_alpha = exact_grid_shape(nu * lx + lmax_out)
    g = e3nn.to_s2grid(e3nn.IrrepsArray(e3nn.s2_irreps(lx), x), res_beta, res_alpha, quadrature="gausslegendre", p_val=1, p_arg=-1)
    return e3nn.from_s2grid(g.apply(lambda v: v**nu), e3nn.s2_irreps(lmax_out)).array / (4 * math.pi) ** ((nu - 1) / 2)
