"""Bilinear resampling of images under affine maps of their centred pixel coordinates.

One function for every place that moves images on their canvas: the affNIST-style test maps
(:func:`geojax.data.affnist.affine_transform_images`) and the models' input canonicalization
(:mod:`geojax.nn.canonicalize`). Coordinates are array indices about the canvas centre,
``q = (row, col) - ((H - 1) / 2, (W - 1) / 2)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.ndimage import map_coordinates


def resample_affine(images: jax.Array, b: jax.Array, t: jax.Array, c: jax.Array) -> jax.Array:
    """``out(q) = in(b (q - t) + c)`` per image, bilinear, zero outside the canvas.

    Computed in the dtype of ``images`` (float32 or float64); jit-, vmap- and grad-compatible.
    ``b = A^{-1}, c = 0`` is the image under ``p -> A p + t``; ``b = I, t = 0`` shifts the point
    ``c`` to the centre.

    Args:
      images: ``[N, H, W]`` or ``[N, H, W, C]`` floating point (channels share the map).
      b: ``[N, 2, 2]``.
      t, c: ``[N, 2]`` (row, col).

    Returns:
      The resampled images, shape and dtype of ``images``.

    Raises:
      ValueError: ``images`` not 3-D or 4-D, or ``b``, ``t``, ``c`` not of the shapes above.
    """
    if images.ndim not in (3, 4):
        raise ValueError(f"images: expected [N, H, W] or [N, H, W, C], got shape {tuple(images.shape)}")
    n, h, w = images.shape[:3]
    for name, value, shape in (("b", b, (n, 2, 2)), ("t", t, (n, 2)), ("c", c, (n, 2))):
        if value.shape != shape:
            raise ValueError(f"{name}: expected shape {shape}, got {tuple(value.shape)}")
    dtype = images.dtype
    centre = jnp.array([(h - 1) / 2, (w - 1) / 2], dtype)
    rows, cols = jnp.meshgrid(jnp.arange(h, dtype=dtype), jnp.arange(w, dtype=dtype), indexing="ij")
    q = jnp.stack([rows, cols], -1) - centre  # [H, W, 2]

    def one(image, b_i, t_i, c_i):  # image [H, W, C]
        src = jnp.einsum("ij,hwj->ihw", b_i, q - t_i) + (c_i + centre)[:, None, None]
        sample = lambda plane: map_coordinates(plane, [src[0], src[1]], order=1, mode="constant", cval=0.0)
        return jax.vmap(sample, in_axes=-1, out_axes=-1)(image)

    planes = images if images.ndim == 4 else images[..., None]
    out = jax.vmap(one)(planes, b.astype(dtype), t.astype(dtype), c.astype(dtype))
    return out if images.ndim == 4 else out[..., 0]
