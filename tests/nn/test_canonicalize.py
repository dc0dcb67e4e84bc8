"""Centroid centring: closed-form centroids, exact shift invariance, commuting with the grid symmetries."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy import ndimage

from geojax import lie
from geojax.nn import AffineConvNet, SmallCNN, center_by_centroid, intensity_centroid
from tests.conftest import relative_error

ROT90 = np.array([[0.0, -1.0], [1.0, 0.0]])  # p -> R p in (row, col) coordinates is np.rot90


def _blobs(key, n=3, size=24, lo=8, hi=15, channels=None):
    shape = (n, hi - lo, hi - lo) + (() if channels is None else (channels,))
    x = jnp.zeros((n, size, size) + shape[3:], jnp.float64)
    return x.at[:, lo + 1 : hi + 1, lo - 2 : hi - 2].set(jax.random.uniform(key, shape, jnp.float64))


def test_centroid_matches_numpy_and_is_zero_after_centring():
    with jax.enable_x64(True):
        x = _blobs(jax.random.key(0))
        xn = np.asarray(x)
        q = np.arange(24) - 11.5
        want = np.stack([(xn.sum(2) * q).sum(1), (xn.sum(1) * q).sum(1)], -1) / xn.sum((1, 2))[:, None]
        np.testing.assert_allclose(intensity_centroid(x), want, rtol=0, atol=1e-12)
        assert np.all(np.abs(want) > 0.1)  # off-centre to begin with
        centred = center_by_centroid(x)
        # Bilinear shifts move mass without loss and the first moment by exactly the shift.
        np.testing.assert_allclose(centred.sum((1, 2)), xn.sum((1, 2)), rtol=1e-12)
        np.testing.assert_allclose(intensity_centroid(centred), 0.0, atol=1e-10)


def test_integer_shifts_give_the_same_centred_image():
    with jax.enable_x64(True):
        x = _blobs(jax.random.key(1))
        for shift in [(3, -2), (-5, 4), (0, 1)]:
            moved = jnp.roll(x, shift, axis=(1, 2))  # the ink stays on the canvas
            np.testing.assert_allclose(center_by_centroid(moved), center_by_centroid(x), atol=1e-12)


def test_commutes_with_90_degree_rotations_and_channels_share_one_centroid():
    with jax.enable_x64(True):
        x = _blobs(jax.random.key(2), channels=2)
        got = center_by_centroid(jnp.rot90(x, axes=(1, 2)))
        np.testing.assert_allclose(got, jnp.rot90(center_by_centroid(x), axes=(1, 2)), atol=1e-12)
        # One centroid (of |x| summed over channels) moves every channel; scipy's bilinear shift as reference.
        c = np.asarray(intensity_centroid(x))
        np.testing.assert_allclose(intensity_centroid(jnp.sum(jnp.abs(x), -1)), c, atol=1e-12)
        assert np.abs(np.asarray(intensity_centroid(x[..., 0])) - c).max() > 1e-3  # channels alone differ
        centred = np.asarray(center_by_centroid(x))
        for i in range(x.shape[0]):
            for k in range(2):
                want = ndimage.shift(np.asarray(x[i, ..., k]), -c[i], order=1, mode="constant", cval=0.0)
                np.testing.assert_allclose(centred[i, ..., k], want, atol=1e-12)


def test_empty_images_and_bad_input():
    zeros = jnp.zeros((2, 8, 8))
    out = center_by_centroid(zeros)
    assert out.shape == (2, 8, 8) and not np.any(np.isnan(out)) and np.all(out == 0)
    np.testing.assert_array_equal(intensity_centroid(zeros), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"\[B, H, W\] or \[B, H, W, C\]"):
        center_by_centroid(jnp.zeros((8, 8)))
    with pytest.raises(ValueError, match="got shape"):
        intensity_centroid(jnp.zeros((1, 2, 8, 8, 1)))


@pytest.mark.parametrize("group_name", ["SL2", "GL+2"])
def test_centred_affine_net_is_shift_invariant_and_still_rotation_equivariant(group_name):
    with jax.enable_x64(True):
        kw = dict(group=group_name, n_classes=4, widths=(3, 4, 5), kernel_sizes=(5, 3, 3), radii=(2.2, 1.6, 1.6), hidden=8,
                  num_samples=3, eval_samples=4, sample_params={"sigma": 0.15}, rngs=nnx.Rngs(0))
        model, plain = AffineConvNet(center_input=True, **kw), AffineConvNet(**kw)
        s = model.draw_samples(jax.random.key(1), jnp.float64)
        x = jnp.zeros((2, 40, 40), jnp.float64).at[:, 14:22, 16:24].set(jax.random.uniform(jax.random.key(3), (2, 8, 8)))
        logits = model(x, samples=s)
        # Any integer shift (not only multiples of the pooling stride): exact with centring, not without.
        for shift in [(3, -5), (-1, 2)]:
            assert relative_error(model(jnp.roll(x, shift, axis=(1, 2)), samples=s), logits) < 1e-12
        assert relative_error(plain(jnp.roll(x, (3, -5), axis=(1, 2)), samples=s), plain(x, samples=s)) > 1e-4
        rotated = model(jnp.rot90(x, axes=(1, 2)), samples=lie.translate(model.group, s, jnp.asarray(ROT90)))
        assert relative_error(rotated, logits) < 1e-12


def test_centred_cnn_is_shift_invariant():
    with jax.enable_x64(True):
        cnn = SmallCNN(n_classes=3, widths=(4, 5), kernel_size=3, center_input=True, rngs=nnx.Rngs(0))
        x = _blobs(jax.random.key(4), size=32)
        assert relative_error(cnn(jnp.roll(x, (5, -3), axis=(1, 2))), cnn(x)) < 1e-12
