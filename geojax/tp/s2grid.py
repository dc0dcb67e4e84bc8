"""Products on the exact S^2 quadrature grid (Gauss-Legendre in cos t x uniform in p).

A product of signals of degrees ``Lx``, ``Ly`` projected onto degree ``<= lmax_out`` integrates a
polynomial of degree ``Lx + Ly + lmax_out`` over the sphere: the grid of
``s2_grid_shape(Lx + Ly + lmax_out)`` is exact for it. Both transforms are dense products per m
(O(L^3)); no FFT, which makes this method fast on CPUs and accelerators at small L.
"""

from __future__ import annotations

import jax.numpy as jnp

from geojax.so3.tables import s2_grid_dense_table, s2_grid_shape, s2_grid_table, s2_projection_table

# The one-GEMM forward transform is used while it needs at most this many times the
# multiply-adds of the per-m transform (measured crossover: around L = 8 to 10 on CPU).
DENSE_FORWARD_RATIO = 4.0


def use_dense_forward(lmax: int, n_theta: int, n_phi: int) -> bool:
    """Whether :func:`sh_to_grid` uses one dense GEMM (small L) rather than two per-m products."""
    dense = (lmax + 1) ** 2 * n_theta * n_phi
    per_m = (2 * lmax + 1) * n_theta * ((lmax + 1) + n_phi)
    return dense <= DENSE_FORWARD_RATIO * per_m


def sh_to_grid(array: jnp.ndarray, lmax: int, n_theta: int, n_phi: int) -> jnp.ndarray:
    """``[..., (L+1)**2] -> [..., n_theta, n_phi]`` values ``f(t_j, p_k)``.

    ``f(t_j, p_k) = sum_m (sum_l x_lm Theta_l^|m|(t_j)) Phi_m(p_k)``: two dense products per m, or
    (small L, :func:`use_dense_forward`) one product with the ``Y_lm(t_j, p_k)`` matrix.
    """
    dtype = array.dtype
    if use_dense_forward(lmax, n_theta, n_phi):
        values = array @ jnp.asarray(s2_grid_dense_table(lmax, n_theta, n_phi), dtype)
        return values.reshape(array.shape[:-1] + (n_theta, n_phi))
    tab = s2_grid_table(lmax, n_theta, n_phi)
    padded = jnp.concatenate([array, jnp.zeros(array.shape[:-1] + (1,), dtype)], axis=-1)
    per_m = padded[..., tab.gather]
    g = jnp.einsum("...ml,mlj->...mj", per_m, jnp.asarray(tab.theta, dtype))
    return jnp.einsum("...mj,mk->...jk", g, jnp.asarray(tab.phi, dtype))


def grid_to_sh(values: jnp.ndarray, lmax_out: int) -> jnp.ndarray:
    """``[..., n_theta, n_phi] -> [..., (lmax_out+1)**2]`` by the exact quadrature rule."""
    n_theta, n_phi = values.shape[-2:]
    phi_w, theta_w, scatter = s2_projection_table(lmax_out, n_theta, n_phi)
    dtype = values.dtype
    h = jnp.einsum("...jk,km->...mj", values, jnp.asarray(phi_w, dtype))
    out = jnp.einsum("...mj,mjl->...ml", h, jnp.asarray(theta_w, dtype))
    return out.reshape(out.shape[:-2] + (out.shape[-2] * out.shape[-1],))[..., scatter]


def gaunt_s2grid(x: jnp.ndarray, lx: int, y: jnp.ndarray, ly: int, lmax_out: int) -> jnp.ndarray:
    """Gaunt product on the smallest exact grid."""
    n_theta, n_phi = s2_grid_shape(lx + ly + lmax_out)
    values = sh_to_grid(x, lx, n_theta, n_phi) * sh_to_grid(y, ly, n_theta, n_phi)
    return grid_to_sh(values, lmax_out)
