"""3BPA-style molecular dynamics data set with GFN2-xTB labels, generated offline and cached.

The molecule
------------
3BPA is 3-(benzyloxy)pyridin-2-amine (:data:`SMILES`), C12H12N2O, 27 atoms. The original benchmark
(Kovacs et al. 2021) holds DFT-labelled molecular-dynamics snapshots at 300, 600 and 1200 K; models
train on 300 K and are tested at all three temperatures (extrapolation to hotter, more distorted
geometries). This module regenerates a data set *in that style*, named :data:`DATASET_NAME`: the
labels are GFN2-xTB energies and forces from the ``tblite`` package, so numbers are **not**
comparable with published 3BPA results (different level of theory and trajectories).

Protocol (:func:`generate_bpa`)
-------------------------------
* Start: one RDKit conformer (``AddHs``, ``EmbedMolecule(randomSeed=seed)``, MMFF94 optimisation,
  :func:`initial_geometry`), the same for every temperature.
* Dynamics: one independent Langevin trajectory per temperature ``T`` (``ase.md.langevin``, time
  step :data:`TIMESTEP_FS` = 0.5 fs, friction :data:`FRICTION_PER_FS` = 0.01 / fs, centre of mass
  fixed by ``ase.constraints.FixCom``), Maxwell-Boltzmann velocities at ``T``; the random stream
  of each trajectory is ``np.random.default_rng([seed, T])``, so a run is deterministic for a seed.
* Sampling: ``equilibration_steps`` steps (default 2000 = 1 ps) are discarded, then one snapshot
  every ``stride`` steps (default 20 = 10 fs): ``n_train + n_test`` snapshots at the training
  temperature ``temperatures[0]`` (the first ``n_train`` for training, the next ``n_test`` for
  testing: disjoint time windows of one trajectory) and ``n_test`` at each other temperature.
* Labels: every force evaluation is a fresh GFN2-xTB single point (superposition-of-atomic-densities
  guess, no restart from the previous step), so a label is a function of its geometry only and
  equals :func:`xtb_energy_forces` of the stored positions.

Units: positions in Angstrom, energies in eV, forces in eV / Angstrom (``-dE/dx``), with
CODATA 2018 conversions :data:`HARTREE_TO_EV` and :data:`BOHR_TO_ANGSTROM`.

``tblite`` (LGPL-3.0-or-later), ``rdkit`` (BSD-3-Clause) and ``ase`` (LGPL-2.1-or-later) are
optional (``pip install -e ".[bpa]"``) and only called as installed packages; they are imported
when needed, with an :class:`ImportError` naming the extra if missing. tblite runs on one OpenMP
thread unless ``OMP_NUM_THREADS`` was set before it was first imported.

Command line: ``python -m geojax.data.bpa --out workdirs/bpa_cache [--workers 3]`` generates the
default set (``--workers``: the temperatures in parallel processes, the same data).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import hashlib
import importlib
import json
import multiprocessing
import os
import time
import zipfile
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from geojax.data.npz_cache import write_npz_atomic

DATASET_NAME = "3BPA-style (GFN2-xTB labels)"
SMILES = "Nc1ncccc1OCc1ccccc1"
"""3-(benzyloxy)pyridin-2-amine; with hydrogens C12H12N2O, 27 atoms."""
N_ATOMS = 27
HARTREE_TO_EV = 27.211386245988
"""CODATA 2018."""
BOHR_TO_ANGSTROM = 0.529177210903
"""CODATA 2018."""
XTB_METHOD = "GFN2-xTB"
TIMESTEP_FS = 0.5
FRICTION_PER_FS = 0.01
FORMAT_VERSION = 1
_INSTALL_HINT = 'pip install -e ".[bpa]"'


# ---- Geometry and single points -----------------------------------------------------------------


def initial_geometry(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An MMFF94-optimised RDKit conformer of 3BPA: ``(numbers [27] int64, positions [27, 3] Angstrom)``.

    ``Chem.AddHs(Chem.MolFromSmiles(SMILES))``, ``AllChem.EmbedMolecule(mol, randomSeed=seed)``
    (ETKDG), then ``AllChem.MMFFOptimizeMolecule(mol, maxIters=2000)``. Deterministic for a seed.

    Raises:
      ValueError: ``seed`` not an int in ``[0, 2**31)``.
      RuntimeError: the embedding or the MMFF set-up fails.
      ImportError: rdkit is not installed.
    """
    _check_seed(seed)
    Chem = _require("rdkit.Chem", "rdkit")
    AllChem = _require("rdkit.Chem.AllChem", "rdkit")
    mol = Chem.AddHs(Chem.MolFromSmiles(SMILES))
    if AllChem.EmbedMolecule(mol, randomSeed=int(seed)) != 0:
        raise RuntimeError(f"RDKit could not embed {SMILES} with randomSeed={seed}")
    if AllChem.MMFFOptimizeMolecule(mol, maxIters=2000) == -1:
        raise RuntimeError(f"RDKit could not set up MMFF94 for {SMILES}")
    numbers = np.array([atom.GetAtomicNum() for atom in mol.GetAtoms()], np.int64)
    return numbers, np.asarray(mol.GetConformer().GetPositions(), np.float64)


