"""One code path from one CPU to a pod: a 1D 'data' mesh, replicated parameters, sharded batches."""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

_DISTRIBUTED_ENV = ("JAX_COORDINATOR_ADDRESS", "COORDINATOR_ADDRESS")


def maybe_initialize_distributed(requested: bool) -> bool:
    """Call ``jax.distributed.initialize()`` when asked (flag) or when the environment says so.

    On TPU pods and SLURM/Kubernetes clusters ``initialize()`` reads everything it needs from the
    environment; for a manual launch set ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES`` and
    ``JAX_PROCESS_ID``. Returns whether it initialized.
    """
    if not requested and not any(os.environ.get(k) for k in _DISTRIBUTED_ENV):
        return False
    kwargs = {}
    if os.environ.get("JAX_COORDINATOR_ADDRESS"):
        kwargs = dict(
            coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"],
            num_processes=int(os.environ["JAX_NUM_PROCESSES"]),
            process_id=int(os.environ["JAX_PROCESS_ID"]),
        )
    jax.distributed.initialize(**kwargs)
    return True


def make_data_mesh(num_devices: int | None = None) -> Mesh:
    """A mesh with one 'data' axis over all devices (or the first ``num_devices``, single process).

    Raises:
      ValueError: ``num_devices`` outside ``[1, jax.device_count()]`` or used with several processes.
    """
    devices = jax.devices()
    if num_devices:
        if jax.process_count() > 1 and num_devices != len(devices):
            raise ValueError("num_devices can only restrict the mesh in a single-process run")
        if not 1 <= num_devices <= len(devices):
            raise ValueError(f"num_devices must lie in [1, {len(devices)}], got {num_devices}")
        devices = devices[:num_devices]
    return Mesh(np.array(devices), ("data",), axis_types=(AxisType.Auto,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def data_sharded(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P("data"))


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Place every leaf on every device of the mesh."""
    return jax.device_put(tree, replicated(mesh))


def shard_batch(local_batch: dict, mesh: Mesh) -> dict:
    """Host-local batch slices -> global arrays sharded over 'data'.

    Each process passes its own slice (leading axis ``global_batch / process_count``); the global
    batch must divide evenly over the mesh's devices.
    """
    sharding = data_sharded(mesh)
    out = {}
    for name, value in local_batch.items():
        value = np.asarray(value)
        global_len = value.shape[0] * jax.process_count()
        if global_len % mesh.devices.size:
            raise ValueError(
                f"batch field {name!r}: the global batch ({global_len}) must divide over the {mesh.devices.size} devices"
            )
        out[name] = jax.make_array_from_process_local_data(sharding, value, (global_len,) + value.shape[1:])
    return out
