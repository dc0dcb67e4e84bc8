"""Lie groups for equivariant networks: SO(n), SL(n), GL+(n), SPD(n) and affine groups.

Decompositions (polar, Iwasawa, scale x SL), global charts, closed-form 2x2 matrix functions,
samplers with exact log densities w.r.t. the Haar measure, and Monte-Carlo group convolutions
(Mironenco & Forre, ICLR 2024). See :mod:`geojax.lie.sampling` for the Haar normalizations.

Example::

    import jax
    from geojax import lie

    G = lie.SL(2)
    g, log_q = G.sample(jax.random.key(0), (10_000,))   # g = exp(S) R, log q w.r.t. Haar
    P, R = lie.polar(g)                                   # g = P R
    f = jax.numpy.exp(-0.5 * (g**2).sum((-2, -1)))
    integral = lie.integrate(f, lie.SampleSet(g, log_q))  # ~ int f d(Haar)
"""

from geojax.lie.algebra import basis, hat, vee
from geojax.lie.decompositions import iwasawa, join_scale, polar, split_scale
from geojax.lie.groups import SL, SO, SPD, Affine, GLPlus, unimodular
from geojax.lie.integration import (
    GroupFeatures,
    SampleSet,
    draw,
    group_conv,
    importance_weights,
    integrate,
    lifting_conv,
    relative_chart,
    relative_elements,
    sample_concentrated_rotations,
    transformed_offsets,
    translate,
)
from geojax.lie.matrix_functions import (
    expm,
    log_rotation,
    logm,
    orthogonal_factor,
    spd_log,
    spd_sqrt,
    sqrtm,
    sym_exp,
)

__all__ = [
    "SO",
    "SL",
    "GLPlus",
    "SPD",
    "Affine",
    "unimodular",
    "polar",
    "iwasawa",
    "split_scale",
    "join_scale",
    "basis",
    "hat",
    "vee",
    "expm",
    "logm",
    "sqrtm",
    "sym_exp",
    "spd_log",
    "spd_sqrt",
    "log_rotation",
    "orthogonal_factor",
    "SampleSet",
    "GroupFeatures",
    "draw",
    "sample_concentrated_rotations",
    "translate",
    "importance_weights",
    "integrate",
    "relative_elements",
    "relative_chart",
    "transformed_offsets",
    "lifting_conv",
    "group_conv",
]
