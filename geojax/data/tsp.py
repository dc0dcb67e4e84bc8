"""Euclidean TSP instances (Kool et al. protocol) and reference tours from off-the-shelf solvers.

Instances
---------
Kool, van Hoof and Welling (2019, "Attention, learn to solve routing problems!") draw the ``n``
cities of every instance independently and uniformly in the unit square, and evaluate on 10,000
test instances per size. Their ``generate_data.py`` seeds NumPy's legacy global generator before
each data set (``np.random.seed(seed)``, test sets ``seed = 1234``, validation ``4321``) and draws
``np.random.uniform(size=(N, n, 2))``. :func:`random_instances` draws exactly that stream (from a
private ``np.random.RandomState(seed)``, which is bit-compatible across NumPy versions), so
``random_instances(20, 10_000, KOOL_TEST_SEED)`` are their TSP20 test instances, on which
Concorde's optimal tours have the mean lengths in :data:`CONCORDE_MEAN_LENGTHS` (their Table 1).

Tours
-----
A tour is an int array ``[n]`` holding a permutation of ``0..n-1``; it is closed (the salesman
returns from the last city to the first), so its length is

    L(coords, tour) = sum_k |coords[tour[k + 1 mod n]] - coords[tour[k]]|.

The solvers return tours that start at city 0 (the direction is the solver's).

Solvers and their precision
---------------------------
Both solver packages take **integer** distances, so the Euclidean distances are scaled and
rounded, ``D_int = rint(scale * D)`` (:func:`integer_distances`). Every rounded edge is off by at
most ``0.5 / scale``, hence

* the length of any tour under ``D_int / scale`` is within ``n * 0.5 / scale`` of its true length
  (:func:`rounding_error_bound`), and
* a tour optimal for ``D_int`` is at most ``n / scale`` (twice the bound) longer than the true
  optimum.

The lengths this module reports are always the *true* float64 Euclidean lengths of the returned
tours (:func:`tour_length`), never the rounded objective. The solvers (``solver`` of
:func:`reference_tours`):

* ``"exact"``: ``fast_tsp.solve_tsp_exact(D_int)``, the Held-Karp dynamic programme
  (``O(2^n n^2)`` time, ``n <= 20``: about 0.07 s per instance at ``n = 20``). Optimal for
  ``D_int``, so within ``n / scale`` of the true optimum. Default ``scale = 10**4``.
* ``"fast_tsp"``: ``fast_tsp.find_tour(D_int, duration_seconds=seconds, max_threads=1)``, a
  Lin-Kernighan style local search with kicks that uses its whole wall-clock budget. fast-tsp
  solves ``n <= 20`` exactly itself (and then returns at once, whatever ``seconds``). Default
  ``scale = 10**4``.
* ``"ortools"``: the OR-Tools routing solver with one vehicle at city 0, first solution
  ``PATH_CHEAPEST_ARC``, then ``GUIDED_LOCAL_SEARCH`` until the time limit ``seconds`` (GLS always
  runs to the limit). Default ``scale = 10**6``.

Measured on one core (first 20-100 of Kool et al.'s test instances): at ``n = 20`` fast-tsp's
tours equal the exact ones; at ``n = 50`` ``find_tour`` with 0.01 s and with 0.5 s gives tours of
the same rounded length on every instance, while OR-Tools' GLS is 0.8 / 0.4 / 0.1 % longer on
average after 0.5 / 1 / 2 s. Recommended references: ``"exact"`` for ``n <= 20`` and
``"fast_tsp"`` with ``seconds=0.1`` above.

fast-tsp stores distances as ``uint16``: ``scale * max distance`` must be ``<= 65535``, i.e.
``scale <= 46340`` for cities in the unit square (default ``10**4``: ``n * 0.5 / scale = 0.001``
for ``n = 20`` and ``0.0025`` for ``n = 50``, under 0.05 % of the mean tour length). OR-Tools uses
``int64`` costs, so its default scale is ``10**6``. Both heuristics stop on a *wall-clock* budget
and make random choices, so their tours can differ between runs and machines: :func:`reference_tours`
caches them on disk so that an experiment is evaluated against one fixed set of references.

``fast-tsp`` (MIT licence) and ``ortools`` (Apache-2.0) are optional: they are imported when a
solver is called, with an :class:`ImportError` naming the package if it is missing.
"""

