"""Flax NNX modules built on the geojax and e3nn-jax kernels (thin: parameters here, math in kernels)."""

from geojax.nn.affine_conv import (
    AffineConvNet,
    GroupConv2d,
    LiftingConv2d,
)
from geojax.nn.canonicalize import (
    center_by_centroid,
    intensity_centroid,
    intensity_moments,
    orient_by_moments,
    whiten_by_moments,
)
from geojax.nn.cnn import SmallCNN
from geojax.nn.linear import MLP, IrrepsLinear
from geojax.nn.dynamics import GauntDynamics
from geojax.nn.gaunt_conv import AttributeProduct, GauntConv, Interaction, ManyBody, PathFactors
from geojax.nn.point_conv import PointConvLayer, PointConvNet, gate
from geojax.nn.potential import GauntPotential
from geojax.nn.spherical import Gate, SphericalLinear

__all__ = [
    "center_by_centroid",
    "intensity_centroid",
    "intensity_moments",
    "orient_by_moments",
    "whiten_by_moments",
    "AttributeProduct",
    "AffineConvNet",
    "Gate",
    "GauntConv",
    "GauntDynamics",
    "GauntPotential",
    "GroupConv2d",
    "Interaction",
    "IrrepsLinear",
    "LiftingConv2d",
    "MLP",
    "ManyBody",
    "PathFactors",
    "PointConvLayer",
    "PointConvNet",
    "SmallCNN",
    "SphericalLinear",
    "gate",
]