def xtb_energy_forces(numbers: np.ndarray, positions: np.ndarray) -> tuple[float, np.ndarray]:
    """GFN2-xTB single point (tblite, fresh guess): ``(energy eV, forces [n, 3] eV / Angstrom)``.

    Args:
      numbers: atomic numbers ``[n]``.
      positions: ``[n, 3]`` in Angstrom.

    Raises:
      ValueError: shapes do not match or positions are not finite.
      ImportError: tblite is not installed.
      tblite.exceptions.TBLiteRuntimeError: the SCC fails (e.g. atoms on top of each other).
    """
    numbers, positions = _check_structure(numbers, positions)
    return _singlepoint(_tblite_calculator(numbers, positions))


def _tblite_calculator(numbers: np.ndarray, positions: np.ndarray):
    """A silent tblite GFN2-xTB ``Calculator`` for one structure (positions in Angstrom)."""
    interface = _import_tblite()
    calc = interface.Calculator(XTB_METHOD, numbers, positions / BOHR_TO_ANGSTROM)
    calc.set("verbosity", 0)
    return calc


def _singlepoint(calc) -> tuple[float, np.ndarray]:
    """Run ``calc`` from the default guess; convert to ``(eV, eV / Angstrom forces)``."""
    res = calc.singlepoint()
    energy = float(res.get("energy")) * HARTREE_TO_EV
    forces = -np.asarray(res.get("gradient"), np.float64) * (HARTREE_TO_EV / BOHR_TO_ANGSTROM)
    return energy, forces


@functools.cache
def _ase_calculator_class() -> type:
    """An ASE calculator (energy, forces) around one reused tblite ``Calculator``, timing its calls."""
    calculator = _require("ase.calculators.calculator", "ase")

    class XTBCalculator(calculator.Calculator):
        implemented_properties = ("energy", "free_energy", "forces")

        def __init__(self) -> None:
            super().__init__()
            self._xtb, self._numbers = None, None
            self.n_calls, self.seconds = 0, 0.0

        def calculate(self, atoms=None, properties=("energy",), system_changes=calculator.all_changes):
            super().calculate(atoms, properties, system_changes)
            numbers, positions = _check_structure(self.atoms.numbers, self.atoms.positions)
            if self._xtb is None or not np.array_equal(numbers, self._numbers):
                self._xtb, self._numbers = _tblite_calculator(numbers, positions), numbers
            else:
                self._xtb.update(positions / BOHR_TO_ANGSTROM)
            start = time.perf_counter()
            energy, forces = _singlepoint(self._xtb)
            self.seconds += time.perf_counter() - start
            self.n_calls += 1
            self.results = {"energy": energy, "free_energy": energy, "forces": forces}

    return XTBCalculator


# ---- Molecular dynamics ---------------------------------------------------------------------------


