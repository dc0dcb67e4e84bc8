"""Flax NNX modules built on the geojax and e3nn-jax kernels (thin: parameters here, math in kernels)."""

from geojax.nn.linear import MLP, IrrepsLinear
from geojax.nn.point_conv import PointConvLayer, PointConvNet, gate

__all__ = ["MLP", "IrrepsLinear", "PointConvLayer", "PointConvNet", "gate"]
