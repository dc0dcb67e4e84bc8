"""e3nn-jax baselines that compute exactly the Gaunt product (adapters, no e3nn code copied).

* Clebsch-Gordan: :func:`geojax.tp.cg.cg_product` with its default path weights
  ``r(l1, l2, l3)``: ``e3nn.tensor_product`` per pair of degrees, even paths only, each path scaled
  so the sum is the Gaunt product. ``e3nn.clebsch_gordan(12, 12, 24)`` raises: it stops at L = 11.
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

from geojax.tp.cg import cg_product


def e3nn_cg_gaunt(x: jnp.ndarray, lx: int, y: jnp.ndarray, ly: int, lmax_out: int) -> jnp.ndarray:
    """The Gaunt product through e3nn-jax's Clebsch-Gordan tensor product (see module docstring)."""
    return cg_product(x, lx, y, ly, lmax_out)


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
