"""Charged N-body trajectories (the EGNN protocol), regenerated from seeds and cached with their settings.

Five particles with charges ``+-1`` (equally likely) in 3D, positions ``N(0, 1)``, velocities of
random direction and speed 0.5, Coulomb interaction ``F_i = sum_j q_i q_j (x_i - x_j) / |x_i - x_j|^3``
(unit masses and strength, no box), integrated with symplectic Euler (``x += dt v``, then
``v += dt F(x)``), ``dt = 0.001``. As in the EGNN set-up (Satorras et al. 2021, after Kipf et al.'s
NRI simulator) the task is: given positions, velocities and charges after 3,000 steps, predict the
positions 1,000 steps later. Differences, stated: the force is clipped by its norm (``<= 100``, the
NRI clip value ``0.1 / dt``) rather than per component, so that the simulator itself is
rotation-equivariant; no observation noise.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import zipfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from geojax.data.npz_cache import write_npz_atomic

DATASET_NAME = "charged N-body (EGNN protocol, regenerated)"
FORMAT_VERSION = 1  # bump when the generator changes: older cached files are then regenerated
SPLITS = ("train", "val", "test")
_ARRAYS = ("positions", "velocities", "charges", "target")


@dataclasses.dataclass(frozen=True)
class NBodySettings:
    """Everything that determines the dataset (stored in the cache file and checked on load)."""

    n_particles: int = 5
    n_train: int = 3000
    n_val: int = 2000
    n_test: int = 2000
    dt: float = 0.001
    start_step: int = 3000
    horizon: int = 1000
    speed: float = 0.5
    max_force: float = 100.0
    seed: int = 0

    def stored(self) -> str:
        """The settings as stored with (and hashed into the name of) a cached file: the fields, the
        dataset's name (labelled as regenerated) and the format version."""
        record = {**dataclasses.asdict(self), "dataset": DATASET_NAME, "format_version": FORMAT_VERSION}
        return json.dumps(record, sort_keys=True)

    def digest(self) -> str:
        return hashlib.sha256(self.stored().encode()).hexdigest()[:12]


def coulomb_forces(positions: jnp.ndarray, charges: jnp.ndarray, max_force: float) -> jnp.ndarray:
    """``[..., n, 3], [..., n] -> [..., n, 3]``: ``F_i = sum_{j != i} q_i q_j r_ij / |r_ij|^3``, ``r_ij = x_i - x_j``, norm-clipped."""
    rel = positions[..., :, None, :] - positions[..., None, :, :]
    n = positions.shape[-2]
    sq = jnp.sum(rel * rel, axis=-1) + jnp.eye(n, dtype=positions.dtype)  # no self-interaction
    coupling = charges[..., :, None] * charges[..., None, :] * (1.0 - jnp.eye(n, dtype=positions.dtype))
    forces = jnp.sum((coupling / sq**1.5)[..., None] * rel, axis=-2)
    norm = jnp.linalg.norm(forces, axis=-1, keepdims=True)
    return forces * jnp.minimum(1.0, max_force / jnp.maximum(norm, 1e-30))


def simulate(positions: jnp.ndarray, velocities: jnp.ndarray, charges: jnp.ndarray, *, steps: int, dt: float,
             max_force: float) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Symplectic Euler for ``steps`` steps: ``x += dt v``, ``v += dt F(x)``. Returns ``(x, v)`` at the end."""

    def step(state, _):
        x, v = state
        x = x + dt * v
        v = v + dt * coulomb_forces(x, charges, max_force)
        return (x, v), None

    (x, v), _ = jax.lax.scan(step, (positions, velocities), None, length=steps)
    return x, v


def initial_conditions(settings: NBodySettings, n_systems: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions ``N(0, 1)``, velocities of uniform random direction and speed ``settings.speed``, charges ``+-1``."""
    shape = (n_systems, settings.n_particles)
    positions = rng.normal(size=shape + (3,))
    directions = rng.normal(size=shape + (3,))
    velocities = settings.speed * directions / np.linalg.norm(directions, axis=-1, keepdims=True)
    charges = rng.choice([-1.0, 1.0], size=shape)
    return positions, velocities, charges


def generate_nbody(settings: NBodySettings = NBodySettings()) -> dict[str, dict[str, np.ndarray]]:
    """The three splits ``{"train", "val", "test"}`` of ``{positions, velocities, charges, target}``.

    ``positions``/``velocities`` ``[N, n, 3]`` at step ``start_step``, ``charges`` ``[N, n]``, ``target``
    ``[N, n, 3]`` positions at ``start_step + horizon``. Computed in float64; one seeded generator
    for all splits, in the order train, val, test.
    """
    rng = np.random.default_rng(settings.seed)
    sizes = {"train": settings.n_train, "val": settings.n_val, "test": settings.n_test}
    run = jax.jit(simulate, static_argnames=("steps", "dt", "max_force"))
    out = {}
    with jax.enable_x64(True):
        for split in SPLITS:
            x0, v0, q = initial_conditions(settings, sizes[split], rng)
            kw = {"dt": settings.dt, "max_force": settings.max_force}
            x, v = run(jnp.asarray(x0), jnp.asarray(v0), jnp.asarray(q), steps=settings.start_step, **kw)
            target, _ = run(x, v, jnp.asarray(q), steps=settings.horizon, **kw)
            out[split] = {"positions": np.asarray(x), "velocities": np.asarray(v), "charges": q, "target": np.asarray(target)}
    return out


def cache_path(cache_dir: str | Path, settings: NBodySettings) -> Path:
    return Path(cache_dir) / f"nbody_{settings.n_particles}p_{settings.digest()}.npz"


def load_or_generate_nbody(cache_dir: str | Path, settings: NBodySettings = NBodySettings()) -> dict[str, dict[str, np.ndarray]]:
    """:func:`generate_nbody`, cached in ``cache_dir`` (atomic write; a file for other settings is regenerated).

    Raises:
      ValueError: settings with non-positive sizes or steps.
    """
    if min(settings.n_particles, settings.n_train, settings.n_val, settings.n_test, settings.horizon) < 1 or settings.start_step < 0:
        raise ValueError(f"N-body settings need positive sizes and steps, got {settings}")
    path = cache_path(cache_dir, settings)
    expected = settings.stored()
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["settings"]) == expected:
                return {s: {k: f[f"{s}/{k}"] for k in _ARRAYS} for s in SPLITS}
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        pass
    data = generate_nbody(settings)
    flat = {f"{s}/{k}": v for s, arrays in data.items() for k, v in arrays.items()}
    write_npz_atomic(path, {**flat, "settings": expected})
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=f"Generate and cache the {DATASET_NAME} dataset.")
    parser.add_argument("--out", default="workdirs/nbody_cache")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    settings = NBodySettings(seed=args.seed)
    data = load_or_generate_nbody(args.out, settings)
    for split, arrays in data.items():
        moved = np.linalg.norm(arrays["target"] - arrays["positions"], axis=-1)
        print(f"{split}: {len(arrays['charges'])} systems, mean displacement {moved.mean():.3f}, "
              f"MSE of x + T v: {np.mean((arrays['positions'] + settings.horizon * settings.dt * arrays['velocities'] - arrays['target']) ** 2):.4f}")
    print(cache_path(args.out, settings))


if __name__ == "__main__":
    main()