def langevin_snapshots(
    numbers: np.ndarray,
    positions: np.ndarray,
    temperature_K: float,
    *,
    n_snapshots: int,
    stride: int,
    equilibration_steps: int,
    rng: np.random.Generator,
    progress: bool = True,
) -> dict[str, np.ndarray | float | int]:
    """Langevin MD with GFN2-xTB forces; snapshots after equilibration, every ``stride`` steps.

    Maxwell-Boltzmann momenta (``thermalize_momenta(atoms, temperature_K, rng=rng)``), then
    ``equilibration_steps`` steps, then ``n_snapshots`` snapshots ``stride`` steps apart (the first
    at the end of the equilibration), with ``Langevin(timestep=0.5 fs, friction=0.01 / fs,
    rng=rng)`` and the centre of mass fixed (``ase.constraints.FixCom``). Deterministic for the
    state of ``rng``. Stored forces are the raw ``-dE/dx`` (not projected by the constraint).

    Returns:
      ``{"positions": [m, n, 3] Angstrom, "energy": [m] eV, "forces": [m, n, 3] eV / Angstrom,
      "kinetic_temperature": [m] K (instantaneous), "xtb_calls": int, "xtb_seconds": float}``.

    Raises:
      ValueError: bad structure, ``temperature_K <= 0``, ``n_snapshots < 1``, ``stride < 1`` or
        ``equilibration_steps < 0``.
      ImportError: ase or tblite is not installed.
    """
    numbers, positions = _check_structure(numbers, positions)
    if not (np.isfinite(temperature_K) and temperature_K > 0):
        raise ValueError(f"temperature_K must be finite and > 0, got {temperature_K!r}")
    _check_int("n_snapshots", n_snapshots, 1)
    _check_int("stride", stride, 1)
    _check_int("equilibration_steps", equilibration_steps, 0)
    ase = _require("ase", "ase")
    constraints = _require("ase.constraints", "ase")
    units = _require("ase.units", "ase")
    langevin = _require("ase.md.langevin", "ase")
    velocities = _require("ase.md.velocitydistribution", "ase")

    atoms = ase.Atoms(numbers=numbers, positions=positions)
    atoms.set_constraint(constraints.FixCom())  # also removes the centre-of-mass momentum
    atoms.calc = calc = _ase_calculator_class()()
    velocities.thermalize_momenta(atoms, float(temperature_K), rng=rng)  # Maxwell-Boltzmann (ASE >= 3.29)
    dyn = langevin.Langevin(
        atoms,
        timestep=TIMESTEP_FS * units.fs,
        temperature_K=float(temperature_K),
        friction=FRICTION_PER_FS / units.fs,
        fixcm=False,  # deprecated since ASE 3.28 in favour of the FixCom constraint
        rng=rng,
    )
    n = len(numbers)
    out = {
        "positions": np.empty((n_snapshots, n, 3)),
        "energy": np.empty(n_snapshots),
        "forces": np.empty((n_snapshots, n, 3)),
        "kinetic_temperature": np.empty(n_snapshots),
    }
    total = equilibration_steps + (n_snapshots - 1) * stride
    bar = tqdm(total=total, desc=f"MD {temperature_K:g} K", unit="step", disable=not progress, mininterval=10)
    with bar:
        for done in range(0, equilibration_steps, 100):  # in chunks, for the progress bar
            dyn.run(min(100, equilibration_steps - done))
            bar.update(min(100, equilibration_steps - done))
        for k in range(n_snapshots):
            if k:
                dyn.run(stride)
                bar.update(stride)
            out["positions"][k] = atoms.get_positions()
            out["energy"][k] = atoms.get_potential_energy()
            out["forces"][k] = atoms.get_forces(apply_constraint=False)  # raw -dE/dx
            out["kinetic_temperature"][k] = atoms.get_temperature()
            bar.set_postfix(ms_per_xtb=f"{1e3 * calc.seconds / max(calc.n_calls, 1):.1f}", refresh=False)
    return {**out, "xtb_calls": calc.n_calls, "xtb_seconds": calc.seconds}


# ---- Data set, cached ---------------------------------------------------------------------------


def bpa_settings(
    *,
    n_train: int = 500,
    n_test: int = 1000,
    temperatures: tuple[int, ...] = (300, 600, 1200),
    stride: int = 20,
    equilibration_steps: int = 2000,
    seed: int = 0,
) -> dict:
    """The validated settings of a data set (what is hashed into its file name and stored in it).

    ``temperatures`` are distinct positive ints in Kelvin; the first is the training temperature.

    Raises:
      ValueError: ``n_train``, ``n_test`` or ``stride`` not an int ``>= 1``, ``equilibration_steps``
        not an int ``>= 0``, bad ``seed`` or ``temperatures``.
    """
    _check_int("n_train", n_train, 1)
    _check_int("n_test", n_test, 1)
    _check_int("stride", stride, 1)
    _check_int("equilibration_steps", equilibration_steps, 0)
    _check_seed(seed)
    temps = tuple(temperatures)
    if not temps or len(set(temps)) != len(temps) or not all(_is_int(t) and t > 0 for t in temps):
        raise ValueError(f"temperatures must be distinct ints > 0 (Kelvin), got {temperatures!r}")
    return {
        "dataset": DATASET_NAME,
        "format_version": FORMAT_VERSION,
        "smiles": SMILES,
        "method": XTB_METHOD,
        "timestep_fs": TIMESTEP_FS,
        "friction_per_fs": FRICTION_PER_FS,
        "n_train": int(n_train),
        "n_test": int(n_test),
        "temperatures": [int(t) for t in temps],
        "stride": int(stride),
        "equilibration_steps": int(equilibration_steps),
        "seed": int(seed),
    }


