"""geojax: exact, fast irreps kernels, Lie-group machinery and invariant representations in JAX."""

from geojax import invariant, lie, so3, tp
from geojax.tp import cg_product, fourier_product, from_fourier, gaunt_power, gaunt_tensor_product, product_grid, to_fourier

__version__ = "0.1.0"

__all__ = [
    "invariant",
    "lie",
    "so3",
    "tp",
    "cg_product",
    "fourier_product",
    "from_fourier",
    "gaunt_power",
    "gaunt_tensor_product",
    "product_grid",
    "to_fourier",
]
