"""Irreps conventions on top of e3nn-jax and exact, cached coefficient tables (float64, NumPy)."""

from geojax.so3.irreps import SphericalSignature, lmax_from_dim, spherical_signature
from geojax.so3.legendre import fourier_phi, legendre_theta, sh_index, spherical_harmonics_np
from geojax.so3.tables import (
    DENSE_LMAX,
    SparseGaunt,
    cg_gaunt_ratio,
    from_fourier_table,
    gaunt_coefficients,
    s2_grid_shape,
    s2_grid_table,
    sin_moment,
    theta_fourier_coefficients,
    to_fourier_table,
)

__all__ = [
    "DENSE_LMAX",
    "SparseGaunt",
    "SphericalSignature",
    "cg_gaunt_ratio",
    "fourier_phi",
    "from_fourier_table",
    "gaunt_coefficients",
    "legendre_theta",
    "lmax_from_dim",
    "s2_grid_shape",
    "s2_grid_table",
    "sh_index",
    "sin_moment",
    "spherical_harmonics_np",
    "spherical_signature",
    "theta_fourier_coefficients",
    "to_fourier_table",
]
