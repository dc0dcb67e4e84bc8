"""Grids on which sums of products of spherical signals are exact: transform once, multiply, project.

A model that multiplies many signals (messages over edges, powers of a node basis) should move each
signal to values on a grid once, do every product and sum there pointwise, and project back once.
:class:`ProductGrid` is that pair of maps for the two Gaunt methods that have a grid: the half
torus ``t in [0, pi]`` of the Fourier method (:func:`geojax.tp.fourier.half_torus_shape`) and the
Gauss-Legendre sphere grid of the ``"s2grid"`` method.

Grid values are *grid-major*: the grid axes come first and the signal's batch axes after them
(``[*grid.shape, ...]``), the layout in which the sphere-grid transforms are plain GEMMs with no
transposes (:mod:`geojax.tp.s2grid`). Numpy broadcasting aligns axes from the right, so values of
signals whose batch axes have different ranks need ``grid.expand`` before they are multiplied.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from geojax.tp.fourier import half_torus_projection, half_torus_shape, sh_to_half_torus
from geojax.tp.s2grid import grid_major_to_sh, kernel_grid_shape, sh_to_grid_major, with_batch_rank

GRID_METHODS = ("auto", "fourier", "s2grid")


@dataclasses.dataclass(frozen=True)
class ProductGrid:
    """Values and projection for products of factors of degrees ``degrees``, kept to ``lmax_out``.

    For signals ``x_k`` of degree ``<= degrees[k]``,
    ``project(sum over terms of prod_k values(x_k, L_k))`` equals the matching sum of Gaunt
    products truncated at ``lmax_out``, to round-off: the grid resolves the whole product.
    """

    method: str
    degrees: tuple[int, ...]
    lmax_out: int

    @property
    def shape(self) -> tuple[int, int]:
        """The grid axes of :meth:`values`: ``(n_phi, n_theta)`` (sphere grid) or ``(n_u / 2 + 1, n_v)``
        (the half torus, :func:`geojax.tp.fourier.half_torus_shape`)."""
        if self.method == "fourier":
            return half_torus_shape(self.degrees, self.lmax_out)
        n_theta, n_phi = kernel_grid_shape(sum(self.degrees) + self.lmax_out)
        return n_phi, n_theta

    def values(self, array: jnp.ndarray, lmax: int) -> jnp.ndarray:
        """``[..., (lmax+1)**2] -> [*shape, ...]``: the signal's values on the grid (``lmax <= max(degrees)``)."""
        if lmax > max(self.degrees):
            raise ValueError(f"a factor of degree {lmax} does not fit a grid for degrees {self.degrees}")
        if self.method == "fourier":
            return jnp.moveaxis(sh_to_half_torus(array, lmax, *self.shape), (-2, -1), (0, 1))
        n_phi, n_theta = self.shape
        return sh_to_grid_major(array, lmax, n_theta, n_phi)

    def project(self, values: jnp.ndarray) -> jnp.ndarray:
        """``[*shape, ...] -> [..., (lmax_out+1)**2]``: exact projection onto degrees ``<= lmax_out``."""
        if values.shape[:2] != self.shape:
            raise ValueError(f"values: expected grid-major [{self.shape[0]}, {self.shape[1]}, ...], got {values.shape}")
        if self.method == "fourier":
            return half_torus_projection(jnp.moveaxis(values, (0, 1), (-2, -1)), sum(self.degrees), self.lmax_out)
        return grid_major_to_sh(values, self.lmax_out)

    expand = staticmethod(with_batch_rank)


def product_grid(degrees: tuple[int, ...], lmax_out: int, method: str = "auto") -> ProductGrid:
    """The :class:`ProductGrid` for factors of ``degrees`` with output degrees ``<= lmax_out``.

    Args:
      degrees: the degree of each factor of one product term (e.g. ``(L, L)`` for messages
        ``h_j * Y(r_ij)``, ``(L,) * nu`` for ``x^nu``), each ``>= 0``.
      lmax_out: largest output degree, ``0 <= lmax_out <= sum(degrees)``.
      method: ``"fourier"`` (torus, FFTs), ``"s2grid"`` (Gauss-Legendre, GEMMs) or ``"auto"``
        (``"s2grid"``, the faster one on every measured CPU configuration; README "Benchmarks").

    Raises:
      ValueError: an unknown method, negative or non-integer degrees, ``lmax_out`` out of range.
    """
    if method not in GRID_METHODS:
        raise ValueError(f"method must be one of {GRID_METHODS}, got {method!r}")
    degrees = tuple(degrees)
    if not degrees or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0 for d in degrees):
        raise ValueError(f"degrees must be a non-empty tuple of integers >= 0, got {degrees!r}")
    if isinstance(lmax_out, bool) or not isinstance(lmax_out, (int, np.integer)) or not 0 <= lmax_out <= sum(degrees):
        raise ValueError(f"lmax_out must be an integer in [0, {sum(degrees)}], got {lmax_out!r}")
    return ProductGrid("s2grid" if method == "auto" else method, tuple(int(d) for d in degrees), int(lmax_out))