from __future__ import annotations

import hashlib
import importlib
import warnings
import zipfile
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from geojax.data.npz_cache import write_npz_atomic

KOOL_TEST_SEED = 1234
"""Seed of Kool et al.'s test sets (10,000 instances per size): ``random_instances(n, 10_000, 1234)``."""
KOOL_VALIDATION_SEED = 4321
"""Seed of Kool et al.'s validation sets."""
CONCORDE_MEAN_LENGTHS = {20: 3.84, 50: 5.70, 100: 7.76}
"""Mean optimal tour length (Concorde) on Kool et al.'s 10,000 test instances per size (their Table 1)."""
SOLVERS = ("exact", "fast_tsp", "ortools")
"""Solver names accepted by :func:`reference_tours`."""
FAST_TSP_SCALE = 10_000
"""Default distance scale for fast-tsp (``uint16`` distances: at most 46340 for the unit square)."""
ORTOOLS_SCALE = 1_000_000
"""Default distance scale for OR-Tools (``int64`` costs)."""
DEFAULT_SCALES = {"exact": FAST_TSP_SCALE, "fast_tsp": FAST_TSP_SCALE, "ortools": ORTOOLS_SCALE}
MAX_EXACT_CITIES = 20
"""Largest ``n`` for :func:`solve_exact` (Held-Karp: ~0.07 s and ~2^n n words of memory at ``n = 20``)."""
_UINT16_MAX = 2**16 - 1
_INT64_SAFE = 2**62  # the largest tour cost OR-Tools may have to add up, with room to spare
_CACHE_KEYS = ("tours", "lengths", "coords_sha256", "solver", "seconds", "scale", "solver_version")


# ---- Instances and tours ----------------------------------------------------------------------


def random_instances(n_cities: int, n_instances: int, seed: int) -> np.ndarray:
    """``n_instances`` instances of ``n_cities`` cities uniform in the unit square: ``[N, n, 2]`` float64.

    The draws are ``np.random.RandomState(seed).uniform(size=(N, n, 2))``, the stream of Kool et
    al.'s ``generate_data.py`` (seeded per data set): with ``seed = KOOL_TEST_SEED`` and
    ``N = 10_000`` these are their test instances. The same arguments give the same bytes on every
    machine, and a smaller ``n_instances`` gives a prefix of a larger one.

    Raises:
      ValueError: ``n_cities < 3``, ``n_instances < 1`` or ``seed`` not an int in ``[0, 2**32)``.
    """
    if not isinstance(n_cities, (int, np.integer)) or n_cities < 3:
        raise ValueError(f"n_cities must be an int >= 3, got {n_cities!r}")
    if not isinstance(n_instances, (int, np.integer)) or n_instances < 1:
        raise ValueError(f"n_instances must be an int >= 1, got {n_instances!r}")
    if not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an int in [0, 2**32), got {seed!r}")
    return np.random.RandomState(int(seed)).uniform(size=(int(n_instances), int(n_cities), 2))


def is_permutation(tour: np.ndarray) -> np.ndarray:
    """Whether each tour ``[..., n]`` is a permutation of ``0..n-1``: bool ``[...]``.

    Non-integer arrays (float, bool) are never permutations.

    Raises:
      ValueError: ``tour`` is 0-dimensional.
    """
    tour = np.asarray(tour)
    if tour.ndim == 0:
        raise ValueError(f"tour: expected shape [..., n], got a scalar {tour!r}")
    if not np.issubdtype(tour.dtype, np.integer):
        return np.zeros(tour.shape[:-1], bool)
    return np.all(np.sort(tour, axis=-1) == np.arange(tour.shape[-1]), axis=-1)


