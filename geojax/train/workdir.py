"""Workdir bookkeeping: the run's config and environment, and refusing to mix runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax
import ml_collections
from jax.experimental import multihost_utils

from geojax.environment import environment_info
from geojax.train.metrics import write_text_atomic


class WorkdirConflict(RuntimeError):
    """The workdir holds a run of another config."""


def _config_dict(config: ml_collections.ConfigDict) -> dict:
    return json.loads(config.to_json_best_effort(sort_keys=True))


def prepare_workdir(workdir: str | Path, config: ml_collections.ConfigDict, *, overwrite: bool = False) -> Path:
    """Create ``workdir``, or check that it holds a run of the same config (to resume it).

    Writes ``config.json`` and ``environment.json`` (process 0).

    Raises:
      WorkdirConflict: the workdir's ``config.json`` differs from ``config`` and ``overwrite`` is
        False; the message lists the differing fields. With ``overwrite`` the old run is deleted.
    """
    workdir = Path(workdir)
    saved_path = workdir / "config.json"
    current = _config_dict(config)
    if saved_path.exists():
        saved = json.loads(saved_path.read_text())
        if saved != current:
            if not overwrite:
                diffs = sorted(_diff(saved, current))
                raise WorkdirConflict(
                    f"workdir {workdir} holds a run of a different config (fields differ: {', '.join(diffs)}); "
                    "pass --overwrite to delete it and start again, or choose another --workdir"
                )
            if jax.process_index() == 0:
                shutil.rmtree(workdir)
    if jax.process_index() == 0:
        workdir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(saved_path, json.dumps(current, indent=2, sort_keys=True) + "\n")
        write_text_atomic(workdir / "environment.json", json.dumps(environment_info(), indent=2) + "\n")
    if jax.process_count() > 1:  # no process may read the old run's files while process 0 replaces them
        multihost_utils.sync_global_devices("geojax.prepare_workdir")
    return workdir


def saved_config(workdir: str | Path) -> ml_collections.ConfigDict:
    """The config of the run in ``workdir`` (its ``config.json``; JSON turns tuples into lists).

    Raises:
      FileNotFoundError: ``workdir`` holds no ``config.json``.
    """
    path = Path(workdir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"no config.json in {workdir} (not a run directory?)")
    return ml_collections.ConfigDict(json.loads(path.read_text()))


def _diff(a: dict, b: dict, prefix: str = "") -> set[str]:
    out = set()
    for key in set(a) | set(b):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out |= _diff(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.add(prefix + key)
    return out
