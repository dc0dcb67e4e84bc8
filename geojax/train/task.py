"""What the trainer needs from an experiment: the ``Task`` protocol."""

from __future__ import annotations

from typing import Any, Iterable, Protocol

import jax
import ml_collections
import numpy as np
from flax import nnx

Batch = dict[str, np.ndarray]


class Task(Protocol):
    """An experiment: data, model, loss and metrics. The trainer owns everything else.

    Batches are dicts of arrays whose leading axis is the example axis (sharded over 'data').
    """

    def make_model(self, config: ml_collections.ConfigDict, rngs: nnx.Rngs) -> nnx.Module:
        """A fresh model for ``config.model``."""

    def train_batch(self, config: ml_collections.ConfigDict, key: jax.Array, process_index: int, process_count: int) -> Batch:
        """This process's slice of the global training batch for the step whose data key is ``key``.

        Must be a pure function of its arguments: that is what makes resumed runs bitwise equal.
        """

    def eval_batches(self, config: ml_collections.ConfigDict) -> Iterable[Batch]:
        """The fixed evaluation set, as global batches (the trainer pads and shards them)."""

    def loss(self, model: nnx.Module, batch: Batch, key: jax.Array) -> tuple[jax.Array, dict[str, Any]]:
        """Mean training loss over the batch and scalar metrics to log."""

    def eval_metrics(self, model: nnx.Module, batch: Batch) -> dict[str, jax.Array]:
        """Per-example metrics ``[batch]``; the trainer averages them over the evaluation set."""


def host_rng(key: jax.Array) -> np.random.Generator:
    """A NumPy generator seeded by the data of a JAX key: host-side batches stay pure functions of the key."""
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())


def process_slice(batch_size: int, process_index: int, process_count: int) -> slice:
    """This process's rows of a global batch of ``batch_size`` (equal contiguous shares).

    Raises:
      ValueError: ``batch_size`` is not a multiple of ``process_count`` (the rest would be dropped).
    """
    if batch_size % process_count:
        raise ValueError(f"train.batch_size must be a multiple of the number of processes ({process_count}), "
                         f"got {batch_size}")
    per = batch_size // process_count
    return slice(process_index * per, (process_index + 1) * per)
