"""Charged N-body simulator and dataset: physics, equivariance, determinism and the cache."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from geojax.data import nbody
from geojax.data.nbody import NBodySettings, coulomb_forces, generate_nbody, load_or_generate_nbody, simulate
from tests.conftest import relative_error

SMALL = NBodySettings(n_train=6, n_val=3, n_test=4, start_step=50, horizon=40)


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def _system(rng, n=5):
    return jnp.asarray(rng.normal(size=(n, 3)) * 2), jnp.asarray(rng.normal(size=(n, 3)) * 0.5), jnp.asarray(rng.choice([-1.0, 1.0], n))


def _potential(x, q):
    r = jnp.linalg.norm(x[:, None] - x[None] + jnp.eye(len(q))[..., None], axis=-1)
    return 0.5 * jnp.sum(q[:, None] * q[None] / r * (1 - jnp.eye(len(q))))


def test_forces_are_minus_the_gradient_of_the_coulomb_energy(rng):
    x, _, q = _system(rng)
    assert relative_error(coulomb_forces(x, q, max_force=1e9), -jax.grad(_potential)(x, q)) < 1e-12
    # like charges repel: two positive charges on the x axis push apart
    f = coulomb_forces(jnp.array([[0.0, 0, 0], [2.0, 0, 0]]), jnp.array([1.0, 1.0]), 1e9)
    np.testing.assert_allclose(f, [[-0.25, 0, 0], [0.25, 0, 0]], rtol=1e-14)
    clipped = coulomb_forces(jnp.array([[0.0, 0, 0], [0.01, 0, 0]]), jnp.array([1.0, -1.0]), 100.0)
    np.testing.assert_allclose(np.linalg.norm(clipped, axis=-1), [100.0, 100.0], rtol=1e-12)


def test_symplectic_euler_conserves_energy_and_is_equivariant(rng):
    x, v, q = _system(rng)
    x1, v1 = simulate(x, v, q, steps=2000, dt=1e-3, max_force=1e9)
    e0 = 0.5 * jnp.sum(v**2) + _potential(x, q)
    e1 = 0.5 * jnp.sum(v1**2) + _potential(x1, q)
    assert abs(float(e1 - e0)) < 1e-3 * max(1.0, abs(float(e0)))
    R = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    t = rng.normal(size=3)
    x2, v2 = simulate(x @ R.T + t, v @ R.T, q, steps=2000, dt=1e-3, max_force=100.0)
    x3, _ = simulate(x, v, q, steps=2000, dt=1e-3, max_force=100.0)
    assert relative_error(x2, x3 @ R.T + t) < 1e-9


def test_dataset_shapes_determinism_and_cache(tmp_path, monkeypatch):
    data = generate_nbody(SMALL)
    assert {k: v["positions"].shape for k, v in data.items()} == {"train": (6, 5, 3), "val": (3, 5, 3), "test": (4, 5, 3)}
    assert set(np.unique(data["train"]["charges"])) <= {-1.0, 1.0}
    again = load_or_generate_nbody(tmp_path, SMALL)
    for split in data:
        for k in data[split]:
            np.testing.assert_array_equal(again[split][k], data[split][k])
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1 and not list(tmp_path.glob(".*tmp"))
    with np.load(files[0], allow_pickle=False) as f:
        assert '"seed": 0' in str(f["settings"]) and "regenerated" in str(f["settings"])
    with monkeypatch.context() as m:  # the second call must read the file, not generate
        m.setattr(nbody, "generate_nbody", lambda settings: pytest.fail("regenerated instead of reading the cache"))
        cached = load_or_generate_nbody(tmp_path, SMALL)
    for split in data:
        for k in data[split]:
            np.testing.assert_array_equal(cached[split][k], data[split][k])
    other = load_or_generate_nbody(tmp_path, dataclasses.replace(SMALL, seed=1))
    assert not np.array_equal(other["train"]["positions"], data["train"]["positions"])
    assert len(list(tmp_path.glob("*.npz"))) == 2
    with pytest.raises(ValueError, match="positive"):
        load_or_generate_nbody(tmp_path, dataclasses.replace(SMALL, n_test=0))
