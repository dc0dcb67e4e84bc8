"""What a result ran on: package versions, Python, CPU, backend, devices, processes and when."""

from __future__ import annotations

import datetime
import os
import platform
from importlib import metadata

import jax

_PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "e3nn-jax", "numpy", "geojax")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else :func:`platform.processor`), or ``"unknown"``."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def usable_cpus() -> int:
    """CPU cores this process may run on (its affinity mask, so ``taskset -c 0`` gives 1)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def environment_info() -> dict:
    """Versions of the stack, Python, machine, CPU model and usable cores, backend, devices,
    process counts and the UTC time (JSON-ready): absolute timings hold only for the machine and
    the moment they came from, so every result file records both."""
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
        "cpu": cpu_model(),
        "usable_cpus": usable_cpus(),
        "utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "device_kind": jax.devices()[0].device_kind,
        "process_count": jax.process_count(),
        "local_device_count": jax.local_device_count(),
    }