def tour_length(coords: np.ndarray, tour: np.ndarray) -> np.ndarray:
    """Length of the closed tour ``sum_k |x[tour[k+1 mod n]] - x[tour[k]]|``, float64 ``[...]``.

    Args:
      coords: cities ``[..., n, 2]``.
      tour: ``[..., n]`` integer permutations of ``0..n-1``; the leading axes broadcast with those
        of ``coords`` (one instance, many tours or the other way round).

    Raises:
      ValueError: ``coords`` not ``[..., n, 2]``; ``tour`` not ``[..., n]`` or some tour not a
        permutation of ``0..n-1``; leading axes that do not broadcast.
    """
    coords = np.asarray(coords, np.float64)
    tour = np.asarray(tour)
    if coords.ndim < 2 or coords.shape[-1] != 2:
        raise ValueError(f"coords: expected shape [..., n, 2], got {coords.shape}")
    n = coords.shape[-2]
    if tour.ndim < 1 or tour.shape[-1] != n:
        raise ValueError(f"tour: expected shape [..., n] with n={n} (from coords), got {tour.shape}")
    ok = is_permutation(tour)
    if not np.all(ok):
        first = np.asarray(tour).reshape(-1, n)[np.flatnonzero(~ok.reshape(-1))[0]]
        raise ValueError(
            f"tour: expected permutations of 0..{n - 1} (integer dtype), got {int(np.size(ok) - ok.sum())} "
            f"invalid of {np.size(ok)}, e.g. {first.tolist()} (dtype {tour.dtype})"
        )
    try:
        batch = np.broadcast_shapes(coords.shape[:-2], tour.shape[:-1])
    except ValueError as e:
        raise ValueError(
            f"coords {coords.shape} and tour {tour.shape}: leading axes do not broadcast ([..., n, 2] vs [..., n])"
        ) from e
    coords = np.broadcast_to(coords, (*batch, n, 2))
    tour = np.broadcast_to(tour, (*batch, n))
    ordered = np.take_along_axis(coords, tour[..., None].astype(np.intp), axis=-2)
    return np.linalg.norm(np.roll(ordered, -1, axis=-2) - ordered, axis=-1).sum(axis=-1)


# ---- Single-instance solvers ------------------------------------------------------------------


def rounding_error_bound(n_cities: int, scale: int) -> float:
    """``n * 0.5 / scale``: how far the rounded length of any tour can be from its true length.

    A tour optimal for the rounded distances is at most twice this longer than the true optimum.
    """
    return n_cities * 0.5 / scale


def integer_distances(coords: np.ndarray, scale: int) -> np.ndarray:
    """``rint(scale * |x_i - x_j|)``: the rounded, scaled distance matrix ``[n, n]`` int64 of ``coords [n, 2]``.

    Symmetric with a zero diagonal (the triangle inequality may fail by one unit after rounding).

    Raises:
      ValueError: ``coords`` not ``[n, 2]`` with ``n >= 3`` finite values, or ``scale`` not an int ``>= 1``.
    """
    coords = _check_instance(coords)
    _check_scale(scale)
    d = np.linalg.norm(coords[:, None, :] - coords[None, :, :], axis=-1)
    return np.rint(d * scale).astype(np.int64)


def solve_exact(coords: np.ndarray, *, scale: int = FAST_TSP_SCALE) -> np.ndarray:
    """An optimal tour of ``coords [n, 2]`` for the rounded distances (Held-Karp in fast-tsp): int64 ``[n]``.

    ``fast_tsp.solve_tsp_exact`` on :func:`integer_distances`; the tour starts at city 0. Its true
    length is at most ``n / scale`` above the true optimum (see the module docstring).

    Raises:
      ValueError: bad ``coords``, ``n > MAX_EXACT_CITIES`` (20), or a ``scale`` too large for ``uint16``.
      ImportError: fast-tsp is not installed.
    """
    coords = _check_instance(coords)
    if len(coords) > MAX_EXACT_CITIES:
        raise ValueError(
            f"coords: the exact solver handles at most {MAX_EXACT_CITIES} cities (O(2^n n^2) time), got {len(coords)}"
        )
    fast_tsp = _import("fast_tsp", "fast-tsp")
    return _start_at_zero(fast_tsp.solve_tsp_exact(_uint16_distances(coords, scale)))


