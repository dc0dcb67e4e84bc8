"""Tensor-product kernels: the Gaunt product by 2D Fourier, S^2 grid and dense methods."""

from geojax.tp.fourier import fft_size, fourier_product, from_fourier, to_fourier
from geojax.tp.gaunt import METHODS, auto_method, gaunt_tensor_product
from geojax.tp.power import gaunt_power

__all__ = [
    "METHODS",
    "auto_method",
    "fft_size",
    "fourier_product",
    "from_fourier",
    "gaunt_power",
    "gaunt_tensor_product",
    "to_fourier",
]
