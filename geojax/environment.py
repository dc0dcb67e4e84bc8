"""What a result ran on: package versions, Python, backend, devices and processes."""

from __future__ import annotations

import platform
from importlib import metadata

import jax

_PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "e3nn-jax", "numpy", "geojax")


def environment_info() -> dict:
    """Versions of the stack, Python, machine, backend, devices and process counts (JSON-ready)."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "versions": versions,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "device_kind": jax.devices()[0].device_kind,
        "process_count": jax.process_count(),
        "local_device_count": jax.local_device_count(),
    }