def solve_fast_tsp(coords: np.ndarray, *, seconds: float = 0.1, scale: int = FAST_TSP_SCALE) -> np.ndarray:
    """A near-optimal tour of ``coords [n, 2]`` from fast-tsp's local search: int64 ``[n]``, from city 0.

    ``fast_tsp.find_tour(integer_distances(coords, scale), duration_seconds=seconds, max_threads=1)``:
    the whole wall-clock budget is used for ``n > 20``; fast-tsp solves ``n <= 20`` exactly and
    returns at once.

    Raises:
      ValueError: bad ``coords``, ``seconds <= 0`` or a ``scale`` too large for ``uint16``.
      ImportError: fast-tsp is not installed.
    """
    coords = _check_instance(coords)
    _check_seconds(seconds)
    fast_tsp = _import("fast_tsp", "fast-tsp")
    d = _uint16_distances(coords, scale)
    return _start_at_zero(fast_tsp.find_tour(d, duration_seconds=float(seconds), max_threads=1))


def solve_ortools(coords: np.ndarray, *, seconds: float = 2.0, scale: int = ORTOOLS_SCALE) -> np.ndarray:
    """A near-optimal tour of ``coords [n, 2]`` from OR-Tools' routing solver: int64 ``[n]``, from city 0.

    One vehicle at depot 0, arc costs :func:`integer_distances` (a transit matrix, no Python
    callbacks during the search), first solution ``PATH_CHEAPEST_ARC``, then
    ``GUIDED_LOCAL_SEARCH`` until the time limit ``seconds`` (GLS always runs to the limit).

    Raises:
      ValueError: bad ``coords``, ``seconds <= 0`` or a ``scale`` that could overflow ``int64`` costs.
      ImportError: ortools is not installed.
      RuntimeError: OR-Tools returned no solution.
    """
    coords = _check_instance(coords)
    _check_seconds(seconds)
    d = integer_distances(coords, scale)
    n = len(coords)
    if int(d.max()) * n >= _INT64_SAFE:
        raise ValueError(f"scale={scale!r} makes tour costs up to {int(d.max()) * n}, too close to the int64 limit")
    pywrapcp = _import("ortools.constraint_solver.pywrapcp", "ortools")
    enums = _import("ortools.constraint_solver.routing_enums_pb2", "ortools")
    manager = pywrapcp.RoutingIndexManager(n, 1, 0)
    routing = pywrapcp.RoutingModel(manager)
    # routing indices equal node indices for one vehicle with depot 0 (the end is an extra index n)
    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(d.tolist()))
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = enums.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = enums.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromNanoseconds(max(1, round(float(seconds) * 1e9)))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        raise RuntimeError(f"OR-Tools found no tour for {n} cities within {seconds} s (status {routing.status()})")
    tour, index = [], routing.Start(0)
    while not routing.IsEnd(index):
        tour.append(manager.IndexToNode(index))
        index = solution.Value(routing.NextVar(index))
    return _start_at_zero(tour)


# ---- Reference tours for a data set, cached ---------------------------------------------------


def coords_sha256(coords: np.ndarray) -> str:
    """SHA-256 (hex) of ``coords`` as C-ordered little-endian float64 together with its shape."""
    coords = np.ascontiguousarray(coords, dtype="<f8")
    return hashlib.sha256(repr(coords.shape).encode() + coords.tobytes()).hexdigest()


