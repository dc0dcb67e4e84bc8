import json
import shutil
import sys

import numpy as np
import pytest

pytest.importorskip("tblite")
pytest.importorskip("rdkit")
pytest.importorskip("ase")

from geojax.data.bpa import (
    N_ATOMS,
    bpa_settings,
    bpa_splits,
    cache_path,
    generate_bpa,
    initial_geometry,
    load_bpa,
    xtb_energy_forces,
)

TINY = {"n_train": 3, "n_test": 2, "temperatures": (300, 1200), "stride": 2, "equilibration_steps": 10, "seed": 0}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cache_dir = tmp_path_factory.mktemp("bpa")
    return cache_dir, generate_bpa(cache_dir, progress=False, **TINY)


def test_initial_geometry_is_c12h12n2o_and_deterministic():
    numbers, positions = initial_geometry(0)
    assert numbers.shape == (N_ATOMS,) == (27,) and positions.shape == (27, 3)
    assert dict(zip(*np.unique(numbers, return_counts=True))) == {1: 12, 6: 12, 7: 2, 8: 1}
    np.testing.assert_array_equal(initial_geometry(0)[1], positions)
    d = np.linalg.norm(positions[:, None] - positions[None], axis=-1)[np.triu_indices(27, 1)]
    assert 0.9 < d.min() < 1.2 and d.max() < 12  # X-H bonds, one connected molecule


def test_forces_are_minus_the_finite_difference_gradient():
    numbers, positions = initial_geometry(0)
    positions = positions + 0.03 * np.random.default_rng(1).standard_normal(positions.shape)
    energy, forces = xtb_energy_forces(numbers, positions)
    assert forces.shape == (27, 3) and np.isfinite(energy)
    assert np.abs(forces).max() > 0.1  # away from the minimum
    np.testing.assert_allclose(forces.sum(axis=0), 0, atol=1e-6)  # translation invariance
    h = 1e-3  # Angstrom; central differences are ~2e-5 eV/A off here
    for atom, axis in [(0, 0), (6, 1), (13, 2), (26, 0)]:
        plus, minus = positions.copy(), positions.copy()
        plus[atom, axis] += h
        minus[atom, axis] -= h
        fd = -(xtb_energy_forces(numbers, plus)[0] - xtb_energy_forces(numbers, minus)[0]) / (2 * h)
        assert fd == pytest.approx(forces[atom, axis], abs=2e-4)


def test_generate_is_deterministic_and_cached(tiny, tmp_path):
    cache_dir, data = tiny
    assert not data["from_cache"] and data["path"] == str(cache_path(cache_dir, bpa_settings(**TINY)))
    assert data["positions_300K"].shape == (5, 27, 3) and data["forces_1200K"].shape == (2, 27, 3)
    assert data["energy_300K"].shape == (5,) and data["numbers"].shape == (27,)
    again = generate_bpa(tmp_path, progress=False, **TINY)
    loaded = load_bpa(cache_dir, **TINY)
    assert loaded["from_cache"] and loaded["settings"] == data["settings"]
    for key in ("numbers", "positions_300K", "energy_300K", "forces_300K", "positions_1200K", "energy_1200K"):
        np.testing.assert_array_equal(again[key], data[key])
        np.testing.assert_array_equal(loaded[key], data[key])
    assert generate_bpa(cache_dir, progress=False, **TINY)["from_cache"]
    with np.load(data["path"], allow_pickle=False) as f:
        assert all(f[k].dtype != object for k in f.files)
    # a different trajectory per temperature; labels are those of the stored geometry
    assert not np.allclose(data["positions_300K"][-2:], data["positions_1200K"])
    energy, forces = xtb_energy_forces(data["numbers"], data["positions_1200K"][-1])
    assert energy == data["energy_1200K"][-1]
    np.testing.assert_array_equal(forces, data["forces_1200K"][-1])


def test_parallel_workers_give_the_same_data_set(tiny, tmp_path):
    _, data = tiny
    parallel = generate_bpa(tmp_path, progress=False, workers=2, **TINY)
    assert not parallel["from_cache"] and parallel["path"].endswith(data["path"].split("/")[-1])
    for key in ("positions_300K", "energy_300K", "forces_300K", "positions_1200K", "forces_1200K", "kinetic_temperature_1200K"):
        np.testing.assert_array_equal(parallel[key], data[key])
    with pytest.raises(ValueError, match="workers"):
        generate_bpa(tmp_path / "other", progress=False, workers=0, **TINY)


def test_splits_use_disjoint_windows_of_the_training_trajectory(tiny):
    _, data = tiny
    splits = bpa_splits(data)
    assert list(splits) == ["train", "test_300K", "test_1200K"]
    np.testing.assert_array_equal(splits["train"]["positions"], data["positions_300K"][:3])
    np.testing.assert_array_equal(splits["test_300K"]["energy"], data["energy_300K"][3:5])
    np.testing.assert_array_equal(splits["test_1200K"]["forces"], data["forces_1200K"])
    for split in splits.values():
        m = len(split["energy"])
        assert split["positions"].shape == split["forces"].shape == (m, 27, 3) and split["numbers"].shape == (27,)


def test_other_settings_do_not_load_this_cache(tiny, tmp_path):
    cache_dir, data = tiny
    other = {**TINY, "seed": 1}
    with pytest.raises(FileNotFoundError, match="python -m geojax.data.bpa"):
        load_bpa(cache_dir, **other)
    fake = cache_path(tmp_path, bpa_settings(**other))  # this file under another setting's name
    shutil.copy(data["path"], fake)
    with pytest.raises(ValueError, match="holds settings"):
        load_bpa(tmp_path, **other)
    np.savez(fake, settings_json=json.dumps(bpa_settings(**other), sort_keys=True), numbers=data["numbers"])
    with pytest.raises(ValueError, match="missing arrays"):  # right settings, arrays missing
        load_bpa(tmp_path, **other)


def test_bad_settings_and_missing_tblite(monkeypatch):
    for bad in ({"n_train": 0}, {"temperatures": (300, 300)}, {"temperatures": (300.0,)}, {"stride": 0}, {"seed": -1}):
        with pytest.raises(ValueError):
            bpa_settings(**bad)
    monkeypatch.setitem(sys.modules, "tblite.interface", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[bpa\]"'):
        xtb_energy_forces(*initial_geometry(0))
