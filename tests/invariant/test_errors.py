"""Bad input: trace-time errors where shapes decide, flagged outputs where only values decide."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from geojax import invariant
from tests.invariant.test_mds import skewed_cloud, x64

X = np.random.default_rng(0).normal(size=(32, 3))
D = np.linalg.norm(X[:, None] - X[None], axis=-1)


def identity(y, mask=None):
    return y


def drop_axis(y):
    return y[..., :2]


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: invariant.mds_coords(np.zeros(5)), ValueError, r"x: expected shape \[..., n, d\].*got shape \(5,\)"),
        (lambda: invariant.mds_coords(np.zeros((4, 0))), ValueError, r"d >= 1 coordinate axes, got shape \(4, 0\)"),
        (lambda: invariant.mds_coords(np.zeros((2, 3))), ValueError, "2 points cannot determine k = 3"),
        (lambda: invariant.mds_coords(X, k=4), ValueError, r"k must lie in \[1, 3\].*got 4"),
        (lambda: invariant.mds_coords(X, k=0), ValueError, r"k must lie in \[1, 3\].*got 0"),
        (lambda: invariant.mds_coords(X, k=2.0), TypeError, "k must be an int"),
        (lambda: invariant.mds_coords(X, np.ones(31, bool)), ValueError, r"mask: expected shape \(32,\).*\(31,\)"),
        (lambda: invariant.mds_coords(X, np.ones((2, 32), bool)), ValueError, r"mask: expected shape.*\(2, 32\)"),
        (lambda: invariant.mds_coords(X, np.ones(32)), TypeError, "mask: expected a boolean"),
        (lambda: invariant.mds_coords(X.astype(np.complex64)), TypeError, "x: expected a real"),
        (lambda: invariant.mds_coords(X, sign="mean"), ValueError, r"sign must be one of \('skew', 'max'\)"),
        (lambda: invariant.mds_coords(X, k=2, proper=True), ValueError, "proper=True needs k == d"),
        (lambda: invariant.mds_coords(X, scale=1), TypeError, "scale must be a bool"),
        (lambda: invariant.mds_coords(X, gap_tol=2.0), ValueError, r"gap_tol must lie in \[0, 1\]"),
        (lambda: invariant.classical_mds(D[:, :31], 2), ValueError, r"D: expected square.*\(32, 31\)"),
        (lambda: invariant.classical_mds(D, 32), ValueError, r"k must lie in \[1, 31\]"),
        (lambda: invariant.classical_mds(D, 2, mask=np.ones(3, bool)), ValueError, r"mask: expected shape \(32,\)"),
        (lambda: invariant.frame_average(identity, X, group="SU(3)"), ValueError, "group must be one of"),
        (lambda: invariant.frame_average(identity, X, group="O(2)"), ValueError, "acts on R.2 but x has d = 3"),
        (lambda: invariant.frame_average(identity, X[:2]), ValueError, "2 points cannot fix a frame"),
        (lambda: invariant.frame_average(identity, X, equivariant="tensors"), ValueError, "equivariant must be"),
        (lambda: invariant.frame_average(None, X), TypeError, "fn must be callable"),
        (lambda: jax.jit(lambda a: invariant.frame_average(drop_axis, a, equivariant=True))(X), ValueError, "fn: with"),
        (lambda: invariant.frame_average(identity, X, mask=np.ones(30, bool)), ValueError, r"mask: expected shape"),
        (lambda: invariant.pca_frames(X, group="E(4)"), ValueError, "acts on R.4"),
    ],
)
def test_shape_and_option_errors_are_raised_at_trace_time(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_errors_are_raised_while_tracing_under_jit():
    with pytest.raises(ValueError, match="k must lie in"):
        jax.jit(lambda a: invariant.mds_coords(a, k=5)[0])(X)
    with pytest.raises(ValueError, match="mask: expected shape"):
        jax.jit(lambda a, m: invariant.mds_coords(a, m)[0])(X, jnp.ones(7, bool))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_coordinates_give_nan_rows_and_a_flag(bad, rng):
    x = skewed_cloud(rng, 32)
    x[5, 2] = bad
    mask = np.arange(32) < 30
    coords, info = x64(invariant.mds_coords, x, mask)
    assert bool(info.ambiguous)
    assert np.all(np.isnan(coords[mask])) and np.all(coords[~mask] == 0.0)
    assert np.isnan(info.gap) and np.all(np.isnan(info.eigenvalues))
    with np.errstate(invalid="ignore"):
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    cmds, cinfo = x64(invariant.classical_mds, d, 3, mask=mask)
    assert bool(cinfo.ambiguous) and np.all(np.isnan(cmds[mask])) and np.all(cmds[~mask] == 0.0)


def test_coincident_points_give_zeros_and_a_flag():
    x = np.tile([[1e3, -2.0, 0.5]], (32, 1))
    for scale in (True, False):
        coords, info = x64(invariant.mds_coords, x, scale=scale)
        assert bool(info.ambiguous) and np.all(coords == 0.0)
    coords32, info32 = invariant.mds_coords(x.astype(np.float32))
    assert bool(info32.ambiguous) and np.all(np.asarray(coords32) == 0.0)
    cmds, cinfo = x64(invariant.classical_mds, np.zeros((32, 32)), 3)
    assert bool(cinfo.ambiguous) and np.all(cmds == 0.0)


def test_fewer_valid_points_than_coordinates_are_flagged(rng):
    x = skewed_cloud(rng, 32)
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    for n_valid in (2, 3):  # 3 points in 3D: a plane, whose normal is still well defined
        mask = np.arange(32) < n_valid
        coords, info = x64(invariant.mds_coords, x, mask)
        assert bool(info.ambiguous) == (n_valid < 3) and np.all(np.isfinite(coords))
        _, finfo = x64(invariant.pca_frames, x, group="E(3)", mask=mask)
        assert bool(finfo.ambiguous) == (n_valid < 3)
        # the n x n route needs k + 1 points: B has one zero eigenvalue per missing point
        _, cinfo = x64(invariant.classical_mds, d, 3, mask=mask)
        assert bool(cinfo.ambiguous)
    _, cinfo = x64(invariant.classical_mds, d, 3, mask=np.arange(32) < 4)
    assert not bool(cinfo.ambiguous)
