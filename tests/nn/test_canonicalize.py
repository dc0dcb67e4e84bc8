"""Canonicalization by moments: closed-form centroids and covariances, exact shift invariance,
whitening up to a rotation, orientation by the third moments, commuting with the grid symmetries."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy import ndimage

from geojax import lie
from geojax.data.affnist import affine_from_params, affine_transform_images, center_on_canvas, load_mnist_5k
from geojax.nn import (
    AffineConvNet,
    SmallCNN,
    center_by_centroid,
    intensity_centroid,
    intensity_moments,
    orient_by_moments,
    whiten_by_moments,
)
from tests.conftest import jit_call, relative_error

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
        logits = jit_call(model, x, samples=s)
        # Any integer shift (not only multiples of the pooling stride): exact with centring, not without.
        for shift in [(3, -5), (-1, 2)]:
            assert relative_error(jit_call(model, jnp.roll(x, shift, axis=(1, 2)), samples=s), logits) < 1e-12
        assert relative_error(jit_call(plain, jnp.roll(x, (3, -5), axis=(1, 2)), samples=s), jit_call(plain, x, samples=s)) > 1e-4
        rotated = jit_call(model, jnp.rot90(x, axes=(1, 2)), samples=lie.translate(model.group, s, jnp.asarray(ROT90)))
        assert relative_error(rotated, logits) < 1e-12


def test_centred_cnn_is_shift_invariant():
    with jax.enable_x64(True):
        cnn = SmallCNN(n_classes=3, widths=(4, 5), kernel_size=3, center_input=True, rngs=nnx.Rngs(0))
        x = _blobs(jax.random.key(4), size=32)
        assert relative_error(jit_call(cnn, jnp.roll(x, (5, -3), axis=(1, 2))), jit_call(cnn, x)) < 1e-12


def _sqrtm(s, power):
    values, vectors = np.linalg.eigh(s)
    return np.einsum("...ij,...j,...kj->...ik", vectors, values**power, vectors)


def test_moments_match_numpy():
    with jax.enable_x64(True):
        x = _blobs(jax.random.key(5), channels=2)
        m = np.abs(np.asarray(x)).sum(-1)
        q = np.stack(np.meshgrid(np.arange(24) - 11.5, np.arange(24) - 11.5, indexing="ij"), -1)
        p = m / m.sum((1, 2), keepdims=True)
        c = np.einsum("bhw,hwi->bi", p, q)
        d = q[None] - c[:, None, None]
        sigma = np.einsum("bhw,bhwi,bhwj->bij", p, d, d)
        got_c, got_sigma = intensity_moments(x)
        np.testing.assert_allclose(got_c, c, atol=1e-12)
        np.testing.assert_allclose(got_sigma, sigma, atol=1e-12)
        np.testing.assert_allclose(got_c, intensity_centroid(x), atol=1e-12)


def test_whitened_gaussian_has_the_target_moments():
    # A smooth anisotropic Gaussian, off-centre: after whitening its centroid is the canvas centre and
    # its covariance std^2 I plus the bilinear interpolant's own spread (its hat functions have
    # variance 1/6 per axis in input pixels): B^{-1} (Sigma + I/6) B^{-T} = std^2 (I + Sigma^{-1}/6).
    with jax.enable_x64(True):
        q = np.stack(np.meshgrid(np.arange(48) - 23.5, np.arange(48) - 23.5, indexing="ij"), -1) - np.array([2.0, -3.0])
        cov = np.array([[9.0, 4.0], [4.0, 5.0]])
        x = np.exp(-0.5 * np.einsum("hwi,ij,hwj->hw", q, np.linalg.inv(cov), q))[None]
        raw = np.asarray(intensity_moments(jnp.asarray(x))[1][0])
        assert abs(raw[0, 1]) > 3.5 and abs(raw[0, 0] - raw[1, 1]) > 3.5  # far from isotropic before
        c, sigma = intensity_moments(whiten_by_moments(jnp.asarray(x), std=5.0, eps=0.0))
        np.testing.assert_allclose(c, 0.0, atol=0.02)
        np.testing.assert_allclose(sigma[0], 25.0 * (np.eye(2) + np.linalg.inv(raw) / 6), atol=0.01)


def test_whitening_commutes_with_90_degree_rotations_exactly():
    with jax.enable_x64(True):
        x = _blobs(jax.random.key(6), size=32, channels=2)
        got = whiten_by_moments(jnp.rot90(x, axes=(1, 2)), std=3.0)
        np.testing.assert_allclose(got, jnp.rot90(whiten_by_moments(x, std=3.0), axes=(1, 2)), atol=1e-10)


def test_whitening_removes_affine_maps_up_to_a_rotation():
    # Real digits under affNIST-like maps: whiten(A.x) is whiten(x) rotated by
    # R = Sigma'^{-1/2} A Sigma^{1/2} (in SO(2)) up to resampling, much closer than without whitening.
    images, _ = load_mnist_5k()
    x = center_on_canvas(images[::500][:10])
    rng = np.random.default_rng(0)
    a = affine_from_params(rng.uniform(-0.35, 0.35, 10), rng.uniform(-0.2, 0.2, 10), rng.uniform(0.8, 1.2, 10), rng.uniform(0.8, 1.2, 10))
    t = rng.integers(-3, 4, (10, 2)).astype(float)
    xa = np.asarray(affine_transform_images(x, a, t))
    eps = 0.25
    sigma, sigma_a = (np.asarray(intensity_moments(jnp.asarray(v))[1], np.float64) + eps * np.eye(2) for v in (x, xa))
    r = np.einsum("bij,bjk,bkl->bil", _sqrtm(sigma_a, -0.5), a, _sqrtm(sigma, 0.5))
    # Orthogonal in the continuum; on pixels the line-like "1" is furthest off (about 0.1).
    deviation = np.abs(np.einsum("bij,bkj->bik", r, r) - np.eye(2)).max((1, 2))
    assert np.median(deviation) < 0.02 and deviation.max() < 0.15
    u, _, vt = np.linalg.svd(r)
    r = u @ vt  # the nearest rotation
    w, wa = np.asarray(whiten_by_moments(x, eps=eps)), np.asarray(whiten_by_moments(xa, eps=eps))
    rotated = np.asarray(affine_transform_images(w, r, np.zeros((10, 2))))
    rel = lambda u, v: np.linalg.norm((u - v).reshape(10, -1), axis=1) / np.linalg.norm(v.reshape(10, -1), axis=1)
    assert np.median(rel(wa, rotated)) < 0.1  # measured 0.077
    assert np.median(rel(wa, w)) > 0.3  # the rotation is really there (0.48)
    assert np.median(rel(np.asarray(center_by_centroid(xa)), np.asarray(center_by_centroid(x)))) > 0.5  # 0.66


def test_whitening_bad_input_and_empty_images():
    out = whiten_by_moments(jnp.zeros((2, 8, 8)))
    assert out.shape == (2, 8, 8) and np.all(out == 0)
    with pytest.raises(ValueError, match="std must be > 0"):
        whiten_by_moments(jnp.zeros((1, 8, 8)), std=0.0)
    with pytest.raises(ValueError, match="eps must be >= 0"):
        whiten_by_moments(jnp.zeros((1, 8, 8)), eps=-1.0)
    with pytest.raises(ValueError, match="got shape"):
        whiten_by_moments(jnp.zeros((8, 8)))
    with pytest.raises(ValueError, match="whiten_std must be None"):
        SmallCNN(n_classes=3, widths=(4,), whiten_std=-2.0, rngs=nnx.Rngs(0))


def test_whitened_models_commute_with_90_degree_rotations():
    with jax.enable_x64(True):
        kw = dict(group="SL2", n_classes=4, widths=(3, 4), kernel_sizes=(5, 3), radii=(2.2, 1.6), hidden=8,
                  num_samples=3, eval_samples=4, sample_params={"sigma": 0.15})
        model = AffineConvNet(whiten_std=4.0, rngs=nnx.Rngs(0), **kw)
        s = model.draw_samples(jax.random.key(1), jnp.float64)
        x = _blobs(jax.random.key(7), n=2, size=32)
        logits = jit_call(model, x, samples=s)
        moved = jit_call(model, jnp.rot90(x, axes=(1, 2)), samples=lie.translate(model.group, s, jnp.asarray(ROT90)))
        assert relative_error(moved, logits) < 1e-10
        # The whitening runs inside: the same weights without it, on pre-whitened input.
        plain = AffineConvNet(rngs=nnx.Rngs(0), **kw)
        assert relative_error(jit_call(plain, whiten_by_moments(x, 4.0), samples=s), logits) < 1e-12
        assert relative_error(jit_call(plain, x, samples=s), logits) > 1e-3
        cnn = SmallCNN(n_classes=3, widths=(4, 5), kernel_size=3, whiten_std=4.0, rngs=nnx.Rngs(0))
        raw = SmallCNN(n_classes=3, widths=(4, 5), kernel_size=3, rngs=nnx.Rngs(0))
        assert relative_error(jit_call(cnn, x), jit_call(raw, whiten_by_moments(x, 4.0))) < 1e-12


def test_whitening_gradient_is_finite_for_isotropic_images():
    # A disc has repeated covariance eigenvalues, where eigh's gradient is NaN; the closed form is not.
    with jax.enable_x64(True):
        q = np.stack(np.meshgrid(np.arange(24) - 11.5, np.arange(24) - 11.5, indexing="ij"), -1)
        disc = jnp.asarray((np.linalg.norm(q, axis=-1) < 6).astype(float))[None]
        np.testing.assert_allclose(intensity_moments(disc)[1][0, 0, 1], 0.0, atol=1e-12)
        grad = jax.jit(jax.grad(lambda x: jnp.sum(whiten_by_moments(x, std=3.0) ** 2)))(disc)
        assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0


def _spin1_moment(x, eps=0.25):
    """NumPy reference: ``sum m |u|^2 (u_row + i u_col)`` with ``u = (Sigma + eps I)^{-1/2} (q - c)`` (std = 1)."""
    m = np.abs(np.asarray(x))
    h, w = m.shape[1:]
    q = np.stack(np.meshgrid(np.arange(h) - (h - 1) / 2, np.arange(w) - (w - 1) / 2, indexing="ij"), -1)
    p = m / m.sum((1, 2), keepdims=True)
    c = np.einsum("bhw,hwi->bi", p, q)
    d = q[None] - c[:, None, None]
    sigma = np.einsum("bhw,bhwi,bhwj->bij", p, d, d) + eps * np.eye(2)
    u = np.einsum("bij,bhwj->bhwi", _sqrtm(sigma, -0.5), d)
    return np.einsum("bhw,bhw->b", m * (u**2).sum(-1), u[..., 0] + 1j * u[..., 1])


def test_orientation_matches_numpy_and_the_output_points_along_the_rows():
    with jax.enable_x64(True):
        x = _blobs(jax.random.key(8), n=4, size=32)
        images, orientation = orient_by_moments(x, std=3.0)
        want = _spin1_moment(x)
        np.testing.assert_allclose(orientation[:, 0] + 1j * orientation[:, 1], want / np.abs(want), atol=1e-12)
        angles = np.degrees(np.angle(want))
        assert np.ptp(angles) > 30  # the blobs really point in different directions
        # The canonical image's own moment points along +row (up to bilinear resampling): turning
        # the wrong way would leave it at 2 phi.
        np.testing.assert_allclose(np.degrees(np.angle(_spin1_moment(images))), 0.0, atol=3.0)


def test_orientation_is_exactly_invariant_to_90_degree_rotations():
    with jax.enable_x64(True):
        x = _blobs(jax.random.key(9), size=32, channels=2)
        images, orientation = orient_by_moments(x, std=3.0)
        turned, turned_orientation = orient_by_moments(jnp.rot90(x, axes=(1, 2)), std=3.0)
        np.testing.assert_allclose(turned, images, atol=1e-10)
        # p -> ROT90 p multiplies the moment by i: phi -> phi + 90 degrees.
        np.testing.assert_allclose(turned_orientation, np.stack([-orientation[:, 1], orientation[:, 0]], -1), atol=1e-12)


def test_orientation_removes_affine_maps_of_digits():
    # On real digits under affNIST-like maps, canonical(A.x) is close to canonical(x); after
    # whitening alone the rotation R is left (see the whitening test above).
    images, _ = load_mnist_5k()
    x = center_on_canvas(images[::250][:20])
    rng = np.random.default_rng(1)
    a = affine_from_params(rng.uniform(-0.35, 0.35, 20), rng.uniform(-0.2, 0.2, 20), rng.uniform(0.8, 1.2, 20), rng.uniform(0.8, 1.2, 20))
    xa = np.asarray(affine_transform_images(x, a, rng.integers(-3, 4, (20, 2)).astype(float)))
    rel = lambda u, v: np.linalg.norm((u - v).reshape(20, -1), axis=1) / np.linalg.norm(v.reshape(20, -1), axis=1)
    oriented = rel(np.asarray(orient_by_moments(xa)[0]), np.asarray(orient_by_moments(x)[0]))
    whitened = rel(np.asarray(whiten_by_moments(xa)), np.asarray(whiten_by_moments(x)))
    # measured 0.11 and 0.36
    assert np.median(oriented) < 0.2 and np.median(whitened) > 0.3, (np.median(oriented), np.median(whitened))


def test_oriented_models_read_the_orientation_and_bad_options():
    with jax.enable_x64(True):
        kw = dict(group="SL2", n_classes=4, widths=(3, 4), kernel_sizes=(5, 3), radii=(2.2, 1.6), hidden=8,
                  num_samples=3, eval_samples=4, sample_params={"sigma": 0.15})
        model = AffineConvNet(whiten_std=4.0, orient=True, rngs=nnx.Rngs(0), **kw)
        assert model.head.in_features == 3 * 4
        s = model.draw_samples(jax.random.key(1), jnp.float64)
        x = _blobs(jax.random.key(10), n=2, size=32)
        turned = jnp.rot90(x, axes=(1, 2))
        # The pooled features see the canonical image only: the same for a turned input and the same samples.
        np.testing.assert_allclose(jit_call(model, turned, s, method="features"), jit_call(model, x, s, method="features"), atol=1e-10)
        # The head reads (f, f cos phi, f sin phi): a turned input changes the logits only through phi.
        _, orientation = orient_by_moments(x, 4.0)
        f = jit_call(model, x, s, method="features")
        want = model.head(jnp.concatenate([f, f * orientation[:, :1], f * orientation[:, 1:]], -1))
        assert relative_error(jit_call(model, x, samples=s), want) < 1e-12
        assert relative_error(jit_call(model, turned, samples=s), want) > 1e-3
        cnn = SmallCNN(n_classes=3, widths=(4, 5), kernel_size=3, whiten_std=4.0, orient=True, rngs=nnx.Rngs(0))
        assert cnn.head.in_features == 3 * 5 and np.all(np.isfinite(jit_call(cnn, x)))
    with pytest.raises(ValueError, match="orient=True needs whiten_std"):
        SmallCNN(n_classes=3, widths=(4,), orient=True, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="orient=True needs whiten_std"):
        AffineConvNet(orient=True, rngs=nnx.Rngs(0), **kw)
    images, orientation = orient_by_moments(jnp.zeros((2, 8, 8)))
    assert np.all(images == 0) and np.all(orientation == jnp.array([1.0, 0.0]))
    # Empty images, also with eps = 0 (a singular whitening map): finite gradients, not NaN
    # (before the guards both were NaN, the orientation's even with the default eps).
    for eps in (0.25, 0.0):
        for loss in (lambda x: sum(jnp.sum(a) for a in orient_by_moments(x, 4.0, eps)),
                     lambda x: jnp.sum(whiten_by_moments(x, 4.0, eps))):
            assert np.all(np.isfinite(jax.jit(jax.grad(loss))(jnp.zeros((2, 8, 8))))), eps
    with pytest.raises(ValueError, match="std must be > 0"):
        orient_by_moments(jnp.zeros((1, 8, 8)), std=-1.0)
