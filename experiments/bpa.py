"""3BPA-style (GFN2-xTB labels) interatomic potential with Gaunt products or their CG twin.

Data: :mod:`geojax.data.bpa` (Langevin MD at 300, 600 and 1,200 K labelled with GFN2-xTB through
tblite; generated once with ``python -m geojax.data.bpa --out workdirs/bpa_cache``). Training on
the 300 K training snapshots; evaluation on ``config.data.eval_split`` (``test_300K`` by default;
``python -m experiments.e3_report --bpa WORKDIR ...`` evaluates every temperature).
Model: :class:`geojax.nn.GauntPotential` (``config.model.product``: ``"gaunt"`` or ``"cg"``) with
``E = shift + scale * E_model`` and ``F = -dE/dx``: ``shift`` the mean training energy, ``scale``
the RMS training force component (the model works in units of typical forces).
Loss: ``w_E mean(((E - E_ref) / scale)^2 / n) + w_F mean(((F - F_ref) / scale)^2)``, ``n`` atoms.
Per-configuration metrics: ``energy_se`` (eV^2) and ``forces_se`` (mean over atoms and components,
(eV/A)^2); the square root of their means is the RMSE.
"""

from __future__ import annotations

import functools
from typing import Any, Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from geojax.data.bpa import bpa_splits, load_bpa
from geojax.nn import GauntPotential
from geojax.train.task import host_rng, process_slice

SETTINGS_KEYS = ("n_train", "n_test", "temperatures", "stride", "equilibration_steps", "seed")


class ScaledPotential(nnx.Module):
    """``E = shift + scale * potential.energy``: a :class:`GauntPotential` in physical units (eV, eV/A)."""

    def __init__(self, potential: GauntPotential, species_of_number: np.ndarray, shift: float, scale: float, loss_weights: tuple[float, float] = (100.0, 10.0)):
        self.potential = potential
        self.species_of_number = nnx.Variable(jnp.asarray(species_of_number, jnp.int32))
        self.shift, self.scale = float(shift), float(scale)
        self.loss_weights = tuple(float(w) for w in loss_weights)  # (energy, forces), see the module docstring

    def species(self, numbers: jax.Array) -> jax.Array:
        return self.species_of_number[...][numbers]

    def energy_and_forces(self, positions: jax.Array, numbers: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``[B, n, 3]`` Angstrom, ``[B, n]`` atomic numbers -> ``(E [B] eV, F [B, n, 3] eV/A)``."""
        energy, forces = self.potential.energy_and_forces(positions, self.species(numbers))
        return self.shift + self.scale * energy, self.scale * forces


@functools.lru_cache(maxsize=2)
def _splits(cache_dir: str, settings: tuple) -> dict[str, dict[str, np.ndarray]]:
    return bpa_splits(load_bpa(cache_dir, **dict(settings)))


def splits(config: ml_collections.ConfigDict) -> dict[str, dict[str, np.ndarray]]:
    """``{"train", "test_300K", ...}`` of ``config.data`` (raises ``FileNotFoundError`` with the command to generate it)."""
    d = config.data
    settings = tuple((k, tuple(d[k]) if k == "temperatures" else d[k]) for k in SETTINGS_KEYS)
    return _splits(d.cache_dir, settings)


def _batch(arrays: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "positions": arrays["positions"][idx].astype(np.float32),
        "numbers": np.broadcast_to(arrays["numbers"], (len(idx), len(arrays["numbers"]))).astype(np.int32),
        "energy": arrays["energy"][idx].astype(np.float32),
        "forces": arrays["forces"][idx].astype(np.float32),
    }


class BPATask:
    """The :class:`geojax.train.task.Task` of the 3BPA-style experiment."""

    def make_model(self, config: ml_collections.ConfigDict, rngs: nnx.Rngs) -> nnx.Module:
        train = splits(config)["train"]
        present = np.unique(train["numbers"])
        table = np.zeros(int(present.max()) + 1, np.int32)
        table[present] = np.arange(len(present))
        m = config.model
        potential = GauntPotential(
            num_species=len(present), channels=m.channels, lmax=m.lmax, layers=m.layers, correlation=m.correlation,
            distinct_factors=m.get("distinct_factors", False), path_rank=m.get("path_rank", 1),  # runs saved before the fields existed
            num_radial=m.num_radial, cutoff=m.cutoff, avg_neighbours=m.avg_neighbours, product=m.product, method=m.method, rngs=rngs,
        )
        shift = float(np.mean(train["energy"]))
        scale = float(np.sqrt(np.mean(train["forces"] ** 2)))
        return ScaledPotential(potential, table, shift, scale, (config.train.energy_weight, config.train.forces_weight))

    def train_batch(self, config, key, process_index, process_count) -> dict[str, np.ndarray]:
        """Training configurations drawn with replacement; a pure function of ``key``."""
        train = splits(config)["train"]
        rng = host_rng(key)
        b = config.train.batch_size
        idx = rng.integers(0, len(train["energy"]), b)
        return _batch(train, idx[process_slice(b, process_index, process_count)])

    def eval_batches(self, config) -> Iterator[dict[str, np.ndarray]]:
        test = splits(config)[config.data.eval_split]
        bs = config.data.eval_batch_size
        for i in range(0, len(test["energy"]), bs):
            yield _batch(test, np.arange(i, min(i + bs, len(test["energy"]))))

    def loss(self, model, batch: dict[str, Any], key: jax.Array):
        del key
        energy, forces = model.energy_and_forces(batch["positions"], batch["numbers"])
        n = batch["positions"].shape[-2]
        e_term = jnp.mean(((energy - batch["energy"]) / model.scale) ** 2 / n)
        f_term = jnp.mean(((forces - batch["forces"]) / model.scale) ** 2)
        w = model.loss_weights
        return w[0] * e_term + w[1] * f_term, {"energy_rmse": jnp.sqrt(jnp.mean((energy - batch["energy"]) ** 2)), "forces_rmse": jnp.sqrt(jnp.mean((forces - batch["forces"]) ** 2))}

    def eval_metrics(self, model, batch: dict[str, Any]) -> dict[str, jax.Array]:
        energy, forces = model.energy_and_forces(batch["positions"], batch["numbers"])
        return {"energy_se": (energy - batch["energy"]) ** 2, "forces_se": jnp.mean((forces - batch["forces"]) ** 2, axis=(-2, -1))}
