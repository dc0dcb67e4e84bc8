"""Layers on channels of spherical signals: features ``h[..., C, (L+1)**2]``, irreps ``C x (0e + 1o + 2e + ...)``.

Every channel is one signal on the sphere (e3nn ordering, ``normalization="integral"``), so Gaunt
products act channel-wise and a rotation ``R`` acts on each channel by the Wigner matrices
``D^l(R)``, inversion by ``(-1)^l``. Equivariant maps between such features: mixing channels with one
matrix per degree (:func:`spherical_linear`) and scaling each degree by invariant gates
(:func:`gate_activation`, :func:`norm_activation`).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from geojax.so3.irreps import lmax_from_dim


@functools.cache
def degree_index(lmax: int) -> np.ndarray:
    """``[(lmax+1)**2]``: the degree ``l`` of each coefficient in e3nn ordering."""
    return np.repeat(np.arange(lmax + 1), 2 * np.arange(lmax + 1) + 1)


def check_spherical(h: jnp.ndarray, name: str, channels: int | None = None) -> int:
    """The degree ``L`` of ``h[..., C, (L+1)**2]``; ``ValueError`` naming ``name`` for other shapes."""
    if h.ndim < 2:
        raise ValueError(f"{name}: expected spherical channels [..., C, (L+1)**2], got shape {h.shape}")
    if channels is not None and h.shape[-2] != channels:
        raise ValueError(f"{name}: expected {channels} channels on axis -2, got shape {h.shape}")
    return lmax_from_dim(h.shape[-1], name)


def spherical_linear(h: jnp.ndarray, weight: jnp.ndarray) -> jnp.ndarray:
    """``out[..., d, lm] = sum_c W[l, c, d] h[..., c, lm] / sqrt(C)``: one channel-mixing matrix per degree.

    Args:
      h: ``[..., C, (L+1)**2]``; weight: ``[L+1, C, D]``.

    Returns:
      ``[..., D, (L+1)**2]``. Equivariant: the same matrix multiplies every ``m`` of a degree.
    """
    lmax = weight.shape[0] - 1
    per_coefficient = weight[degree_index(lmax)]  # [(L+1)^2, C, D]
    return jnp.einsum("...ci,icd->...di", h, per_coefficient) / math.sqrt(weight.shape[1])


def gate_activation(h: jnp.ndarray, gates: jnp.ndarray) -> jnp.ndarray:
    """Gated nonlinearity: ``l = 0 -> silu(h_0)``, ``l >= 1 -> sigmoid(g_l) h_l``.

    Args:
      h: ``[..., C, (L+1)**2]``; gates: ``[..., C, L]`` invariant pre-activations (``l = 1..L``).

    Returns ``[..., C, (L+1)**2]``; equivariant whenever ``gates`` is invariant.
    """
    scale = jnp.concatenate([jnp.ones(gates.shape[:-1] + (1,), h.dtype), jax.nn.sigmoid(gates)], axis=-1)
    out = h * scale[..., degree_index(gates.shape[-1])]
    return out.at[..., 0].set(jax.nn.silu(h[..., 0]))


def norm_activation(h: jnp.ndarray, bias: jnp.ndarray, eps: float = 1e-6) -> jnp.ndarray:
    """Norm nonlinearity: ``l = 0 -> silu(h_0)``, ``l >= 1 -> sigmoid(|h_l| + b_l) h_l``.

    ``|h_l| = sqrt(sum_m h_lm^2 + eps^2)`` so the gradient is finite at ``h_l = 0``.

    Args:
      h: ``[..., C, (L+1)**2]``; bias: ``[C, L]``.
    """
    lmax = bias.shape[-1]
    idx = degree_index(lmax)
    sq = jnp.zeros(h.shape[:-1] + (lmax + 1,), h.dtype).at[..., idx].add(h * h)
    norms = jnp.sqrt(sq[..., 1:] + eps**2)
    return gate_activation(h, norms + bias)


class SphericalLinear(nnx.Module):
    """:func:`spherical_linear` with weights ``[L+1, C_in, C_out]`` drawn ``N(0, 1)`` (unit-variance outputs)."""

    def __init__(self, channels_in: int, channels_out: int, lmax: int, *, rngs: nnx.Rngs):
        self.lmax, self.channels_in = lmax, channels_in
        self.weight = nnx.Param(jax.random.normal(rngs.params(), (lmax + 1, channels_in, channels_out)))

    def __call__(self, h: jnp.ndarray) -> jnp.ndarray:
        lmax = check_spherical(h, "SphericalLinear input", self.channels_in)
        if lmax != self.lmax:
            raise ValueError(f"SphericalLinear: built for L = {self.lmax}, got features of degree {lmax} (shape {h.shape})")
        return spherical_linear(h, self.weight[...].astype(h.dtype))


class Gate(nnx.Module):
    """:func:`gate_activation` with gates ``Linear(h_0)``: each channel's scalars gate its higher degrees."""

    def __init__(self, channels: int, lmax: int, *, rngs: nnx.Rngs):
        self.lmax, self.channels = lmax, channels
        self.linear = nnx.Linear(channels, channels * max(lmax, 1), rngs=rngs)

    def __call__(self, h: jnp.ndarray) -> jnp.ndarray:
        check_spherical(h, "Gate input", self.channels)
        if self.lmax == 0:
            return jax.nn.silu(h)
        gates = self.linear(h[..., 0]).reshape(h.shape[:-2] + (self.channels, self.lmax))
        return gate_activation(h, gates)
