"""Tasks by name: a new experiment is a config plus a task module, not a copy of the loop."""

from __future__ import annotations

import importlib

from geojax.train.task import Task

TASKS = {
    "tetris": "experiments.tetris:TetrisTask",
    "pointcloud": "experiments.pointcloud:PointCloudTask",
    "affnist": "experiments.affnist:AffNISTTask",
    "tsp": "experiments.tsp:TSPTask",
    "nbody": "experiments.nbody:NBodyTask",
    "bpa": "experiments.bpa:BPATask",
}


def get_task(name: str) -> Task:
    """The task registered as ``name``; ``ValueError`` listing the registered names otherwise."""
    if name not in TASKS:
        raise ValueError(f"config.task must be one of {sorted(TASKS)}, got {name!r}")
    module, cls = TASKS[name].split(":")
    return getattr(importlib.import_module(module), cls)()
