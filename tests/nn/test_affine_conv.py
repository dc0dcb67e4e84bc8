"""Affine-equivariant image layers: agreement with the point-set estimators of geojax.lie, exact
equivariance under grid symmetries, invariance of the classifier, and bad input."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from geojax import lie
from geojax.nn.affine_conv import (
    AffineConvNet,
    GroupConv2d,
    LiftingConv2d,
    blur_pool_space,
    envelope,
    gaussian_blur,
    max_pool_space,
    relative_features,
    stencil_offsets,
)
from geojax.nn.cnn import SmallCNN
from tests.conftest import jit_call, relative_error

ROT90 = np.array([[0.0, -1.0], [1.0, 0.0]])  # p -> R p in (row, col) coordinates is np.rot90


def _samples(group, n, seed, **params):
    g, log_q = group.sample(jax.random.key(seed), (n,), **params)
    return lie.SampleSet(g, log_q)


def _pixels(h, w):
    r, c = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    return np.stack([r.ravel(), c.ravel()], -1)


def _narrow_law(group_name):
    """The group and sampler parameters whose elements stretch little (the envelope fits the stencil)."""
    if group_name == "SL2":
        return lie.SL(2), {"sigma": 0.1}
    return lie.GLPlus(2), {"sigma": 0.1, "sigma_scale": 0.05}


def _model(group, haar_weights=True, **options):
    return AffineConvNet(
        group=group, n_classes=4, widths=(3, 4, 5), kernel_sizes=(5, 3, 3), radii=(2.2, 1.6, 1.6), hidden=8,
        num_samples=3, eval_samples=4, sample_params={"sigma": 0.15}, haar_weights=haar_weights, rngs=nnx.Rngs(0),
        **options,
    )


ANTI_ALIASED = {"pooling": "blur", "input_blur": 1.0, "rbf_width": 1.0}


@pytest.mark.parametrize("group_name", ["SL2", "GL+2"])
def test_lifting_equals_point_set_estimator(group_name):
    with jax.enable_x64(True):
        group, params = _narrow_law(group_name)
        layer = LiftingConv2d(group, 2, 3, kernel_size=7, radius=2.0, hidden=8, rngs=nnx.Rngs(1))
        s = _samples(group, 4, 2, **params)
        # The envelope must fit in the stencil for the two to agree: |g| * radius <= 3.
        assert float(jnp.max(jnp.linalg.norm(s.elements, ord=2, axis=(1, 2)))) * 2.0 < 3.0
        x = jax.random.normal(jax.random.key(3), (1, 9, 8, 2), jnp.float64)
        got = jit_call(layer, x, s).values[0]  # [9, 8, M, 3]

        def kernel(u):
            k = layer.kernel_fn(u / layer.radius) * envelope(u, layer.radius)[..., None] / math.sqrt(layer.fan_in)
            return k.reshape(u.shape[:-1] + (2, 3))

        pts = _pixels(9, 8)
        # the reference jitted as well: op by op its many small ops compile one by one
        ref = jax.jit(lambda: lie.lifting_conv(kernel, group, x[0].reshape(-1, 2), pts, np.ones(len(pts)), pts, s).values)()
        ref = ref + layer.bias[...]
        assert relative_error(got.reshape(-1, 4, 3), ref) < 1e-12


@pytest.mark.parametrize("group_name", ["SL2", "GL+2"])
def test_group_conv_equals_point_set_estimator(group_name):
    with jax.enable_x64(True):
        group, params = _narrow_law(group_name)
        layer = GroupConv2d(group, 2, 3, kernel_size=5, radius=1.8, hidden=8, rngs=nnx.Rngs(1))
        h = _samples(group, 3, 4, **params)
        g = _samples(group, 2, 5, **params)  # a different output sample set
        v = jax.random.normal(jax.random.key(6), (1, 7, 6, 3, 2), jnp.float64)
        got = jit_call(layer, lie.GroupFeatures(v, h), g)
        np.testing.assert_array_equal(got.samples.elements, g.elements)
        # the layer self-normalizes the importance weights (before dividing by |det h_j|, as the
        # point-set estimator does): a constant that does not change when the samples move
        norm = 1.0 / (jnp.sum(lie.importance_weights(h)) * math.sqrt(layer.fan_in))

        def kernel(u, chart):
            theta = chart[..., -1] / math.sqrt(2.0)
            rel = jnp.concatenate([chart[..., :-1], jnp.cos(theta)[..., None], jnp.sin(theta)[..., None]], -1)
            return layer.kernel_values(u, rel) * (envelope(u, layer.radius) * norm)[..., None, None]

        pts = _pixels(7, 6)
        ref = jax.jit(lambda: lie.group_conv(kernel, group, lie.GroupFeatures(v[0].reshape(-1, 3, 2), h), pts, np.ones(len(pts)), pts, g).values)()
        assert relative_error(got.values[0].reshape(-1, 2, 3), ref + layer.bias[...]) < 1e-12


@pytest.mark.parametrize("haar", [True, False])
def test_gl2_group_conv_is_equivariant_under_a_scaling(haar):
    """``A = 2 I``: features that are a smooth function sampled on the grid, resampled exactly
    after the map, and the sample set moved with it: ``out'(A y, A h_i) = out(y, h_i)`` up to the
    stencil's quadrature error (a few percent), not ``|det A| = 4`` times it."""
    with jax.enable_x64(True):
        group = lie.GLPlus(2)
        h = _samples(group, 3, 0, sigma=0.1, sigma_scale=0.05)
        moved = lie.translate(group, h, 2.0 * jnp.eye(2))
        amp = np.asarray(jax.random.normal(jax.random.key(1), (3, 2)))

        def gaussian(n, centre, scale):  # exp(-|A^{-1}(x - c)|^2 / 18) on an n x n grid
            r, c = np.meshgrid(np.arange(n, dtype=float), np.arange(n, dtype=float), indexing="ij")
            u = (np.stack([r, c], -1) - centre) / scale
            return jnp.asarray(np.exp(-np.sum(u**2, -1) / 18.0)[None, :, :, None, None] * amp)

        layer = GroupConv2d(group, 2, 3, kernel_size=15, radius=3.0, hidden=8, rbf_width=2.0, haar_weights=haar,
                            rngs=nnx.Rngs(2))
        out = jit_call(layer, lie.GroupFeatures(gaussian(25, 12.0, 1.0), h)).values[0, 10:15, 10:15]
        out_moved = jit_call(layer, lie.GroupFeatures(gaussian(49, 24.0, 2.0), moved)).values[0, 20:30:2, 20:30:2]
    ratio = np.median(np.asarray(out_moved) / np.asarray(out))
    assert abs(ratio - 1.0) < 0.05, ratio


