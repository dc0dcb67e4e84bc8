"""Reference Gaunt product: direct contraction with the sparse table of Gaunt coefficients."""

from __future__ import annotations

import jax.numpy as jnp

from geojax.so3.tables import gaunt_coefficients


def gaunt_dense(x: jnp.ndarray, lx: int, y: jnp.ndarray, ly: int, lmax_out: int) -> jnp.ndarray:
    """``out[k] = sum_n G_n x[i_n] y[j_n]`` over the non-zero coefficients (scatter-add).

    Raises ``ValueError`` (from the table) for input degrees above ``DENSE_LMAX``.
    """
    table = gaunt_coefficients(lx, ly, lmax_out)
    lead = jnp.broadcast_shapes(x.shape[:-1], y.shape[:-1])
    terms = x[..., table.i] * y[..., table.j] * jnp.asarray(table.values, x.dtype)
    terms = jnp.broadcast_to(terms, lead + terms.shape[-1:])
    out = jnp.zeros(lead + ((lmax_out + 1) ** 2,), x.dtype)
    return out.at[..., table.k].add(terms)
