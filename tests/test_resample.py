"""The shared bilinear resampler against scipy.ndimage, exactly in float64."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage

from geojax.resample import resample_affine


def test_matches_scipy_affine_transform_and_keeps_channels_together():
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        x = rng.uniform(size=(3, 17, 20, 2))
        b = np.eye(2) + 0.3 * rng.normal(size=(3, 2, 2))
        t, c = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
        out = np.asarray(resample_affine(jnp.asarray(x), jnp.asarray(b), jnp.asarray(t), jnp.asarray(c)))
        centre = np.array([8.0, 9.5])
        for i in range(3):
            # scipy: out[o] = in(matrix o + offset); here in(b (o - centre - t) + c + centre). "grid-constant"
            # interpolates against the zero padding, as jax.scipy.ndimage does ("constant" cuts at the edge).
            offset = c[i] + centre - b[i] @ (centre + t[i])
            for k in range(2):
                want = ndimage.affine_transform(x[i, ..., k], b[i], offset=offset, order=1, mode="grid-constant", cval=0.0)
                np.testing.assert_allclose(out[i, ..., k], want, atol=1e-12)
        ident = resample_affine(jnp.asarray(x[..., 0]), jnp.asarray(np.broadcast_to(np.eye(2), (3, 2, 2))), jnp.zeros((3, 2)), jnp.zeros((3, 2)))
        np.testing.assert_array_equal(ident, x[..., 0])


def test_bad_shapes_name_the_argument():
    x, b, v = jnp.zeros((2, 8, 8)), jnp.zeros((2, 2, 2)), jnp.zeros((2, 2))
    with pytest.raises(ValueError, match=r"images: expected \[N, H, W\]"):
        resample_affine(jnp.zeros((8, 8)), b, v, v)
    with pytest.raises(ValueError, match=r"b: expected shape \(2, 2, 2\)"):
        resample_affine(x, jnp.zeros((2, 2)), v, v)
    with pytest.raises(ValueError, match=r"c: expected shape \(2, 2\)"):
        resample_affine(x, b, v, jnp.zeros((3, 2)))