def test_relative_features_are_a_continuous_chart_embedding():
    with jax.enable_x64(True):
        group = lie.SL(2)
        a, b = _samples(group, 5, 0, sigma=0.5), _samples(group, 6, 1, sigma=0.5)
        f = relative_features(group, a.elements, b.elements)
        assert f.shape == (5, 6, 4)
        rel = jnp.matmul(jnp.linalg.inv(a.elements)[:, None], b.elements[None])
        p, r = lie.polar(rel)  # rel = P R
        np.testing.assert_allclose(f[..., 2], r[..., 0, 0], atol=1e-12)
        np.testing.assert_allclose(f[..., 3], r[..., 1, 0], atol=1e-12)
        # Invariant under left translation of both sets (what makes the group layer equivariant).
        t = _samples(group, 1, 9, sigma=0.8).elements[0]
        f2 = relative_features(group, t @ a.elements, t @ b.elements)
        np.testing.assert_allclose(f2, f, atol=1e-10)


@pytest.mark.parametrize("group_name,haar", [("SL2", True), ("GL+2", True), ("SL2", False)])
def test_layers_exactly_equivariant_under_90_degree_rotations(group_name, haar):
    with jax.enable_x64(True):
        model = _model(group_name, haar)
        s = model.draw_samples(jax.random.key(1), jnp.float64)
        s_rot = lie.translate(model.group, s, jnp.asarray(ROT90))
        x = jax.random.normal(jax.random.key(2), (2, 9, 9, 1), jnp.float64)
        x_rot = jnp.rot90(x, axes=(1, 2))
        f, f_rot = jit_call(model, x, s, method="lift"), jit_call(model, x_rot, s_rot, method="lift")
        # out'(R y, R g_i) = out(y, g_i): the spatial map rotates, the sample index stays.
        assert relative_error(f_rot.values, jnp.rot90(f.values, axes=(1, 2))) < 1e-12
        conv = model.convs[0]
        lifted = lie.GroupFeatures(jnp.tanh(f.values), s)
        lifted_rot = lie.GroupFeatures(jnp.tanh(f_rot.values), s_rot)
        assert relative_error(jit_call(conv, lifted_rot).values, jnp.rot90(jit_call(conv, lifted).values, axes=(1, 2))) < 1e-12
        # Without moving the sample set the output is not rotated: the test above can fail.
        assert relative_error(jit_call(model, x_rot, s, method="lift").values, jnp.rot90(f.values, axes=(1, 2))) > 1e-2


