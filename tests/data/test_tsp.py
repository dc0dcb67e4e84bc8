import itertools
from pathlib import Path

import numpy as np
import pytest

from geojax.data import tsp
from geojax.data.tsp import (
    CONCORDE_MEAN_LENGTHS,
    KOOL_TEST_SEED,
    cache_name,
    integer_distances,
    is_permutation,
    random_instances,
    reference_tours,
    rounding_error_bound,
    solve_exact,
    solve_fast_tsp,
    solve_ortools,
    tour_length,
)


def brute_force_optimum(coords):
    """Shortest closed tour by enumerating all (n-1)! tours that start at city 0."""
    n = len(coords)
    tours = np.array([(0, *p) for p in itertools.permutations(range(1, n))])
    return tour_length(coords, tours).min()


def loop_length(coords, tour):
    return sum(np.hypot(*(coords[tour[(k + 1) % len(tour)]] - coords[tour[k]])) for k in range(len(tour)))


# ---- Instances and tours ----------------------------------------------------------------------


def test_instances_are_deterministic_uniform_prefix_stable_and_kool_compatible():
    a = random_instances(20, 50, 7)
    assert a.shape == (50, 20, 2) and a.dtype == np.float64
    np.testing.assert_array_equal(a, random_instances(20, 50, 7))
    np.testing.assert_array_equal(random_instances(20, 10, 7), a[:10])  # prefix of a larger set
    assert not np.allclose(random_instances(20, 50, 8), a)
    assert a.min() >= 0 and a.max() < 1 and abs(a.mean() - 0.5) < 0.03
    # Kool et al.'s generate_data.py: np.random.seed(seed); np.random.uniform(size=(N, n, 2))
    np.testing.assert_array_equal(
        random_instances(20, 3, KOOL_TEST_SEED), np.random.RandomState(1234).uniform(size=(3, 20, 2))
    )
    assert CONCORDE_MEAN_LENGTHS[20] == 3.84 and CONCORDE_MEAN_LENGTHS[50] == 5.70


def test_tour_length_unit_square_loop_reference_and_broadcasting():
    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    assert tour_length(square, np.array([0, 1, 2, 3])) == pytest.approx(4.0, abs=1e-15)
    assert tour_length(square, np.array([0, 2, 1, 3])) == pytest.approx(2 + 2 * np.sqrt(2), abs=1e-15)
    coords = random_instances(9, 6, 0)
    tours = np.stack([np.random.default_rng(i).permutation(9) for i in range(6)])
    got = tour_length(coords, tours)
    assert got.shape == (6,) and got.dtype == np.float64
    np.testing.assert_allclose(got, [loop_length(c, t) for c, t in zip(coords, tours)], rtol=1e-14)
    # one instance, many tours; and rotating / reversing a tour does not change its length
    many = tour_length(coords[0], tours)
    np.testing.assert_allclose(many, [loop_length(coords[0], t) for t in tours], rtol=1e-14)
    np.testing.assert_allclose(tour_length(coords, np.roll(tours[:, ::-1], 3, axis=1)), got, rtol=1e-14)


def test_is_permutation_and_invalid_tours_raise():
    np.testing.assert_array_equal(
        is_permutation(np.array([[0, 1, 2], [2, 0, 1], [0, 0, 2], [0, 1, 3], [-1, 0, 1]])),
        [True, True, False, False, False],
    )
    assert not is_permutation(np.array([0.0, 1.0, 2.0]))  # floats are not tours
    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    for bad in ([0, 1, 1, 3], [0, 1, 2, 4], [0.0, 1.0, 2.0, 3.0], [0, 1, 2]):
        with pytest.raises(ValueError, match="tour"):
            tour_length(square, np.array(bad))
    with pytest.raises(ValueError, match="coords"):
        tour_length(np.zeros((4, 3)), np.arange(4))


# ---- Solvers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [6, 7])
def test_exact_solver_matches_brute_force(n):
    pytest.importorskip("fast_tsp")
    for coords in random_instances(n, 4, 100 + n):
        tour = solve_exact(coords)
        assert tour[0] == 0 and is_permutation(tour)
        assert abs(tour_length(coords, tour) - brute_force_optimum(coords)) < 1e-9


def test_fast_tsp_rounding_precision_bound():
    """The optimum for the rounded distances is within n / scale of the true optimum, and any tour's
    rounded length is within n * 0.5 / scale of its true length (also for a coarse scale)."""
    pytest.importorskip("fast_tsp")
    for scale in (10_000, 100):
        for coords in random_instances(8, 3, 5):
            optimum = brute_force_optimum(coords)
            tour = solve_fast_tsp(coords, seconds=0.05, scale=scale)
            length = tour_length(coords, tour)
            assert optimum - 1e-12 <= length <= optimum + 2 * rounding_error_bound(8, scale)
            d = integer_distances(coords, scale)
            rounded = d[tour, np.roll(tour, -1)].sum() / scale
            assert abs(rounded - length) <= rounding_error_bound(8, scale)


def test_heuristics_give_valid_near_optimal_tours_for_n10():
    pytest.importorskip("fast_tsp")
    pytest.importorskip("ortools")
    for coords in random_instances(10, 2, 3):
        optimum = tour_length(coords, solve_exact(coords))
        for tour in (solve_fast_tsp(coords, seconds=0.05), solve_ortools(coords, seconds=0.1)):
            assert tour.shape == (10,) and tour[0] == 0 and is_permutation(tour)
            assert tour_length(coords, tour) <= 1.03 * optimum


