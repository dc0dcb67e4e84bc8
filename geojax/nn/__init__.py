"""Flax NNX modules built on the geojax and e3nn-jax kernels (thin: parameters here, math in kernels)."""

from geojax.nn.affine_conv import (
    AffineConvNet,
    GroupConv2d,
    LiftingConv2d,
)
from geojax.nn.cnn import SmallCNN
from geojax.nn.linear import MLP, IrrepsLinear
from geojax.nn.point_conv import PointConvLayer, PointConvNet, gate

__all__ = [
    "MLP",
    "AffineConvNet",
    "GroupConv2d",
    "IrrepsLinear",
    "LiftingConv2d",
    "PointConvLayer",
    "PointConvNet",
    "SmallCNN",
    "gate",
]