# the anti-aliased variants (not the default config; blur pooling's rot90 commutation is tested
# alone below) run under -m slow, for the default CI's time
@pytest.mark.parametrize("group_name, options", [("SL2", {}), ("GL+2", {}), ("SL2", {"sample_pooling": "max"}),
                                                 pytest.param("SL2", ANTI_ALIASED, marks=pytest.mark.slow)])
def test_classifier_invariant_to_rotation_with_samples_and_to_shifts(group_name, options):
    with jax.enable_x64(True):
        model = _model(group_name, **options)
        s = model.draw_samples(jax.random.key(1), jnp.float64)
        # Content far (> the receptive field: 8 px, 14 px with the input blur and blur pooling) from
        # the border, where zero padding differs from the features of empty background.
        x = jnp.zeros((2, 48, 48), jnp.float64).at[:, 20:26, 20:26].set(jax.random.uniform(jax.random.key(3), (2, 6, 6)))
        logits = jit_call(model, x, samples=s)
        rotated = jit_call(model, jnp.rot90(x, axes=(1, 2)), samples=lie.translate(model.group, s, jnp.asarray(ROT90)))
        assert relative_error(rotated, logits) < 1e-12
        # Shifts by a multiple of the total pooling stride (4) keep every pooling window aligned.
        assert relative_error(jit_call(model, jnp.roll(x, (4, -4), axis=(1, 2)), samples=s), logits) < 1e-12
    # float32: the same check, with the bound stated (measured ~1e-7).
    model32 = _model(group_name, **options)
    s32 = model32.draw_samples(jax.random.key(1))
    x32 = jnp.asarray(x, jnp.float32)
    rot32 = jit_call(model32, jnp.rot90(x32, axes=(1, 2)), samples=lie.translate(model32.group, s32, jnp.asarray(ROT90, jnp.float32)))
    assert relative_error(rot32, jit_call(model32, x32, samples=s32)) < 1e-5


def test_fresh_samples_per_key_and_fixed_eval_set():
    model = _model("SL2")
    x = jax.random.uniform(jax.random.key(0), (2, 12, 12))
    np.testing.assert_array_equal(jit_call(model, x), jit_call(model, x))  # the fixed evaluation set
    a, b = jit_call(model, x, key=jax.random.key(1)), jit_call(model, x, key=jax.random.key(2))
    assert float(jnp.max(jnp.abs(a - b))) > 1e-6
    assert model.draw_samples(None).elements.shape == (4, 2, 2)
    assert model.draw_samples(jax.random.key(0)).elements.shape == (3, 2, 2)


