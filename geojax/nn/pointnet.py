"""PointNet (Qi et al., CVPR 2017) without the input/feature transform networks, in Flax NNX.

A shared per-point MLP, a symmetric pooling over points (max, optionally concatenated with the
mean), and a classification MLP: permutation invariant by construction, not rotation invariant.
The rotation behaviour comes from what it is fed (raw xyz, MDS coordinates, frame averaging).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx


def check_points(x: jax.Array, in_features: int, name: str = "x") -> None:
    """Raise ``ValueError`` unless ``x`` is ``[..., n, in_features]`` with ``n >= 1``."""
    if x.ndim < 2 or x.shape[-1] != in_features or x.shape[-2] < 1:
        raise ValueError(f"{name}: expected shape [..., n, {in_features}] with n >= 1 points, got {x.shape}")


def _check_widths(widths: Sequence[int], name: str) -> tuple[int, ...]:
    widths = tuple(widths)
    if not widths or any(not isinstance(w, int) or isinstance(w, bool) or w < 1 for w in widths):
        raise ValueError(f"{name} must be a non-empty sequence of positive ints, got {widths!r}")
    return widths


class PointNet(nnx.Module):
    """Point-set classifier: ``logits = head(pool_i(mlp(x_i)))``.

    ``mlp`` is ``Linear -> relu`` per point through ``point_widths``; ``pool`` is the max over
    points (``pool="max"``) or ``[max, mean]`` (``pool="max_mean"``); ``head`` is
    ``Linear -> relu`` through ``head_widths`` then a final ``Linear`` to ``n_classes``.

    Call: ``x [..., n, in_features]`` (float) -> logits ``[..., n_classes]``; invariant to
    permutations of the ``n`` points (exactly: max and mean are symmetric).

    Raises:
      ValueError: at construction, non-positive ``n_classes``/``in_features``, empty or
        non-positive widths, unknown ``pool``; at call, ``x`` not ``[..., n, in_features]``.
    """

    def __init__(
        self,
        *,
        n_classes: int,
        in_features: int = 3,
        point_widths: Sequence[int] = (64, 128, 256),
        head_widths: Sequence[int] = (128,),
        pool: str = "max_mean",
        rngs: nnx.Rngs,
    ):
        if n_classes < 1 or in_features < 1:
            raise ValueError(f"n_classes and in_features must be >= 1, got {n_classes} and {in_features}")
        if pool not in ("max", "max_mean"):
            raise ValueError(f"pool must be 'max' or 'max_mean', got {pool!r}")
        point_widths = _check_widths(point_widths, "point_widths")
        head_widths = tuple(head_widths) and _check_widths(head_widths, "head_widths")
        self.in_features, self.pool = in_features, pool
        dims = (in_features,) + point_widths
        self.point_layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(dims[:-1], dims[1:])])
        pooled = point_widths[-1] * (2 if pool == "max_mean" else 1)
        dims = (pooled,) + tuple(head_widths)
        self.head_layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(dims[:-1], dims[1:])])
        self.out = nnx.Linear(dims[-1], n_classes, rngs=rngs)

    def features(self, x: jax.Array) -> jax.Array:
        """The pooled global feature ``[..., F]`` of ``x [..., n, in_features]``."""
        check_points(x, self.in_features)
        h = x
        for layer in self.point_layers:
            h = jax.nn.relu(layer(h))
        pooled = jnp.max(h, axis=-2)
        if self.pool == "max_mean":
            pooled = jnp.concatenate([pooled, jnp.mean(h, axis=-2)], axis=-1)
        return pooled

    def __call__(self, x: jax.Array) -> jax.Array:
        h = self.features(x)
        for layer in self.head_layers:
            h = jax.nn.relu(layer(h))
        return self.out(h)