def cache_name(coords: np.ndarray, solver: str, seconds: float, scale: int) -> str:
    """File name of the cached references: ``tsp{n}_N{N}_{sha256[:12]}_{solver}_{seconds!r}s_scale{scale}.npz``
    (``repr`` of the float: distinct time limits never share a file)."""
    coords = np.asarray(coords)
    n_instances, n = coords.shape[:2]
    return f"tsp{n}_N{n_instances}_{coords_sha256(coords)[:12]}_{solver}_{float(seconds)!r}s_scale{scale}.npz"


def reference_tours(
    coords: np.ndarray,
    *,
    solver: str,
    seconds: float | None = None,
    cache_dir: str | Path | None = None,
    scale: int | None = None,
    progress: bool = True,
) -> dict:
    """Solve every instance of ``coords [N, n, 2]`` with ``solver``, with an on-disk cache.

    Args:
      coords: instances ``[N, n, 2]`` (:func:`random_instances`), ``n >= 3``, finite.
      solver: ``"exact"`` (:func:`solve_exact`, ``n <= 20``), ``"fast_tsp"`` (:func:`solve_fast_tsp`)
        or ``"ortools"`` (:func:`solve_ortools`).
      seconds: time limit per instance for the heuristics (``> 0``, required); ignored by
        ``"exact"`` (recorded as ``0.0``).
      cache_dir: where to keep ``cache_dir/<cache_name(...)>`` (created if missing); ``None``: no cache.
        A cached file is used only if it holds valid tours for exactly these ``coords`` (checked by
        SHA-256) and settings; an unreadable or mismatched file is recomputed and overwritten,
        with a warning. Files are written to a temporary name in ``cache_dir`` and renamed
        (``os.replace``), so a crash never leaves a half-written cache file.
      scale: distance scale (see the module docstring); ``None``: ``DEFAULT_SCALES[solver]``.
      progress: show a tqdm progress bar while solving.

    Returns:
      ``{"tours": [N, n] int32 (each starts at city 0), "lengths": [N] float64 (true Euclidean
      lengths), "solver", "seconds", "scale", "coords_sha256", "solver_version": str,
      "from_cache": bool}``.

    Raises:
      ValueError: ``coords`` not ``[N, n, 2]`` with ``n >= 3`` finite values; unknown ``solver``;
        ``seconds`` missing or ``<= 0`` for a heuristic; bad ``scale``; as the solvers.
      ImportError: the solver's package is not installed.
    """
    coords = np.asarray(coords, np.float64)
    if coords.ndim != 3 or coords.shape[-1] != 2 or coords.shape[0] < 1 or coords.shape[1] < 3:
        raise ValueError(f"coords: expected shape [N, n, 2] with N >= 1 and n >= 3, got {coords.shape}")
    if not np.all(np.isfinite(coords)):
        raise ValueError("coords: expected finite values, got NaN or inf")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if solver == "exact":
        seconds = 0.0
    else:
        _check_seconds(seconds, f" for solver {solver!r}")
        seconds = float(seconds)
    scale = DEFAULT_SCALES[solver] if scale is None else scale
    _check_scale(scale)
    scale = int(scale)
    digest = coords_sha256(coords)
    settings = {"solver": solver, "seconds": seconds, "scale": scale}
    path = None if cache_dir is None else Path(cache_dir) / cache_name(coords, solver, seconds, scale)
    if path is not None and path.exists():
        cached, problem = _read_cache(path, coords, digest, settings)
        if cached is not None:
            return cached
        warnings.warn(f"{path}: {problem}; recomputing the reference tours", stacklevel=2)
    n_instances, n = coords.shape[:2]
    tours = np.empty((n_instances, n), np.int32)
    for i in tqdm(range(n_instances), desc=f"{solver} TSP{n}", unit="instance", disable=not progress):
        tours[i] = _solve_one(coords[i], solver, seconds, scale)
    result = {
        "tours": tours,
        "lengths": tour_length(coords, tours),
        **settings,
        "coords_sha256": digest,
        "solver_version": _solver_version(solver),
    }
    if path is not None:
        _write_atomic(path, result)
    return {**result, "from_cache": False}


# ---- Helpers ----------------------------------------------------------------------------------


