"""mds_coords: invariances (float64 and float32), classical-MDS references, masks, batching, scale."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from geojax import invariant
from tests.conftest import relative_error

F64_BOUND = 1e-10
F32_BOUND = 1e-5  # worst seen over 200 random clouds and transforms: 1.3e-6


def random_orthogonal(rng, d, det=None):
    """Haar-random orthogonal d x d matrix; ``det`` +1 or -1 forces the determinant."""
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    q = q * np.sign(np.diag(r))
    if det is not None and np.linalg.det(q) * det < 0:
        q[:, 0] = -q[:, 0]
    return q


def skewed_cloud(rng, n, d=3, dtype=np.float64):
    """A generic cloud: gamma-distributed (skewed) coordinates with well-separated variances, rotated."""
    x = rng.gamma(2.0, size=(n, d)) * np.linspace(3.0, 1.0, d)
    return (x @ random_orthogonal(rng, d).T + rng.normal(size=d)).astype(dtype)


def transform(rng, x, det=None, scale=True):
    """``a x[perm] R^T + t``; returns the new cloud, the permutation and ``a``."""
    n, d = x.shape
    perm = rng.permutation(n)
    a = rng.uniform(0.3, 3.0) if scale else 1.0
    y = a * x[perm] @ random_orthogonal(rng, d, det).T + 10.0 * rng.normal(size=d)
    return y.astype(x.dtype), perm, a


def classical_mds_reference(x, k):
    """Classical MDS in NumPy: double-centred squared distances, eigh of the n x n Gram matrix."""
    x = np.asarray(x, np.float64)
    d2 = np.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)
    n = len(x)
    j = np.eye(n) - np.ones((n, n)) / n
    b = -0.5 * j @ d2 @ j
    lam, u = np.linalg.eigh(b)
    lam, u = lam[::-1][:k], u[:, ::-1][:, :k]
    return u * np.sqrt(np.maximum(lam, 0.0)), lam


def x64(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` computed in float64, returned as NumPy arrays (a NamedTuple stays one)."""
    with jax.enable_x64(True):
        return jax.tree_util.tree_map(np.asarray, fn(*args, **kwargs))


def align_signs(a, b):
    """``a`` with each column's sign flipped to agree with ``b``."""
    return a * np.where(np.sum(a * b, axis=0) < 0, -1.0, 1.0)


@pytest.mark.parametrize("d,det", [(3, 1), (3, -1), (2, -1), (5, 1)])
def test_o_d_invariance_float64(d, det, rng):
    x = skewed_cloud(rng, 32, d)
    y, perm, a = transform(rng, x, det)
    cx, ix = x64(invariant.mds_coords, x)
    cy, iy = x64(invariant.mds_coords, y)
    assert cx.dtype == np.float64 and cx.shape == (32, d)
    assert not bool(ix.ambiguous) and not bool(iy.ambiguous)
    assert np.all(np.asarray(ix.sign_source) == 0)  # the generic cloud is decided by skewness
    assert relative_error(cy, cx[perm]) < F64_BOUND
    assert relative_error(iy.eigenvalues, a * a * ix.eigenvalues) < F64_BOUND
    assert float(iy.rms) == pytest.approx(a * float(ix.rms), rel=1e-12)
    if d == 3:  # unscaled coordinates scale with the cloud
        raw_x, _ = x64(invariant.mds_coords, x, scale=False)
        raw_y, _ = x64(invariant.mds_coords, y, scale=False)
        assert relative_error(raw_y, a * raw_x[perm]) < F64_BOUND
        assert relative_error(cx, raw_x / ix.rms) < F64_BOUND
    # the coordinates are the centred, scaled input in an orthonormal frame
    assert relative_error((x - ix.centroid) @ ix.frame / ix.rms, cx) < F64_BOUND
    assert relative_error(ix.frame.T @ ix.frame, np.eye(d)) < F64_BOUND


@pytest.mark.parametrize("det", [1, -1])
def test_proper_so3_invariance_float64(det, rng):
    x = skewed_cloud(rng, 32)
    y, perm, _ = transform(rng, x, det)
    cx, ix = x64(invariant.mds_coords, x, proper=True)
    cy, _ = x64(invariant.mds_coords, y, proper=True)
    assert np.linalg.det(ix.frame) == pytest.approx(1.0, abs=1e-12)
    assert int(ix.sign_source[-1]) == 3
    err = relative_error(cy, cx[perm])
    if det == 1:
        assert err < F64_BOUND
    else:  # a generic cloud is chiral: its mirror image gets the last column negated
        assert err > 0.1
        assert relative_error(cy, cx[perm] * np.array([1.0, 1.0, -1.0])) < F64_BOUND


def test_invariance_float32(rng):
    for _ in range(5):
        x = skewed_cloud(rng, 32, dtype=np.float32)
        y, perm, _ = transform(rng, x)
        cx, ix = invariant.mds_coords(x)
        cy, _ = invariant.mds_coords(y)
        assert cx.dtype == np.float32 and not bool(ix.ambiguous)
        assert relative_error(cy, np.asarray(cx)[perm]) < F32_BOUND


def test_unscaled_equals_classical_mds_up_to_signs(rng):
    x = skewed_cloud(rng, 32)
    coords, info = x64(invariant.mds_coords, x, scale=False)
    reference, lam = classical_mds_reference(x, 3)
    assert relative_error(align_signs(coords, reference), reference) < F64_BOUND
    assert relative_error(info.eigenvalues, lam) < F64_BOUND
    assert np.abs(np.sum(coords, axis=0)).max() < 1e-10 * np.abs(coords).max()  # column sums vanish


