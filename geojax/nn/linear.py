"""Equivariant linear layers over ``IrrepsArray`` channels (thin NNX wrapper of e3nn-jax)."""

from __future__ import annotations

import functools

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
from flax import nnx


@functools.cache
def _functional_linear(irreps_in: str, irreps_out: str) -> e3nn.FunctionalLinear:
    return e3nn.FunctionalLinear(e3nn.Irreps(irreps_in), e3nn.Irreps(irreps_out))


class IrrepsLinear(nnx.Module):
    """``y = W x`` mixing channels of equal irreps (no bias), weights ``nnx.Param`` ``N(0, 1)``.

    e3nn's path normalization keeps unit-variance inputs at unit variance.
    Input ``IrrepsArray [..., irreps_in.dim]`` -> ``[..., irreps_out.dim]``; irreps of the output
    that no input irrep reaches are zero.
    """

    def __init__(self, irreps_in, irreps_out, *, rngs: nnx.Rngs):
        self.irreps_in = str(e3nn.Irreps(irreps_in).regroup())
        self.irreps_out = str(e3nn.Irreps(irreps_out))
        lin = _functional_linear(self.irreps_in, self.irreps_out)
        self.weight = nnx.Param(jax.random.normal(rngs.params(), (lin.num_weights,)))

    def __call__(self, x: e3nn.IrrepsArray) -> e3nn.IrrepsArray:
        if x.irreps != e3nn.Irreps(self.irreps_in):
            x = x.regroup()
        if x.irreps != e3nn.Irreps(self.irreps_in):
            raise ValueError(f"IrrepsLinear: expected input irreps {self.irreps_in}, got {x.irreps}")
        lin = _functional_linear(self.irreps_in, self.irreps_out)
        weights = lin.split_weights(self.weight[...].astype(x.dtype))
        flat = x.reshape((-1, x.irreps.dim))
        out = jax.vmap(lambda v: lin(weights, v))(flat)
        return out.reshape(x.shape[:-1] + (out.irreps.dim,))


class MLP(nnx.Module):
    """Plain MLP on invariant features: ``[..., d_in] -> [..., d_out]``, SiLU between layers.

    ``use_bias=False`` makes it map 0 to 0 (``silu(0) = 0``), as radial weights must where the
    radial basis vanishes at a cutoff.
    """

    def __init__(self, sizes: tuple[int, ...], *, use_bias: bool = True, rngs: nnx.Rngs):
        self.layers = nnx.List(
            [nnx.Linear(a, b, use_bias=use_bias, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])]
        )

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = jax.nn.silu(x)
        return x