def test_solver_input_checks():
    pytest.importorskip("fast_tsp")
    coords = random_instances(5, 1, 0)[0]
    with pytest.raises(ValueError, match="coords"):
        solve_exact(coords[:2])
    with pytest.raises(ValueError, match="coords"):
        solve_exact(random_instances(21, 1, 0)[0])  # beyond Held-Karp's n <= 20
    with pytest.raises(ValueError, match="scale"):
        solve_fast_tsp(np.array([[0, 0], [1, 0], [1, 1], [0, 1.0]]), seconds=0.05, scale=50_000)  # sqrt(2) 5e4 > 2^16
    with pytest.raises(ValueError, match="seconds"):
        solve_fast_tsp(coords, seconds=0.0)


# ---- Reference tours and their cache ----------------------------------------------------------


def fake_solver(calls):
    """A stand-in for a solver: the identity tour, counting calls."""

    def solve(coords, *, seconds=None, scale=None):
        calls.append(len(coords))
        return np.arange(len(coords))

    return solve


def refuse(*args, **kwargs):
    raise AssertionError("the solver must not run: the references should come from the cache")


def test_reference_tours_cache_round_trip_is_atomic(tmp_path, monkeypatch):
    pytest.importorskip("fast_tsp")
    coords = random_instances(8, 5, 11)
    first = reference_tours(coords, solver="exact", cache_dir=tmp_path, progress=False)
    assert first["tours"].shape == (5, 8) and first["tours"].dtype == np.int32
    assert first["lengths"].shape == (5,) and first["lengths"].dtype == np.float64
    np.testing.assert_allclose(first["lengths"], tour_length(coords, first["tours"]), rtol=1e-15)
    np.testing.assert_allclose(first["lengths"], [brute_force_optimum(c) for c in coords], atol=1e-9)
    assert (first["solver"], first["seconds"], first["scale"], first["from_cache"]) == ("exact", 0.0, 10_000, False)
    assert np.all(first["tours"][:, 0] == 0)
    files = sorted(p.name for p in Path(tmp_path).iterdir())
    assert files == [cache_name(coords, "exact", 0.0, 10_000)]  # no temporary files left behind
    assert files[0].startswith("tsp8_N5_") and files[0].endswith("_exact_0.0s_scale10000.npz")
    assert cache_name(coords, "exact", 0.01, 10_000) != cache_name(coords, "exact", 0.0100000001, 10_000)

    monkeypatch.setattr(tsp, "solve_exact", refuse)
    second = reference_tours(coords, solver="exact", cache_dir=tmp_path, progress=False)
    assert second["from_cache"]
    np.testing.assert_array_equal(second["tours"], first["tours"])
    np.testing.assert_array_equal(second["lengths"], first["lengths"])
    assert second["coords_sha256"] == first["coords_sha256"] and second["solver_version"].startswith("fast-tsp")


def test_mismatched_or_corrupt_cache_is_recomputed(tmp_path, monkeypatch):
    pytest.importorskip("fast_tsp")
    calls = []
    monkeypatch.setattr(tsp, "solve_fast_tsp", fake_solver(calls))
    coords = random_instances(6, 3, 1)
    reference_tours(coords, solver="fast_tsp", seconds=0.1, cache_dir=tmp_path, progress=False)
    assert len(calls) == 3
    path = tmp_path / cache_name(coords, "fast_tsp", 0.1, 10_000)
    # a file under this name but for other coordinates: detected by the SHA-256, recomputed
    other = random_instances(6, 3, 2)
    other_path = tmp_path / cache_name(other, "fast_tsp", 0.1, 10_000)
    reference_tours(other, solver="fast_tsp", seconds=0.1, cache_dir=tmp_path, progress=False)
    other_path.replace(path)
    with pytest.warns(UserWarning, match="different coordinates"):
        again = reference_tours(coords, solver="fast_tsp", seconds=0.1, cache_dir=tmp_path, progress=False)
    assert len(calls) == 9 and not again["from_cache"]
    np.testing.assert_allclose(again["lengths"], tour_length(coords, np.tile(np.arange(6), (3, 1))))
    assert reference_tours(coords, solver="fast_tsp", seconds=0.1, cache_dir=tmp_path, progress=False)["from_cache"]
    # a truncated file: unreadable, recomputed
    path.write_bytes(path.read_bytes()[:50])
    with pytest.warns(UserWarning, match="unreadable"):
        reference_tours(coords, solver="fast_tsp", seconds=0.1, cache_dir=tmp_path, progress=False)
    assert len(calls) == 12 and sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: random_instances(2, 5, 0), "n_cities"),
        (lambda: random_instances(5, 0, 0), "n_instances"),
        (lambda: random_instances(5, 5, -1), "seed"),
        (lambda: reference_tours(np.zeros((4, 5, 3)), solver="exact", progress=False), "coords"),
        (lambda: reference_tours(np.zeros((5, 2)), solver="exact", progress=False), "coords"),
        (lambda: reference_tours(np.zeros((4, 2, 2)), solver="exact", progress=False), "coords"),
        (lambda: reference_tours(random_instances(5, 2, 0), solver="concorde", progress=False), "solver"),
        (lambda: reference_tours(random_instances(5, 2, 0), solver="fast_tsp", progress=False), "seconds"),
        (lambda: reference_tours(random_instances(5, 2, 0), solver="ortools", seconds=-1.0), "seconds"),
        (lambda: reference_tours(random_instances(5, 2, 0), solver="exact", scale=0), "scale"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