def cache_path(cache_dir: str | Path, settings: dict) -> Path:
    """``cache_dir / bpa_<sha256 of the settings' JSON, 12 hex digits>.npz``."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    return Path(cache_dir) / f"bpa_{digest}.npz"


def generate_bpa(cache_dir: str | Path, *, progress: bool = True, workers: int = 1, **settings) -> dict:
    """Generate the data set (or load it if already cached) into ``cache_dir/bpa_<hash>.npz``.

    Args:
      cache_dir: directory of the cache (created if missing). The file is written to a temporary
        name there and renamed (``os.replace``), so a crash never leaves a half-written file.
      progress: show a tqdm progress bar per temperature (with ``workers > 1``: one bar over the
        finished temperatures).
      workers: processes that run the temperatures' trajectories in parallel (each trajectory has
        its own seeded stream, so the data set does not depend on ``workers``); each process runs
        tblite on one thread unless ``OMP_NUM_THREADS`` says otherwise.
      **settings: ``n_train=500, n_test=1000, temperatures=(300, 600, 1200), stride=20,
        equilibration_steps=2000, seed=0`` (see :func:`bpa_settings` and the module docstring).

    Returns:
      As :func:`load_bpa`, with ``"from_cache"`` telling whether the file existed.

    Raises:
      ValueError: bad settings (:func:`bpa_settings`) or ``workers < 1``, or a cached file that
        does not hold them.
      ImportError: tblite, rdkit or ase is not installed.
    """
    settings = bpa_settings(**settings)
    _check_int("workers", workers, 1)
    path = cache_path(cache_dir, settings)
    if path.exists():
        return load_bpa(cache_dir, **_public(settings))
    numbers, positions = initial_geometry(settings["seed"])
    jobs = [
        (numbers, positions, temp, settings["n_train"] + settings["n_test"] if i == 0 else settings["n_test"], settings, progress and workers == 1)
        for i, temp in enumerate(settings["temperatures"])
    ]
    if workers == 1:
        trajectories = [_temperature_trajectory(job) for job in jobs]
    else:
        # spawn, not fork: the parent may hold JAX or OpenMP threads that a fork would copy broken
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context) as pool:
            trajectories = list(tqdm(pool.map(_temperature_trajectory, jobs), total=len(jobs), desc="temperatures", disable=not progress))
    arrays: dict[str, np.ndarray] = {"numbers": numbers}
    for temp, traj in zip(settings["temperatures"], trajectories):
        for key, value in traj.items():
            arrays[f"{key}_{temp}K"] = value
    arrays["settings_json"] = np.asarray(json.dumps(settings, sort_keys=True))
    arrays["versions_json"] = np.asarray(json.dumps(_versions(), sort_keys=True))
    write_npz_atomic(path, arrays)
    return {**_unpack(arrays), "path": str(path), "from_cache": False}


def _temperature_trajectory(job: tuple) -> dict[str, np.ndarray]:
    """One temperature's snapshots and timings (a top-level function, so worker processes can run it)."""
    numbers, positions, temp, n_snapshots, settings, progress = job
    start = time.perf_counter()
    traj = langevin_snapshots(
        numbers,
        positions,
        temp,
        n_snapshots=n_snapshots,
        stride=settings["stride"],
        equilibration_steps=settings["equilibration_steps"],
        rng=np.random.default_rng([settings["seed"], temp]),
        progress=progress,
    )
    out = {key: np.asarray(traj[key]) for key in ("positions", "energy", "forces", "kinetic_temperature", "xtb_calls", "xtb_seconds")}
    out["wall_seconds"] = np.asarray(time.perf_counter() - start)
    return out


