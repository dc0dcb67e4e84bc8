"""Adversarial clouds: equal eigenvalues, centrally and C2-symmetric clouds, chiral pairs, flat clouds."""

import jax
import numpy as np
import pytest

from geojax import invariant
from tests.conftest import relative_error
from tests.invariant.test_frames import averaged, features
from tests.invariant.test_mds import F64_BOUND, random_orthogonal, transform, x64


def set_distance(a, b):
    """Largest distance from a row of ``a`` to its nearest row of ``b`` (symmetrized)."""
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
    return max(d.min(axis=1).max(), d.min(axis=0).max())


def cylinder(radii=(1.0, 1.0)):
    """8 equally spaced angles on each of 4 rings: two exactly equal eigenvalues when radii are equal."""
    angles = np.arange(8) * 2 * np.pi / 8
    heights = np.linspace(-2.0, 2.0, 4)
    a, h = np.meshgrid(angles, heights)
    return np.stack([radii[0] * np.cos(a).ravel(), radii[1] * np.sin(a).ravel(), h.ravel()], axis=-1)


def helix(handed=1.0):
    t = np.linspace(0.0, 3.3 * np.pi, 32)
    r = 1.0 + 0.1 * t
    return np.stack([r * np.cos(t), r * np.sin(t), handed * 0.3 * t], axis=-1)


def test_cylinder_with_equal_eigenvalues_is_flagged(rng):
    x = cylinder() @ random_orthogonal(rng, 3).T
    coords, info = x64(invariant.mds_coords, x)
    _, finfo = x64(jax.jit(lambda a: invariant.frame_average(features, a, group="E(3)", return_info=True)), x)
    assert bool(info.ambiguous) and float(info.gap) < 1e-12 and bool(finfo.ambiguous)
    assert np.all(np.isfinite(coords))
    # a radius ratio of 1.001 separates the eigenvalues: resolved in float64, flagged in float32
    x = cylinder((1.0, 1.001)) @ random_orthogonal(rng, 3).T
    y = x @ random_orthogonal(rng, 3).T - 3.0
    cx, ix = x64(invariant.mds_coords, x)
    cy, _ = x64(invariant.mds_coords, y)
    assert not bool(ix.ambiguous) and relative_error(cy, cx) < 1e-9
    _, info32 = invariant.mds_coords(x.astype(np.float32))
    assert bool(info32.ambiguous)


def zero_skew_cloud(rng, n=32):
    """A cloud without symmetries whose first principal axis has an exactly zero third moment."""
    v, w = rng.gamma(2.0, size=n), rng.gamma(2.0, size=n)
    v, w = v - v.mean(), w - w.mean()
    w = w - (w @ v) / (v @ v) * v
    basis = np.stack([np.ones(n), v, w], 1)

    def project(a):  # orthogonal to 1, v, w: uncorrelated with the other axes, zero mean
        return a - basis @ np.linalg.lstsq(basis, a, rcond=None)[0]

    u1, q = project(rng.normal(size=n)), project(rng.normal(size=n))
    roots = np.roots([np.sum(q**3), 3 * np.sum(u1 * q * q), 3 * np.sum(u1 * u1 * q), np.sum(u1**3)])
    u = project(u1 + roots[np.argmin(np.abs(roots.imag))].real * q)  # sum (u1 + t q)^3 = 0
    return np.stack([3.0 * u / np.linalg.norm(u), 2.0 * v / np.linalg.norm(v), w / np.linalg.norm(w)], 1)


def test_accidentally_zero_skewness_is_resolved_by_a_fourth_moment(rng):
    x = zero_skew_cloud(rng) @ random_orthogonal(rng, 3).T
    coords, info = x64(invariant.mds_coords, x)
    assert not bool(info.ambiguous) and abs(np.mean(coords[:, 0] ** 3)) < 1e-12
    np.testing.assert_array_equal(info.sign_source, [1, 0, 0])  # anchored to a skew-fixed column
    for det in (1, -1):  # no symmetry, no label rule: invariant per point, permutations included
        y, perm, _ = transform(rng, x, det)
        moved, _ = x64(invariant.mds_coords, y)
        assert relative_error(moved, coords[perm]) < F64_BOUND


def test_centrally_symmetric_cloud_uses_the_fallback_and_stays_invariant(rng):
    half = rng.gamma(2.0, size=(16, 3)) * [3.0, 2.0, 1.0]
    x = np.concatenate([half, -half]) @ random_orthogonal(rng, 3).T  # every odd moment vanishes
    coords, info = x64(invariant.mds_coords, x)
    assert not bool(info.ambiguous)
    np.testing.assert_array_equal(info.sign_source, [2, 1, 1])  # root by largest entry, the rest relative to it
    for det in (1, -1, 1, -1, 1, -1, 1, -1):  # per point, for fixed labels: ties are not broken by rounding
        moved, _ = x64(invariant.mds_coords, 2.0 * x @ random_orthogonal(rng, 3, det).T + rng.normal(size=3))
        assert relative_error(moved, coords) < F64_BOUND
    perm = rng.permutation(32)
    permuted, _ = x64(invariant.mds_coords, x[perm] @ random_orthogonal(rng, 3).T)
    assert set_distance(permuted, coords) < 1e-10  # as a set (the symmetry x -> -x relabels points)

    # the per-column largest-entry rule alone is not enough: relabel the pair that decides column 0
    first = int(np.argmax(np.abs(coords[:16, 0])))
    swap = np.arange(32)
    swap[[first, first + 16]] = swap[[first + 16, first]]
    by_max, _ = x64(invariant.mds_coords, x, sign="max")
    by_max_swapped, _ = x64(invariant.mds_coords, x[swap], sign="max")
    skew_swapped, _ = x64(invariant.mds_coords, x[swap])
    assert set_distance(by_max_swapped, by_max) > 0.1
    assert set_distance(skew_swapped, coords) < 1e-10


