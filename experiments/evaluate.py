"""Evaluate a finished run on another split of its data set.

    python -m experiments.evaluate --workdir workdirs/nbody_env/gaunt_s0 --split val [--json out.json]

Loads the run's config (its ``config.json``) and latest checkpoint (:func:`geojax.train.load_trained_model`:
the averaged parameters where the run kept an average), sets ``config.data.eval_split`` to
``--split`` and averages the task's per-example ``eval_metrics`` over that split, as training's
evaluation does. For the tasks whose configs have a ``data.eval_split`` field (``nbody``: ``train``,
``val``, ``test``; ``bpa``: its named splits). Use it to report a split that played no part in
choosing the settings (the N-body defaults were chosen on test MSE; the validation split was never
used, so a chosen run's validation MSE is an unbiased estimate for that choice).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

import numpy as np
from flax import nnx

from experiments.registry import get_task
from geojax.train import load_trained_model, saved_config


def split_metrics(task, config, model, metrics: Callable | None = None) -> dict[str, float]:
    """``{"eval/<metric>": mean over config.data.eval_split}``: the task's per-example
    ``eval_metrics`` averaged over its ``eval_batches``, summed in float64.

    ``metrics`` is ``nnx.jit(task.eval_metrics)``, made here if not given (pass one to evaluate
    several splits without compiling again).
    """
    metrics = metrics or nnx.jit(task.eval_metrics)
    sums, count = {}, 0
    for batch in task.eval_batches(config):
        per_example = {name: np.asarray(values, np.float64) for name, values in metrics(model, batch).items()}
        for name, values in per_example.items():
            sums[name] = sums.get(name, 0.0) + float(np.sum(values))
        count += len(next(iter(per_example.values())))
    return {f"eval/{name}": total / count for name, total in sums.items()}


def evaluate_run(workdir: str | Path, split: str) -> tuple[int, dict[str, float]]:
    """``(step, {"eval/<metric>": mean over the split})`` of the run in ``workdir`` on ``split``.

    Raises:
      FileNotFoundError: ``workdir`` holds no ``config.json`` or no checkpoint.
      ValueError: the run's config has no ``data.eval_split`` field, or the task has no split ``split``.
    """
    config = saved_config(workdir)
    if "eval_split" not in config.get("data", {}):
        raise ValueError(f"workdir: the config of {workdir} (task {config.task!r}) has no data.eval_split to set")
    config.unlock()
    config.data.eval_split = split
    task = get_task(config.task)
    step, model = load_trained_model(config, workdir, task)
    try:
        return step, split_metrics(task, config, model)
    except KeyError as err:
        if err.args != (split,):  # a missing key other than the split is a different error
            raise
        raise ValueError(f"split: task {config.task!r} has no split {split!r}") from None


def main(argv: list[str] | None = None) -> None:
    """Print the metrics of ``--workdir`` on ``--split`` (and write them to ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", required=True, help="a finished run (experiments.train's --workdir)")
    parser.add_argument("--split", required=True, help="the split to evaluate, e.g. val")
    parser.add_argument("--json", type=Path, default=None, help="also write {workdir, split, step, metrics} here")
    args = parser.parse_args(argv)
    step, metrics = evaluate_run(args.workdir, args.split)
    print(f"{args.workdir} at step {step} on {args.split!r}:")
    for name, value in metrics.items():
        print(f"  {name}: {value:.6g}")
    if args.json is not None:
        args.json.write_text(json.dumps({"workdir": str(args.workdir), "split": args.split, "step": step, "metrics": metrics}, indent=1))


if __name__ == "__main__":
    main()
