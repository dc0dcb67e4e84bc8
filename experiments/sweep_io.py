"""What the experiment sweeps share: config files, the resumable results file, the table cells."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import Callable

import numpy as np

from geojax.train.metrics import read_metrics, write_json_lines


def load_get_config(config_file: str) -> Callable:
    """``get_config`` of ``configs/<config_file>`` (config files are files, not package modules)."""
    path = Path(__file__).resolve().parents[1] / "configs" / config_file
    spec = importlib.util.spec_from_file_location(f"_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config


def fmt_mean_std(values: list[float]) -> str:
    """``"mean ± std"`` of fractions, in percent with one decimal (sample std; the value alone for
    one run, whose spread is unknown; ``n/a`` if empty)."""
    if not values:
        return "n/a"
    a = 100 * np.asarray(values)
    return f"{a.mean():.1f} ± {a.std(ddof=1):.1f}" if len(a) > 1 else f"{a[0]:.1f}"


def open_results(out: str | Path) -> tuple[Path, list[dict], dict[str, dict]]:
    """``(results.jsonl path, records so far, the finished runs' records by name)`` in the sweep
    folder ``out`` (created)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.jsonl"
    records = read_metrics(path)
    if path.exists() and not path.read_text().endswith("\n"):
        write_json_lines(path, records)  # drop a torn last record before appending after it
    return path, records, {r["name"]: r for r in records}


def check_finished_run(record: dict, settings: dict, out: str | Path) -> None:
    """Refuse to reuse a finished run whose stored settings differ from this sweep's: one table
    cell would average runs of different settings.

    Raises:
      ValueError: naming the run, the differing settings and what to do.
    """
    diff = {k: (record.get(k), v) for k, v in settings.items() if record.get(k) != v}
    if diff:
        listed = ", ".join(f"{k}={old!r} (this sweep: {new!r})" for k, (old, new) in diff.items())
        raise ValueError(f"{Path(out) / 'results.jsonl'} holds {record['name']} with {listed}: use another --out, "
                         "or delete that record to re-run it")


def append_record(path: Path, record: dict) -> None:
    """Append one finished run to ``results.jsonl`` (one JSON object per line)."""
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def quiet_training_logs() -> None:
    """Only warnings from absl/orbax and the trainer while a sweep prints its own progress lines."""
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.WARNING)
    logging.getLogger("geojax.train").setLevel(logging.WARNING)
