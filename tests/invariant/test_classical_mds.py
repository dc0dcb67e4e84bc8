"""classical_mds on distance matrices: references, agreement with mds_coords, masks, non-Euclidean D.

The n x n route goes through distances, which lose a few digits: bounds here are 1e-9 in float64.
"""

import numpy as np
import pytest
from scipy.sparse.csgraph import shortest_path

from geojax import invariant
from tests.conftest import relative_error
from tests.invariant.test_mds import align_signs, random_orthogonal, skewed_cloud, x64


def distances(x):
    return np.linalg.norm(x[..., :, None, :] - x[..., None, :, :], axis=-1)


def classical_reference(D, k):
    """Double centring of D^2 and eigh of the n x n matrix in NumPy, negative eigenvalues clipped."""
    n = len(D)
    j = np.eye(n) - np.ones((n, n)) / n
    lam, u = np.linalg.eigh(-0.5 * j @ (D * D) @ j)
    lam, u = lam[::-1][:k], u[:, ::-1][:, :k]
    return u * np.sqrt(np.maximum(lam, 0.0)), lam


def test_euclidean_distances_give_mds_coords_with_the_same_signs(rng):
    x = skewed_cloud(rng, 32)
    coords, info = x64(invariant.classical_mds, distances(x), 3)
    points, pinfo = x64(invariant.mds_coords, x, scale=False)
    reference, lam = classical_reference(distances(x), 3)
    assert relative_error(coords, points) < 1e-9  # same canonical signs, no alignment
    assert relative_error(align_signs(coords, reference), reference) < 1e-9
    assert relative_error(info.eigenvalues, lam) < 1e-10 and relative_error(info.eigenvalues, pinfo.eigenvalues) < 1e-10
    assert not bool(info.ambiguous) and np.all(info.sign_source == 0)
    assert info.centroid is None and info.frame is None
    scaled, sinfo = x64(invariant.classical_mds, 2.5 * distances(x), 3, scale=True)
    unit, _ = x64(invariant.mds_coords, x)
    assert relative_error(scaled, unit) < 1e-9 and float(sinfo.rms) == pytest.approx(2.5 * float(pinfo.rms))


def test_max_sign_rule_reproduces_sklearn_classical_mds(rng):
    manifold = pytest.importorskip("sklearn.manifold")
    if not hasattr(manifold, "ClassicalMDS"):
        pytest.skip("sklearn.manifold.ClassicalMDS needs scikit-learn >= 1.8")
    D = distances(skewed_cloud(rng, 32))
    model = manifold.ClassicalMDS(n_components=3, metric="precomputed").fit(D)
    coords, info = x64(invariant.classical_mds, D, 3, sign="max")
    assert relative_error(coords, model.embedding_) < 1e-9
    assert relative_error(info.eigenvalues, model.eigenvalues_) < 1e-10


def test_permutation_invariance_of_distance_inputs(rng):
    D = distances(skewed_cloud(rng, 32))
    perm = rng.permutation(32)
    coords, _ = x64(invariant.classical_mds, D, 3)
    permuted, _ = x64(invariant.classical_mds, D[perm][:, perm], 3)
    assert relative_error(permuted, coords[perm]) < 1e-9


def test_graph_geodesics_clip_negative_eigenvalues(rng):
    x = rng.uniform(size=(32, 2)) * [3.0, 1.0]
    D = distances(x)
    knn = np.argsort(D, axis=1)[:, 1:5]
    graph = np.zeros_like(D)
    rows = np.repeat(np.arange(32), 4)
    graph[rows, knn.ravel()] = D[rows, knn.ravel()]
    geodesic = shortest_path(graph, directed=False)
    assert np.all(np.isfinite(geodesic))
    coords, info = x64(invariant.classical_mds, geodesic, 31)
    reference, lam = classical_reference(geodesic, 31)
    assert np.any(lam < -1e-6)  # geodesic distances are not Euclidean
    np.testing.assert_allclose(info.eigenvalues, lam, rtol=0, atol=1e-9 * lam[0])
    assert np.all(np.isfinite(coords)) and np.all(coords[:, lam < 0] == 0.0)
    top = lam > 1e-6 * lam[0]
    assert relative_error(align_signs(coords[:, top], reference[:, top]), reference[:, top]) < 1e-8
    two, info2 = x64(invariant.classical_mds, geodesic, 2)
    assert not bool(info2.ambiguous) and relative_error(two, coords[:, :2]) < 1e-8


def test_padding_never_changes_valid_rows(rng):
    x = skewed_cloud(rng, 32)
    padded_x = np.concatenate([x, rng.normal(size=(8, 3))])
    order = rng.permutation(40)
    valid = order < 32
    D = distances(padded_x[order])
    D[~valid, 0] = np.nan  # padding may hold anything
    D[0, ~valid] = np.inf
    coords, info = x64(invariant.classical_mds, D, 3, mask=valid)
    ref, iref = x64(invariant.classical_mds, distances(x), 3)
    assert np.all(np.isfinite(coords)) and np.all(coords[~valid] == 0.0)
    assert relative_error(coords[valid], ref[order[valid]]) < 1e-9
    assert not bool(info.ambiguous) and int(info.n_valid) == 32
    assert relative_error(info.eigenvalues, iref.eigenvalues) < 1e-10


def test_rotation_and_translation_of_the_points_do_not_matter(rng):
    x = skewed_cloud(rng, 32)
    y = x @ random_orthogonal(rng, 3, -1).T + 5.0
    a, _ = x64(invariant.classical_mds, distances(x), 3)
    b, _ = x64(invariant.classical_mds, distances(y), 3)
    assert relative_error(b, a) < 1e-9