def load_bpa(cache_dir: str | Path, **settings) -> dict:
    """Load the cached data set generated with these settings (defaults as :func:`generate_bpa`).

    Returns:
      ``{"numbers": [27] int64, "positions_{T}K": [m, 27, 3] Angstrom, "energy_{T}K": [m] eV,
      "forces_{T}K": [m, 27, 3] eV / Angstrom, "kinetic_temperature_{T}K": [m] K,
      "xtb_calls_{T}K", "xtb_seconds_{T}K", "wall_seconds_{T}K": scalars, "settings": dict,
      "versions": dict (tblite, ase, rdkit, numpy), "path": str, "from_cache": True}``, with
      ``m = n_train + n_test`` at ``temperatures[0]`` and ``n_test`` at the others.

    Raises:
      FileNotFoundError: no cache for these settings (the message gives the command to make it).
      ValueError: bad settings, or the file is unreadable or does not hold these settings and shapes.
    """
    settings = bpa_settings(**settings)
    path = cache_path(cache_dir, settings)
    if not path.exists():
        args = " ".join(f"--{k.replace('_', '-')} {_cli_value(v)}" for k, v in _public(settings).items())
        raise FileNotFoundError(
            f"{path}: no cached {DATASET_NAME} data set for {_public(settings)}; generate it with "
            f"`OMP_NUM_THREADS=1 python -m geojax.data.bpa --out {cache_dir} {args}`"
        )
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: unreadable ({type(e).__name__}: {e}); delete it and regenerate") from e
    stored = json.loads(str(arrays.get("settings_json", "{}")))
    if stored != settings:
        raise ValueError(f"{path}: holds settings {stored}, expected {settings}; delete it and regenerate")
    missing = [k for k in _expected_keys(settings) if k not in arrays]
    if missing:
        raise ValueError(f"{path}: missing arrays {missing}; delete it and regenerate")
    data = _unpack(arrays)
    for i, temp in enumerate(settings["temperatures"]):
        m = settings["n_train"] + settings["n_test"] if i == 0 else settings["n_test"]
        shapes = {k: data[f"{k}_{temp}K"].shape for k in ("positions", "energy", "forces")}
        if shapes != {"positions": (m, N_ATOMS, 3), "energy": (m,), "forces": (m, N_ATOMS, 3)}:
            raise ValueError(f"{path}: arrays at {temp} K have shapes {shapes}, expected {m} snapshots")
    return {**data, "path": str(path), "from_cache": True}


def bpa_splits(data: dict) -> dict[str, dict[str, np.ndarray]]:
    """Training and test sets of a data set from :func:`generate_bpa` / :func:`load_bpa`.

    Returns:
      ``{"train": first n_train snapshots at temperatures[0], "test_{T0}K": the next n_test there,
      "test_{T}K": all n_test snapshots at each other T}`` (default ``train, test_300K, test_600K,
      test_1200K``); each ``{"positions": [m, 27, 3], "energy": [m], "forces": [m, 27, 3],
      "numbers": [27]}`` (eV, Angstrom).
    """
    settings, numbers = data["settings"], data["numbers"]
    n_train, n_test = settings["n_train"], settings["n_test"]
    splits = {}
    for i, temp in enumerate(settings["temperatures"]):
        arrays = {k: data[f"{k}_{temp}K"] for k in ("positions", "energy", "forces")}
        if i == 0:
            splits["train"] = {k: v[:n_train] for k, v in arrays.items()} | {"numbers": numbers}
            arrays = {k: v[n_train : n_train + n_test] for k, v in arrays.items()}
        splits[f"test_{temp}K"] = arrays | {"numbers": numbers}
    return splits


# ---- Helpers ------------------------------------------------------------------------------------


def _expected_keys(settings: dict) -> list[str]:
    per_temperature = ("positions", "energy", "forces", "kinetic_temperature", "xtb_calls", "xtb_seconds")
    keys = [f"{k}_{t}K" for t in settings["temperatures"] for k in (*per_temperature, "wall_seconds")]
    return ["numbers", *keys, "settings_json", "versions_json"]


def _unpack(arrays: dict) -> dict:
    data = {k: v for k, v in arrays.items() if not k.endswith("_json")}
    for k in [k for k in data if k.startswith(("xtb_calls_", "xtb_seconds_", "wall_seconds_"))]:
        data[k] = data[k].item()
    data["settings"] = json.loads(str(arrays["settings_json"]))
    data["versions"] = json.loads(str(arrays["versions_json"]))
    return data


def _public(settings: dict) -> dict:
    """The user-facing keyword arguments of full settings."""
    keys = ("n_train", "n_test", "temperatures", "stride", "equilibration_steps", "seed")
    return {k: tuple(settings[k]) if k == "temperatures" else settings[k] for k in keys}


