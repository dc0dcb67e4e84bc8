"""A DGCNN-style network (Wang et al., "Dynamic Graph CNN", TOG 2019) in Flax NNX.

Each EdgeConv layer builds a k-nearest-neighbour graph in its input feature space (dynamic graph;
the first layer's space is the input coordinates) and computes, per point ``i``,

    h_i' = max_{j in knn(i)} act(W_a x_i + W_b (x_j - x_i) + b)
         = act((W_a - W_b) x_i + b + max_{j in knn(i)} W_b x_j)

The second form is exact because ``act`` (leaky ReLU, slope 0.2) is monotone increasing in each
channel: one linear map per point and a gather-max over neighbours, instead of an MLP per edge
(``k`` times fewer FLOPs). The layers' outputs are concatenated, mapped by a per-point linear
layer, pooled (max and mean over points) and classified by an MLP. Batch normalization and dropout
of the original are left out (no mutable state; the trainer needs none).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from geojax.nn.pointnet import _check_widths, check_points


def knn_indices(x: jax.Array, k: int) -> jax.Array:
    """Indices ``[..., n, k]`` of the ``k`` nearest points (Euclidean, the point itself included,
    first) of every point of ``x`` ``[..., n, c]``; ties are broken by ``lax.top_k`` (lowest index).

    Raises:
      ValueError: ``x`` with fewer than 2 axes, or ``k`` outside ``[1, n]``.
    """
    if x.ndim < 2:
        raise ValueError(f"x: expected shape [..., n, c], got {x.shape}")
    n = x.shape[-2]
    if not 1 <= k <= n:
        raise ValueError(f"k must lie in [1, n] with n = {n} points, got {k}")
    sq = jnp.sum(x * x, axis=-1)
    d2 = sq[..., :, None] + sq[..., None, :] - 2.0 * jnp.einsum("...ic,...jc->...ij", x, x)
    d2 = jnp.where(jnp.eye(n, dtype=bool), -1.0, d2)  # self first, immune to rounding
    return jax.lax.top_k(-jax.lax.stop_gradient(d2), k)[1]


def _gather(values: jax.Array, idx: jax.Array) -> jax.Array:
    """``values [..., n, c]`` at ``idx [..., n, k]`` -> ``[..., n, k, c]``."""
    flat_idx = idx.reshape(idx.shape[:-2] + (-1,))
    out = jnp.take_along_axis(values, flat_idx[..., None], axis=-2)
    return out.reshape(idx.shape + (values.shape[-1],))


class EdgeConv(nnx.Module):
    """One EdgeConv layer (see the module docstring): ``[..., n, c_in] -> [..., n, c_out]``.

    Raises:
      ValueError: ``k < 1`` at construction; at call, ``x`` not ``[..., n, c_in]`` or ``n < k``.
    """

    def __init__(self, in_features: int, out_features: int, *, k: int, rngs: nnx.Rngs):
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k, self.in_features = k, in_features
        self.centre = nnx.Linear(in_features, out_features, rngs=rngs)  # W_a - W_b, with the bias
        self.neighbour = nnx.Linear(in_features, out_features, use_bias=False, rngs=rngs)  # W_b

    def __call__(self, x: jax.Array) -> jax.Array:
        check_points(x, self.in_features)
        idx = knn_indices(x, self.k)
        msg = jnp.max(_gather(self.neighbour(x), idx), axis=-2)
        return jax.nn.leaky_relu(self.centre(x) + msg, 0.2)


class DGCNN(nnx.Module):
    """EdgeConv classifier: ``logits = head(pool_i(W [h1_i, ..., hL_i]))``, ``h_l = EdgeConv_l(h_{l-1})``.

    Call: ``x [..., n, in_features]`` -> logits ``[..., n_classes]``; invariant to permutations of
    the points (up to kNN ties between exactly equidistant neighbours).

    Args:
      n_classes: number of classes. in_features: input channels (3 for coordinates).
      edge_widths: output channels of the EdgeConv layers. embed: width of the per-point linear
        layer before pooling. head_widths: hidden widths of the classifier. k: neighbours per point
        (the point itself included).

    Raises:
      ValueError: at construction, non-positive sizes or ``k``; at call, ``x`` not
        ``[..., n, in_features]`` or fewer than ``k`` points.
    """

    def __init__(
        self,
        *,
        n_classes: int,
        in_features: int = 3,
        edge_widths: Sequence[int] = (64, 64, 128),
        embed: int = 256,
        head_widths: Sequence[int] = (128,),
        k: int = 16,
        rngs: nnx.Rngs,
    ):
        if n_classes < 1 or in_features < 1 or embed < 1:
            raise ValueError(f"n_classes, in_features and embed must be >= 1, got {n_classes}, {in_features}, {embed}")
        edge_widths = _check_widths(edge_widths, "edge_widths")
        head_widths = tuple(head_widths) and _check_widths(head_widths, "head_widths")
        self.in_features = in_features
        dims = (in_features,) + edge_widths
        self.edge_layers = nnx.List([EdgeConv(a, b, k=k, rngs=rngs) for a, b in zip(dims[:-1], dims[1:])])
        self.embed = nnx.Linear(sum(edge_widths), embed, rngs=rngs)
        dims = (2 * embed,) + tuple(head_widths)
        self.head_layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(dims[:-1], dims[1:])])
        self.out = nnx.Linear(dims[-1], n_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        check_points(x, self.in_features)
        h, hs = x, []
        for layer in self.edge_layers:
            h = layer(h)
            hs.append(h)
        h = jax.nn.leaky_relu(self.embed(jnp.concatenate(hs, axis=-1)), 0.2)
        h = jnp.concatenate([jnp.max(h, axis=-2), jnp.mean(h, axis=-2)], axis=-1)
        for layer in self.head_layers:
            h = jax.nn.leaky_relu(layer(h), 0.2)
        return self.out(h)
