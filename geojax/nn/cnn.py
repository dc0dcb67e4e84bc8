"""A plain CNN image classifier: the non-equivariant baseline of the affine experiment."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from geojax.nn.canonicalize import canonicalize_images, check_canonicalization, with_orientation


class SmallCNN(nnx.Module):
    """Convolutions, 2x2 max pools, LayerNorm + GELU, global max pool, linear head.

    The same layout as :class:`geojax.nn.affine_conv.AffineConvNet` with ordinary convolutions
    in place of the lifting and group layers (translation equivariant only):
    ``conv -> [pool -> norm -> gelu -> conv] * (len(widths) - 1) -> norm -> gelu -> max -> linear``.

    Call: ``x [B, H, W]`` or ``[B, H, W, C_in]`` -> logits ``[B, n_classes]``. ``key`` is accepted
    and ignored (one calling convention with the equivariant model). ``center_input`` and
    ``whiten_std`` and ``orient``: as in :class:`geojax.nn.affine_conv.AffineConvNet`
    (canonicalization of the translation by the centroid; of the linear part, up to a rotation, by
    the second moments; of that rotation by the third moments, which the head then reads).

    Raises:
      ValueError: empty or non-positive ``widths``, even ``kernel_size``, ``whiten_std <= 0``,
        ``orient`` without ``whiten_std``; at call, bad ``x``.
    """

    def __init__(self, *, n_classes: int, widths: Sequence[int], kernel_size: int = 5, in_features: int = 1, center_input: bool = False,
                 whiten_std: float | None = None, orient: bool = False, rngs: nnx.Rngs):
        widths = tuple(widths)
        if not widths or any(not isinstance(w, int) or isinstance(w, bool) or w < 1 for w in widths):
            raise ValueError(f"widths must be a non-empty sequence of positive ints, got {widths!r}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd int >= 1, got {kernel_size!r}")
        self.in_features = in_features
        self.center_input, self.whiten_std, self.orient = check_canonicalization(center_input, whiten_std, orient)
        sizes = (in_features,) + widths
        self.convs = nnx.List(
            [nnx.Conv(a, b, (kernel_size, kernel_size), padding="SAME", rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])]
        )
        self.norms = nnx.List([nnx.LayerNorm(w, rngs=rngs) for w in widths])
        self.head = nnx.Linear(widths[-1] * (1 + 2 * self.orient), n_classes, rngs=rngs)

    def __call__(self, x: jax.Array, key: jax.Array | None = None) -> jax.Array:
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.shape[-1] != self.in_features:
            raise ValueError(f"x must be [B, H, W] or [B, H, W, {self.in_features}], got shape {tuple(x.shape)}")
        x, orientation = canonicalize_images(x, self.center_input, self.whiten_std, self.orient)
        f = self.convs[0](x)
        for norm, conv in zip(self.norms[:-1], self.convs[1:]):
            f = nnx.max_pool(f, (2, 2), strides=(2, 2), padding="SAME")
            f = conv(jax.nn.gelu(norm(f)))
        features = jnp.max(jax.nn.gelu(self.norms[-1](f)), axis=(1, 2))
        return self.head(with_orientation(features, orientation))
