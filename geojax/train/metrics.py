"""Metrics as JSON lines (process 0 only) and a progress bar with steps/s and ETA."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jax
from tqdm.auto import tqdm


def read_metrics(path: str | Path) -> list[dict]:
    """All records of a ``metrics.jsonl`` file (empty if it does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


class MetricWriter:
    """Appends one JSON object per line to ``workdir/metrics.jsonl`` from process 0.

    ``resume_from(step)`` drops records newer than the restored checkpoint, so a resumed run's
    file reads as if the run had never stopped.
    """

    def __init__(self, workdir: str | Path):
        self.path = Path(workdir) / "metrics.jsonl"
        self.enabled = jax.process_index() == 0

    def resume_from(self, step: int) -> None:
        if not self.enabled:
            return
        kept = [r for r in read_metrics(self.path) if r["step"] <= step]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
        tmp.replace(self.path)

    def write(self, step: int, **values) -> None:
        if not self.enabled:
            return
        record = {"step": int(step)}
        for k, v in values.items():
            v = float(v)
            record[k] = v if math.isfinite(v) else str(v)
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")


def progress_bar(start: int, total: int, *, desc: str = "train") -> tqdm:
    """A tqdm bar from ``start`` to ``total`` (process 0 only) showing steps/s and ETA."""
    return tqdm(
        total=total,
        initial=start,
        desc=desc,
        unit="step",
        dynamic_ncols=True,
        mininterval=1.0,
        disable=jax.process_index() != 0,
    )
