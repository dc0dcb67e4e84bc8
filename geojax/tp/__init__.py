"""Tensor-product kernels: the Gaunt product by 2D Fourier, S^2 grid and dense methods."""

from geojax.tp.cg import cg_product, gaunt_path_weights, gaunt_paths, separable_path_weights
from geojax.tp.fourier import fft_size, fourier_product, from_fourier, to_fourier
from geojax.tp.gaunt import METHODS, auto_method, gaunt_tensor_product
from geojax.tp.grid import GRID_METHODS, ProductGrid, product_grid
from geojax.tp.power import gaunt_power

__all__ = [
    "GRID_METHODS",
    "METHODS",
    "ProductGrid",
    "auto_method",
    "cg_product",
    "fft_size",
    "fourier_product",
    "from_fourier",
    "gaunt_path_weights",
    "gaunt_paths",
    "gaunt_power",
    "gaunt_tensor_product",
    "product_grid",
    "separable_path_weights",
    "to_fourier",
]
