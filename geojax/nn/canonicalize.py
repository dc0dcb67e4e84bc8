"""Translation canonicalization of images by their intensity centroid.

A network whose translation equivariance is broken by the pixel grid (strided pooling aliases,
the canvas has borders) becomes translation invariant when each image is first moved so that the
centroid of its intensity sits at the canvas centre. The centroid is equivariant to every affine
map about the centre, ``centroid(A x + t) = A centroid(x) + t`` (in the continuum), so centring
commutes with the linear part of the map: an ``SL(2)`` / ``GL+(2)``-equivariant network stays
equivariant, now with exact translation invariance for integer shifts.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.ndimage import map_coordinates

Array = jax.Array


def intensity_centroid(x: Array) -> Array:
    """Centroid of ``|x|`` (summed over channels) in centred pixel coordinates.

    ``c = sum_q q |x(q)| / sum_q |x(q)|`` with ``q = (row, col) - ((H - 1) / 2, (W - 1) / 2)``;
    ``c = 0`` for an all-zero image.

    Args:
      x: ``[B, H, W]`` or ``[B, H, W, C]`` real images.

    Returns:
      ``[B, 2]`` (row, col), in the dtype of ``x`` (at least float32).

    Raises:
      ValueError: ``x`` not 3-D or 4-D.
    """
    mass = _mass(x)
    h, w = mass.shape[1:]
    rows = jnp.arange(h, dtype=mass.dtype) - (h - 1) / 2
    cols = jnp.arange(w, dtype=mass.dtype) - (w - 1) / 2
    total = jnp.sum(mass, axis=(1, 2))
    safe = jnp.where(total > 0, total, 1)
    c = jnp.stack([jnp.sum(mass.sum(2) * rows, 1), jnp.sum(mass.sum(1) * cols, 1)], -1) / safe[:, None]
    return jnp.where(total[:, None] > 0, c, 0)


def center_by_centroid(x: Array) -> Array:
    """Translate every image so that its :func:`intensity_centroid` is at the canvas centre.

    ``out(q) = x(q + c)``, bilinear, zero outside the canvas; ``c`` from :func:`intensity_centroid`.
    For ``x' = x`` shifted by an integer ``t`` (ink staying on the canvas) ``out(x') = out(x)``
    exactly; for fractional shifts up to bilinear resampling. Jit- and grad-compatible.

    Args:
      x: ``[B, H, W]`` or ``[B, H, W, C]`` real images.

    Returns:
      The centred images, shape and dtype (at least float32) of ``x``.

    Raises:
      ValueError: ``x`` not 3-D or 4-D.
    """
    c = intensity_centroid(x)
    squeeze = x.ndim == 3
    v = jnp.asarray(x, c.dtype)
    v = v[..., None] if squeeze else v
    h, w = v.shape[1:3]
    rows, cols = jnp.meshgrid(jnp.arange(h, dtype=c.dtype), jnp.arange(w, dtype=c.dtype), indexing="ij")

    def one(image, ci):  # image [H, W, C]
        shift = lambda plane: map_coordinates(plane, [rows + ci[0], cols + ci[1]], order=1, mode="constant", cval=0.0)
        return jax.vmap(shift, in_axes=-1, out_axes=-1)(image)

    out = jax.vmap(one)(v, c)
    return out[..., 0] if squeeze else out


def _mass(x: Array) -> Array:
    if x.ndim not in (3, 4):
        raise ValueError(f"x must be [B, H, W] or [B, H, W, C], got shape {tuple(x.shape)}")
    x = jnp.asarray(x, jnp.result_type(x.dtype, jnp.float32))
    return jnp.abs(x) if x.ndim == 3 else jnp.sum(jnp.abs(x), axis=-1)