def _solve_one(coords: np.ndarray, solver: str, seconds: float, scale: int) -> np.ndarray:
    """Dispatch by name (looked up at call time, so the solvers can be replaced in tests)."""
    if solver == "exact":
        return solve_exact(coords, scale=scale)
    if solver == "fast_tsp":
        return solve_fast_tsp(coords, seconds=seconds, scale=scale)
    return solve_ortools(coords, seconds=seconds, scale=scale)


def _read_cache(path: Path, coords: np.ndarray, digest: str, settings: dict) -> tuple[dict | None, str]:
    """``(result, "")`` if ``path`` holds valid references for ``coords`` and ``settings``, else ``(None, why)``."""
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in _CACHE_KEYS if k not in f.files]
            if missing:
                return None, f"missing arrays {missing}"
            data = {k: f[k] for k in _CACHE_KEYS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        return None, f"unreadable ({type(e).__name__}: {e})"
    if str(data["coords_sha256"]) != digest:
        return None, "written for different coordinates (SHA-256 mismatch)"
    got = {"solver": str(data["solver"]), "seconds": float(data["seconds"]), "scale": int(data["scale"])}
    if got != settings:
        return None, f"written with settings {got}, expected {settings}"
    tours = data["tours"]
    if tours.shape != coords.shape[:2] or not np.all(is_permutation(tours)):
        return None, f"tours of shape {tours.shape} are not permutations of shape {coords.shape[:2]}"
    lengths = tour_length(coords, tours)
    if data["lengths"].shape != lengths.shape or not np.allclose(data["lengths"], lengths, rtol=1e-12, atol=0):
        return None, "stored lengths do not match the tours"
    result = {
        "tours": tours.astype(np.int32),
        "lengths": lengths,
        **settings,
        "coords_sha256": digest,
        "solver_version": str(data["solver_version"]),
        "from_cache": True,
    }
    return result, ""


def _write_atomic(path: Path, result: dict) -> None:
    write_npz_atomic(path, {k: result[k] for k in _CACHE_KEYS})


def _check_instance(coords: np.ndarray) -> np.ndarray:
    coords = np.asarray(coords, np.float64)
    if coords.ndim != 2 or coords.shape[1] != 2 or coords.shape[0] < 3:
        raise ValueError(f"coords: expected shape [n, 2] with n >= 3, got {coords.shape}")
    if not np.all(np.isfinite(coords)):
        raise ValueError("coords: expected finite values, got NaN or inf")
    return coords


def _check_scale(scale: int) -> None:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"scale must be an int >= 1, got {scale!r}")


def _check_seconds(seconds: float | None, context: str = "") -> None:
    is_number = isinstance(seconds, (int, float, np.floating, np.integer)) and not isinstance(seconds, bool)
    if not is_number or not 0 < seconds < float("inf"):
        raise ValueError(f"seconds must be a finite number > 0{context}, got {seconds!r}")


def _uint16_distances(coords: np.ndarray, scale: int) -> np.ndarray:
    """:func:`integer_distances`, checked against fast-tsp's ``uint16`` limit."""
    d = integer_distances(coords, scale)
    if d.max() > _UINT16_MAX:
        raise ValueError(
            f"scale={scale!r} gives distances up to {int(d.max())} > {_UINT16_MAX} (fast-tsp's uint16 limit); "
            f"expected scale <= {int(scale * _UINT16_MAX / d.max())} for these coords (46340 for the unit square)"
        )
    return d


def _start_at_zero(tour) -> np.ndarray:
    tour = np.asarray(tour, np.int64)
    return np.roll(tour, -int(np.flatnonzero(tour == 0)[0]))


def _import(module: str, package: str):
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{package} is needed for this TSP solver but is not installed: pip install {package}") from e


def _solver_version(solver: str) -> str:
    if solver == "ortools":
        return "ortools " + _import("ortools", "ortools").__version__
    return "fast-tsp " + _import("fast_tsp", "fast-tsp").__version__