def test_unscaled_equals_sklearn_classical_mds_up_to_signs(rng):
    manifold = pytest.importorskip("sklearn.manifold")
    if not hasattr(manifold, "ClassicalMDS"):  # scikit-learn < 1.8: sklearn's MDS is SMACOF, not classical
        pytest.skip("sklearn.manifold.ClassicalMDS needs scikit-learn >= 1.8")
    x = skewed_cloud(rng, 32)
    model = manifold.ClassicalMDS(n_components=3).fit(x)
    coords, info = x64(invariant.mds_coords, x, scale=False)
    by_max, _ = x64(invariant.mds_coords, x, scale=False, sign="max")
    assert relative_error(align_signs(coords, model.embedding_), model.embedding_) < F64_BOUND
    assert relative_error(info.eigenvalues, model.eigenvalues_) < F64_BOUND
    assert relative_error(by_max, model.embedding_) < F64_BOUND  # same sign convention (svd_flip): no alignment


def test_skew_sign_rule_and_k_prefix(rng):
    x = skewed_cloud(rng, 32)
    full, _ = x64(invariant.mds_coords, x)
    two, info = x64(invariant.mds_coords, x, k=2)
    assert np.all(np.sum(full**3, axis=0) > 0)
    assert two.shape == (32, 2) and info.sign_source.shape == (2,) and info.eigenvalues.shape == (3,)
    assert relative_error(two, full[:, :2]) < F64_BOUND


def test_scale_statistic_is_rms_distance_to_centroid(rng):
    x = skewed_cloud(rng, 32)
    coords, info = x64(invariant.mds_coords, x)
    rms = np.sqrt(np.mean(np.sum((x - x.mean(0)) ** 2, axis=1)))
    assert float(info.rms) == pytest.approx(rms, rel=1e-12)
    assert np.sqrt(np.mean(np.sum(coords**2, axis=1))) == pytest.approx(1.0, rel=1e-12)


def test_padding_never_changes_valid_rows(rng):
    x = skewed_cloud(rng, 32)
    n_pad = 13
    padded = np.concatenate([x, rng.normal(size=(n_pad, 3)) * 1e6], axis=0)
    padded[-1] = np.nan
    padded[-2] = np.inf
    order = rng.permutation(len(padded))  # interleave padding with the points
    padded, valid = padded[order], (order < 32)
    ref, iref = x64(invariant.mds_coords, x)
    out, info = x64(invariant.mds_coords, padded, valid)
    assert np.all(np.isfinite(out))
    assert np.all(out[~valid] == 0.0)
    assert relative_error(out[valid], ref[order[valid]]) < 1e-12
    assert not bool(info.ambiguous) and int(info.n_valid) == 32
    for name, a, b in zip(info._fields, info, iref):
        assert relative_error(a, b) < 1e-12, name


def test_variable_size_batch_under_jit_and_vmap(rng):
    sizes = np.array([[9, 17, 12], [25, 6, 20]])
    n_max = 25
    x = rng.normal(size=(2, 3, n_max, 3))
    mask = np.arange(n_max) < sizes[..., None]
    for i, j in np.ndindex(2, 3):
        x[i, j, : sizes[i, j]] = skewed_cloud(rng, sizes[i, j])
    batched, info = x64(invariant.mds_coords, x, mask)
    mapped, _ = x64(jax.jit(jax.vmap(jax.vmap(lambda a, b: invariant.mds_coords(a, b)))), x, mask)
    for i, j in np.ndindex(2, 3):
        single, single_info = x64(invariant.mds_coords, x[i, j], mask[i, j])
        np.testing.assert_allclose(batched[i, j], single, rtol=0, atol=1e-12)
        assert bool(single_info.ambiguous) == bool(info.ambiguous[i, j])
    assert batched.shape == (2, 3, n_max, 3) and info.ambiguous.shape == (2, 3)
    assert np.all(batched[~mask] == 0.0) and np.all(np.isfinite(batched))
    np.testing.assert_array_equal(info.n_valid, sizes)
    assert relative_error(mapped, batched) < 1e-12
    # a shared mask (integer: nonzero = valid) broadcasts over the leading axes
    shared = (np.arange(n_max) < 5).astype(np.int32)
    out, _ = x64(invariant.mds_coords, x, shared)
    ref, _ = x64(invariant.mds_coords, x, np.broadcast_to(shared != 0, mask.shape))
    np.testing.assert_array_equal(out, ref)


def test_dtypes(rng):
    x = skewed_cloud(rng, 32)
    out16, _ = invariant.mds_coords(jnp.asarray(x, jnp.bfloat16))
    assert out16.dtype == jnp.bfloat16
    out_int, _ = invariant.mds_coords(np.round(10 * x).astype(np.int32))
    assert out_int.dtype == jnp.float32
    ref, _ = x64(invariant.mds_coords, x)
    assert relative_error(np.asarray(out16, np.float64), ref) < 5e-2


def test_sharded_batch(rng):
    devices = jax.devices()
    x = np.stack([skewed_cloud(rng, 32, dtype=np.float32) for _ in devices])
    mesh = jax.make_mesh((len(devices),), ("batch",), axis_types=(jax.sharding.AxisType.Explicit,))
    sharded = jax.device_put(x, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch")))
    coords, info = invariant.mds_coords(sharded)
    reference, _ = invariant.mds_coords(x)
    assert coords.sharding.spec[0] == "batch" and info.ambiguous.shape == (len(devices),)
    assert relative_error(coords, reference) < 1e-6
