"""A small E(3)-equivariant point-convolution network for dense point sets (e.g. tetris shapes).

Messages are Clebsch-Gordan tensor products of neighbour features with the spherical harmonics of
the relative position (e3nn-jax ``tensor_product``, all paths, both parities, so it can tell
mirror images apart), scaled per channel by a radial MLP, summed, mixed linearly and gated.
"""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
from flax import nnx

from geojax.nn.linear import MLP, IrrepsLinear


def _hidden_irreps(mul: int, lmax: int) -> e3nn.Irreps:
    return e3nn.Irreps([(mul, (l, p)) for l in range(lmax + 1) for p in (1, -1)])


def gate(x: e3nn.IrrepsArray, n_scalars: int, n_gates: int) -> e3nn.IrrepsArray:
    """Gated nonlinearity on ``[n x 0e, n x 0o, n_gates x 0e, non-scalars]``.

    ``0e -> silu``, ``0o -> tanh`` (odd, so parity is kept), non-scalar irrep k times
    ``sigmoid(gate_k)``: equivariant because gates are invariant.
    """
    scalars = e3nn.scalar_activation(x.slice_by_mul[: 2 * n_scalars], [jax.nn.silu, jnp.tanh])
    gates = e3nn.scalar_activation(x.slice_by_mul[2 * n_scalars : 2 * n_scalars + n_gates], [jax.nn.sigmoid])
    vectors = x.slice_by_mul[2 * n_scalars + n_gates :]
    return e3nn.concatenate([scalars, e3nn.elementwise_tensor_product(gates, vectors)]).regroup()


class PointConvLayer(nnx.Module):
    """``h_i' = gate(W [h_i, sum_j R(|r_ij|) (h_j x Y(r_ij))])`` for all pairs in each point set."""

    def __init__(self, irreps_in, *, mul: int, lmax: int, n_radial: int, cutoff: float, rngs: nnx.Rngs):
        self.irreps_in = str(e3nn.Irreps(irreps_in))
        self.sh_irreps = str(e3nn.Irreps.spherical_harmonics(lmax))
        self.lmax, self.mul, self.cutoff, self.n_radial = lmax, mul, cutoff, n_radial
        tp_irreps = e3nn.tensor_product(e3nn.Irreps(irreps_in), e3nn.Irreps(self.sh_irreps), filter_ir_out=_hidden_irreps(1, lmax))
        self.message_irreps = str(e3nn.Irreps([(mul, ir) for _, ir in tp_irreps.regroup()]))
        self.pre = IrrepsLinear(tp_irreps.regroup(), self.message_irreps, rngs=rngs)
        n_msg = len(e3nn.Irreps(self.message_irreps))
        self.radial = MLP((n_radial, 32, n_msg * mul), rngs=rngs)
        hidden = _hidden_irreps(mul, lmax)
        self.n_gates = hidden.num_irreps - 2 * mul
        gated = e3nn.Irreps(f"{mul}x0e+{mul}x0o+{self.n_gates}x0e") + hidden.filter(drop=["0e", "0o"])
        self.out_irreps = str(hidden)
        self.update = IrrepsLinear(e3nn.Irreps(irreps_in) + e3nn.Irreps(self.message_irreps), gated, rngs=rngs)

    def __call__(self, h: e3nn.IrrepsArray, pos: jnp.ndarray, mask: jnp.ndarray) -> e3nn.IrrepsArray:
        rel = pos[..., None, :, :] - pos[..., :, None, :]  # [..., i, j, 3] = r_j - r_i
        dist = jnp.linalg.norm(rel + (1.0 - mask[..., None]), axis=-1)  # safe on the diagonal
        sh = e3nn.spherical_harmonics(self.sh_irreps, rel, normalize=True, normalization="component")
        neigh = jnp.broadcast_to(h.array[..., None, :, :], rel.shape[:-1] + (h.irreps.dim,))
        msg = e3nn.tensor_product(e3nn.IrrepsArray(h.irreps, neigh), sh, filter_ir_out=_hidden_irreps(1, self.lmax))
        msg = self.pre(msg.regroup())
        basis = e3nn.soft_one_hot_linspace(dist, start=0.0, end=self.cutoff, number=self.n_radial, basis="smooth_finite", cutoff=True)
        weights = self.radial(basis * self.n_radial**0.5) * mask[..., None]
        chunks = []
        for k, (chunk, (mul, ir)) in enumerate(zip(msg.chunks, msg.irreps)):
            w = weights[..., k * mul : (k + 1) * mul]
            chunks.append(None if chunk is None else chunk * w[..., None])
        msg = e3nn.from_chunks(msg.irreps, chunks, msg.shape[:-1], msg.dtype)
        agg = e3nn.sum(msg, axis=-2) / jnp.sqrt(jnp.maximum(mask.sum(-1, keepdims=True), 1.0))
        x = self.update(e3nn.concatenate([h, agg]).regroup())
        return gate(x, self.mul, self.n_gates)


class PointConvNet(nnx.Module):
    """Classifier of point sets: point-convolution layers, sum pooling, MLP on invariants.

    Input ``pos [..., n, 3]`` (one set per leading index), output logits ``[..., n_classes]``.
    Invariants are the ``0e`` and ``0o`` channels, so the output is invariant to rotations and
    translations and (through ``0o``) can change sign under reflections: chiral pairs separate.
    The first ``0o`` appears in the third layer (``0e -> 1o -> 1e`` by the cross product ``-> 0o``),
    so telling mirror images apart needs ``layers >= 3``.
    """

    def __init__(self, *, n_classes: int, mul: int = 8, lmax: int = 2, layers: int = 3, n_radial: int = 8, cutoff: float = 2.5, rngs: nnx.Rngs):
        irreps = e3nn.Irreps("0e")
        convs = []
        for _ in range(layers):
            conv = PointConvLayer(irreps, mul=mul, lmax=lmax, n_radial=n_radial, cutoff=cutoff, rngs=rngs)
            convs.append(conv)
            irreps = e3nn.Irreps(conv.out_irreps)
        self.convs = nnx.List(convs)
        self.head = MLP((2 * mul, 32, n_classes), rngs=rngs)

    def __call__(self, pos: jnp.ndarray) -> jnp.ndarray:
        n = pos.shape[-2]
        mask = 1.0 - jnp.eye(n, dtype=pos.dtype)
        h = e3nn.IrrepsArray("0e", jnp.ones(pos.shape[:-1] + (1,), pos.dtype))
        for conv in self.convs:
            h = conv(h, pos, mask)
        invariants = e3nn.sum(h, axis=-2).filter(keep=["0e", "0o"])
        return self.head(invariants.array)