def _cli_value(v) -> str:
    return " ".join(map(str, v)) if isinstance(v, (tuple, list)) else str(v)


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {p: version(p) for p in ("tblite", "ase", "rdkit", "numpy")}


def _check_structure(numbers, positions) -> tuple[np.ndarray, np.ndarray]:
    numbers = np.asarray(numbers)
    positions = np.asarray(positions, np.float64)
    if numbers.ndim != 1 or not np.issubdtype(numbers.dtype, np.integer) or np.any(numbers < 1):
        raise ValueError(f"numbers: expected atomic numbers [n] (ints >= 1), got {numbers!r}")
    if positions.shape != (len(numbers), 3):
        raise ValueError(f"positions: expected shape [{len(numbers)}, 3] (from numbers), got {positions.shape}")
    if not np.all(np.isfinite(positions)):
        raise ValueError("positions: expected finite values, got NaN or inf")
    return numbers.astype(np.int32), positions


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _check_int(name: str, x, low: int) -> None:
    if not _is_int(x) or x < low:
        raise ValueError(f"{name} must be an int >= {low}, got {x!r}")


def _check_seed(seed) -> None:
    if not _is_int(seed) or not 0 <= seed < 2**31:
        raise ValueError(f"seed must be an int in [0, 2**31), got {seed!r}")


def _require(module: str, package: str):
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"{package} is needed for the {DATASET_NAME} data set but is not installed: {_INSTALL_HINT}"
        ) from e


def _import_tblite():
    """``tblite.interface``, on one OpenMP thread unless ``OMP_NUM_THREADS`` is already set."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # read by libgomp when tblite first loads it
    return _require("tblite.interface", "tblite")


def _stats(data: dict) -> str:
    lines = []
    for temp in data["settings"]["temperatures"]:
        e, f = data[f"energy_{temp}K"], data[f"forces_{temp}K"]
        calls, secs = data[f"xtb_calls_{temp}K"], data[f"xtb_seconds_{temp}K"]
        lines.append(
            f"{temp:5d} K: {len(e)} snapshots, energy mean {e.mean():.4f} std {e.std():.4f} eV, "
            f"force components mean {f.mean():+.2e} std {f.std():.4f} eV/A, |F| max {np.abs(f).max():.3f}, "
            f"kinetic T mean {data[f'kinetic_temperature_{temp}K'].mean():.0f} K; "
            f"{calls} xTB calls, {1e3 * secs / max(calls, 1):.1f} ms/call, wall {data[f'wall_seconds_{temp}K']:.0f} s"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``python -m geojax.data.bpa --out DIR [--n-train ...]``: generate (or load) and print statistics."""
    defaults = _public(bpa_settings())
    parser = argparse.ArgumentParser(description=f"Generate the {DATASET_NAME} data set.")
    parser.add_argument("--out", required=True, help="cache directory")
    parser.add_argument("--n-train", type=int, default=defaults["n_train"])
    parser.add_argument("--n-test", type=int, default=defaults["n_test"])
    parser.add_argument("--temperatures", type=int, nargs="+", default=list(defaults["temperatures"]))
    parser.add_argument("--stride", type=int, default=defaults["stride"])
    parser.add_argument("--equilibration-steps", type=int, default=defaults["equilibration_steps"])
    parser.add_argument("--seed", type=int, default=defaults["seed"])
    parser.add_argument("--workers", type=int, default=1, help="processes running the temperatures in parallel (same data for any value)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    settings = {k: getattr(args, k) for k in defaults} | {"temperatures": tuple(args.temperatures)}
    numbers, positions = initial_geometry(args.seed)
    xtb_energy_forces(numbers, positions)  # warm-up
    start = time.perf_counter()
    for _ in range(10):
        xtb_energy_forces(numbers, positions)
    print(f"GFN2-xTB single point on the start geometry: {1e2 * (time.perf_counter() - start):.1f} ms/call", flush=True)
    start = time.perf_counter()
    data = generate_bpa(args.out, progress=not args.no_progress, workers=args.workers, **settings)
    print(f"{'loaded' if data['from_cache'] else 'generated'} {data['path']} in {time.perf_counter() - start:.0f} s")
    print(f"settings: {data['settings']}\nversions: {data['versions']}\n{_stats(data)}")


if __name__ == "__main__":
    main()
