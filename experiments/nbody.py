"""Charged N-body dynamics (EGNN protocol) with the E(3)-equivariant Gaunt model or its CG twin.

Data: :mod:`geojax.data.nbody` (regenerated from a seed, cached in ``config.data.cache_dir``).
Model: :class:`geojax.nn.GauntDynamics` (``config.model.product``: ``"gaunt"`` or ``"cg"``).
Loss: mean squared error of the predicted positions after 1,000 steps (mean over particles and
coordinates, the metric of the EGNN paper). Evaluation on the test split: ``mse`` and, as a
reference, ``mse_constant_velocity`` (``x + T v``).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from geojax.data.nbody import NBodySettings, load_or_generate_nbody
from geojax.nn import GauntDynamics
from geojax.train.task import host_rng, process_slice


def settings(config: ml_collections.ConfigDict) -> NBodySettings:
    d = config.data
    fields = {f.name for f in dataclasses.fields(NBodySettings)}
    return NBodySettings(**{k: v for k, v in d.items() if k in fields})


@functools.lru_cache(maxsize=2)
def _dataset(cache_dir: str, s: NBodySettings) -> dict[str, dict[str, np.ndarray]]:
    data = load_or_generate_nbody(cache_dir, s)
    return {split: {k: v.astype(np.float32) for k, v in arrays.items()} for split, arrays in data.items()}


def dataset(config: ml_collections.ConfigDict) -> dict[str, dict[str, np.ndarray]]:
    """The train/val/test splits for ``config.data`` (float32; generated once, then cached)."""
    return _dataset(config.data.cache_dir, settings(config))


class NBodyTask:
    """The :class:`geojax.train.task.Task` of the N-body experiment."""

    def make_model(self, config: ml_collections.ConfigDict, rngs: nnx.Rngs) -> nnx.Module:
        m = config.model
        return GauntDynamics(channels=m.channels, lmax=m.lmax, layers=m.layers, correlation=m.correlation, distinct_factors=m.get("distinct_factors", False), path_rank=m.get("path_rank", 1), num_radial=m.num_radial, cutoff=m.cutoff, avg_neighbours=m.avg_neighbours, product=m.product, method=m.method, charge_node_features=m.get("charge_node_features", True), charge_radial=m.get("charge_radial", False), velocity_attributes=m.get("velocity_attributes", False), position_updates=m.get("position_updates", False), rngs=rngs)  # runs saved before the field existed

    def train_batch(self, config, key, process_index, process_count) -> dict[str, np.ndarray]:
        """A batch of training systems drawn with replacement; a pure function of ``key``."""
        train = dataset(config)["train"]
        rng = host_rng(key)
        b = config.train.batch_size
        idx = rng.integers(0, len(train["charges"]), b)
        idx = idx[process_slice(b, process_index, process_count)]
        return {k: v[idx] for k, v in train.items()}

    def eval_batches(self, config) -> Iterator[dict[str, np.ndarray]]:
        """The ``config.data.eval_split`` systems, with the constant-velocity prediction ``x + T v`` as a reference."""
        s = settings(config)
        test = dict(dataset(config)[config.data.eval_split])
        test["constant_velocity"] = test["positions"] + np.float32(s.dt * s.horizon) * test["velocities"]
        bs = config.data.eval_batch_size
        for i in range(0, len(test["charges"]), bs):
            yield {k: v[i : i + bs] for k, v in test.items()}

    def loss(self, model, batch: dict[str, Any], key: jax.Array):
        del key
        pred = model(batch["positions"], batch["velocities"], batch["charges"])
        mse = jnp.mean((pred - batch["target"]) ** 2)
        return mse, {"mse": mse}

    def eval_metrics(self, model, batch: dict[str, Any]) -> dict[str, jax.Array]:
        pred = model(batch["positions"], batch["velocities"], batch["charges"])
        return {
            "mse": jnp.mean((pred - batch["target"]) ** 2, axis=(-2, -1)),
            "mse_constant_velocity": jnp.mean((batch["constant_velocity"] - batch["target"]) ** 2, axis=(-2, -1)),
        }