def test_sample_pooling_max_is_the_largest_sample():
    # Same weights (same rngs seed): with one sample max and mean pooling agree exactly; with several
    # the max is >= the mean in every channel and above it somewhere.
    mean, best = _model("SL2"), _model("SL2", sample_pooling="max")
    x = jax.random.uniform(jax.random.key(0), (2, 12, 12))
    one = mean.draw_samples(jax.random.key(1), num=1)
    np.testing.assert_array_equal(jit_call(best, x, one, method="features"), jit_call(mean, x, one, method="features"))
    many = mean.draw_samples(jax.random.key(1), num=6)
    gap = jit_call(best, x, many, method="features") - jit_call(mean, x, many, method="features")
    assert float(gap.min()) >= 0 and float(gap.max()) > 1e-3


def test_max_pool_space_pads_odd_sizes():
    v = jnp.arange(2 * 5 * 3 * 1 * 1, dtype=jnp.float32).reshape(2, 5, 3, 1, 1)
    out = max_pool_space(lie.GroupFeatures(v, None)).values
    assert out.shape == (2, 3, 2, 1, 1)
    np.testing.assert_array_equal(out[0, :, :, 0, 0], [[4, 5], [10, 11], [13, 14]])


def test_blur_pool_space_matches_direct_sum_and_commutes_with_rot90():
    with jax.enable_x64(True):
        k = np.array([1.0, 3.0, 3.0, 1.0]) / 8
        for size in (10, 9):
            v = np.random.default_rng(size).normal(size=(2, size, size, 3, 2))
            out = np.asarray(blur_pool_space(lie.GroupFeatures(jnp.asarray(v), None)).values)
            n = -(-size // 2)
            assert out.shape == (2, n, n, 3, 2)
            padded = np.pad(v, ((0, 0), (1, 3), (1, 3), (0, 0), (0, 0)))
            ref = np.stack(
                [np.stack([np.einsum("a,b,nabmc->nmc", k, k, padded[:, 2 * y : 2 * y + 4, 2 * x : 2 * x + 4]) for x in range(n)], 1)
                 for y in range(n)], 1,
            )
            np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
        v = jnp.asarray(np.random.default_rng(0).normal(size=(1, 10, 10, 2, 1)))
        pooled = blur_pool_space(lie.GroupFeatures(v, None)).values
        rotated = blur_pool_space(lie.GroupFeatures(jnp.rot90(v, axes=(1, 2)), None)).values
        np.testing.assert_allclose(rotated, jnp.rot90(pooled, axes=(1, 2)), atol=1e-12)
        ones = blur_pool_space(lie.GroupFeatures(jnp.ones((1, 10, 10, 1, 1)), None)).values[0, :, :, 0, 0]
        np.testing.assert_allclose(ones[1:-1, 1:-1], 1.0, atol=1e-12)  # a low-pass: constants pass (away from the zero padding)


def test_gaussian_blur_matches_scipy():
    with jax.enable_x64(True):
        from scipy import ndimage

        x = np.random.default_rng(1).normal(size=(2, 12, 11, 1))
        for sigma in (1.0, 0.5):
            ref = np.stack([ndimage.gaussian_filter(im[..., 0], sigma, mode="constant", truncate=3.0) for im in x])
            np.testing.assert_allclose(np.asarray(gaussian_blur(jnp.asarray(x), sigma))[..., 0], ref, atol=1e-12)


def test_stencil_and_bad_input():
    np.testing.assert_array_equal(stencil_offsets(3)[0, 2], [-1.0, 1.0])
    with pytest.raises(ValueError, match="kernel_size must be an odd int"):
        stencil_offsets(4)
    with pytest.raises(ValueError, match="group must be one of"):
        AffineConvNet(group="SO3", n_classes=2, widths=(2,), kernel_sizes=(3,), radii=(1.0,), hidden=4,
                      num_samples=1, eval_samples=1, sample_params={}, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="equally long"):
        AffineConvNet(group="SL2", n_classes=2, widths=(2, 3), kernel_sizes=(3,), radii=(1.0,), hidden=4,
                      num_samples=1, eval_samples=1, sample_params={}, rngs=nnx.Rngs(0))
    model = _model("SL2")
    with pytest.raises(ValueError, match=r"x must be a floating array \[B, H, W, C\]"):
        model(jnp.zeros((2, 8, 8, 3)))
    s = model.draw_samples(jax.random.key(0))
    f = model.lift(jnp.zeros((1, 8, 8, 1)), s)
    with pytest.raises(ValueError, match="group samples on axis 3"):
        model.convs[0](lie.GroupFeatures(f.values[:, :, :, :2], s))
    with pytest.raises(TypeError, match="GroupFeatures"):
        model.convs[0](f.values)
    with pytest.raises(ValueError, match="radius must be > 0"):
        LiftingConv2d(lie.SL(2), 1, 2, kernel_size=3, radius=0.0, hidden=4, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="rbf_width must be > 0"):
        LiftingConv2d(lie.SL(2), 1, 2, kernel_size=3, radius=1.0, hidden=4, rbf_width=0.0, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="pooling must be one of"):
        _model("SL2", pooling="avg")
    with pytest.raises(ValueError, match="sample_pooling must be one of"):
        _model("SL2", sample_pooling="sum")
    with pytest.raises(ValueError, match="input_blur must be >= 0"):
        _model("SL2", input_blur=-1.0)


def test_small_cnn_shapes_and_errors():
    cnn = SmallCNN(n_classes=10, widths=(4, 8), rngs=nnx.Rngs(0))
    assert cnn(jnp.zeros((3, 12, 12))).shape == (3, 10)
    with pytest.raises(ValueError, match="x must be"):
        cnn(jnp.zeros((3, 12, 12, 2)))
    with pytest.raises(ValueError, match="widths"):
        SmallCNN(n_classes=10, widths=(), rngs=nnx.Rngs(0))


@pytest.mark.parametrize("options", [{}, pytest.param(ANTI_ALIASED, marks=pytest.mark.slow)])
def test_layer_features_end_in_features_and_locate_the_grid_error(options):
    from experiments.affnist_equivariance import measure, moved_per_layer

    with jax.enable_x64(True):
        model = _model("SL2", **options)
        x = jnp.zeros((2, 24, 24), jnp.float64).at[:, 8:16, 9:15].set(jax.random.uniform(jax.random.key(5), (2, 8, 6)))
        s = model.draw_samples(None, jnp.float64)
        layers = jit_call(model, x, s, method="layer_features")
        assert [f.shape for f in layers] == [(2, 3), (2, 4), (2, 5)]
        np.testing.assert_allclose(layers[-1], jit_call(model, x, s, method="features"), rtol=1e-13)  # two programs: round-off
        # A grid symmetry moves nothing off the grid: every layer exact. A 20-degree rotation does.
        exact = moved_per_layer(model, np.asarray(x), np.stack([ROT90] * 2), num=4)
        assert max(exact) < 1e-6  # the resampler works in float32 (measured ~1.5e-7)
        c, si = math.cos(0.35), math.sin(0.35)
        off_grid = moved_per_layer(model, np.asarray(x), np.stack([np.array([[c, -si], [si, c]])] * 2), num=4)
        assert min(off_grid) > 1e-3
        # The last layer's value is the script's whole-network "moved" error (same sample set; two
        # programs through the float32 resampler, so equal to its round-off)
        A = np.stack([np.array([[c, -si], [si, c]])] * 2)
        assert off_grid[-1] == pytest.approx(measure(model, np.asarray(x), A, num=4)["moved"], rel=1e-5)