def test_c2_symmetric_cloud_mixes_all_three_rules(rng):
    half = rng.normal(size=(16, 3)) * [3.0, 2.0, 1.0]
    half[:, 2] = rng.gamma(2.0, size=16)  # skewed along the symmetry axis
    x = np.concatenate([half, half * [-1.0, -1.0, 1.0]])  # a half-turn about z is a symmetry
    r = random_orthogonal(rng, 3)
    coords, info = x64(invariant.mds_coords, x @ r.T)
    assert not bool(info.ambiguous)
    assert sorted(info.sign_source.tolist()) == [0, 1, 2]
    perm = rng.permutation(32)
    for det in (1, -1):
        moved, _ = x64(invariant.mds_coords, 0.5 * x[perm] @ random_orthogonal(rng, 3, det).T + 2.0)
        assert set_distance(moved, coords) < 1e-10


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_d2_symmetric_cloud_is_decided_by_the_triple_product(dtype, rng):
    """Half-turns about all three principal axes: no single or pairwise odd moment survives, and
    the largest entries of two relabelings can pick mirror images; the triple product cannot."""
    base = rng.normal(size=(8, 3)) * [3.0, 2.0, 1.0]
    x = np.concatenate([base, base * [-1.0, -1.0, 1.0], base * [-1.0, 1.0, -1.0], base * [1.0, -1.0, -1.0]])
    x = x @ random_orthogonal(rng, 3).T
    run = x64 if dtype == np.float64 else (lambda f, a: f(a.astype(np.float32)))
    coords, info = run(invariant.mds_coords, x)
    assert not bool(info.ambiguous)
    np.testing.assert_array_equal(info.sign_source, [2, 2, 4])
    assert np.mean(np.prod(np.asarray(coords, np.float64), axis=1)) > 1e-3  # the sign the triple product fixes
    bound = 1e-10 if dtype == np.float64 else 1e-4
    for det in (1, -1, 1, -1, 1, -1, 1, -1):
        moved, _ = run(invariant.mds_coords, 0.5 * x[rng.permutation(32)] @ random_orthogonal(rng, 3, det).T + 2.0)
        assert set_distance(moved, coords) < bound  # the same set: the symmetry relabels points


def test_chiral_pair_is_separated_only_with_proper(rng):
    right = helix(1.0) @ random_orthogonal(rng, 3).T
    left = helix(-1.0) @ random_orthogonal(rng, 3).T
    c_right, info = x64(invariant.mds_coords, right)
    c_left, _ = x64(invariant.mds_coords, left)
    assert not bool(info.ambiguous)
    assert relative_error(c_left, c_right) < F64_BOUND  # O(3) invariant: mirror images coincide
    p_right, _ = x64(invariant.mds_coords, right, proper=True)
    p_left, _ = x64(invariant.mds_coords, left, proper=True)
    assert set_distance(p_left, p_right) > 0.05  # SO(3) invariant: they differ, even as sets
    turned, _ = x64(invariant.mds_coords, right @ random_orthogonal(rng, 3, 1).T + 4.0, proper=True)
    assert relative_error(turned, p_right) < F64_BOUND
    # frame averaging: E(3) averages coincide, SE(3) averages do not
    e3 = [x64(averaged(features, g), c) for g in ("E(3)", "SE(3)") for c in (right, left)]
    assert relative_error(e3[1], e3[0]) < F64_BOUND and relative_error(e3[3], e3[2]) > 1e-3


def test_flat_clouds(rng):
    plane = np.concatenate([rng.gamma(2.0, size=(32, 2)) * [2.0, 1.0], np.zeros((32, 1))], axis=1)
    x = plane @ random_orthogonal(rng, 3).T
    coords, info = x64(invariant.mds_coords, x)
    moved, _ = x64(invariant.mds_coords, x @ random_orthogonal(rng, 3, -1).T + 1.0)
    assert not bool(info.ambiguous)  # one zero eigenvalue is simple: the normal is well defined
    assert np.abs(coords[:, 2]).max() < 1e-12
    assert relative_error(moved, coords) < F64_BOUND
    line = np.outer(rng.gamma(2.0, size=32), rng.normal(size=3))
    _, info3 = x64(invariant.mds_coords, line)
    line_coords, info1 = x64(invariant.mds_coords, line, k=1)
    assert bool(info3.ambiguous) and not bool(info1.ambiguous)  # two zero eigenvalues: only k = 1 is defined
    moved_line, _ = x64(invariant.mds_coords, -3.0 * line + 1.0, k=1)
    assert relative_error(moved_line, line_coords) < F64_BOUND


@pytest.mark.parametrize("n_valid", [0, 1, 2])
def test_too_few_valid_points_are_flagged_not_garbage(n_valid, rng):
    x = rng.normal(size=(32, 3))
    mask = np.arange(32) < n_valid
    coords, info = x64(invariant.mds_coords, x, mask)
    assert bool(info.ambiguous) and int(info.n_valid) == n_valid
    assert np.all(np.isfinite(coords)) and np.all(coords[~mask] == 0.0)
