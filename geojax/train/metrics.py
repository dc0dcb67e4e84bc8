"""Metrics as JSON lines (process 0 only) and a progress bar with steps/s and ETA."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import jax
from tqdm.auto import tqdm

log = logging.getLogger(__name__)


def read_metrics(path: str | Path) -> list[dict]:
    """All records of a JSON-lines file such as ``metrics.jsonl`` (empty if it does not exist).

    Every record is written with its newline, so text after the last newline is a record torn by a
    kill or a full disk: it is skipped with a warning (:func:`write_json_lines` then drops it).

    Raises:
      json.JSONDecodeError: a complete line that is not JSON (the file was edited by hand).
    """
    path = Path(path)
    if not path.exists():
        return []
    complete, _, torn = path.read_text().rpartition("\n")
    if torn.strip():
        log.warning("%s: skipping a torn last record (%d characters without a newline)", path, len(torn))
    return [json.loads(line) for line in complete.split("\n") if line.strip()]


def write_text_atomic(path: str | Path, text: str) -> None:
    """Replace ``path`` by ``text`` through a temporary file renamed over it: a kill leaves the old
    file or the new one, never a truncated one."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_json_lines(path: str | Path, records: list[dict]) -> None:
    """Replace ``path`` by ``records``, one JSON object per line, atomically (:func:`write_text_atomic`)."""
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in records))


class MetricWriter:
    """Appends one JSON object per line to ``workdir/metrics.jsonl`` from process 0.

    ``resume_from(step)`` drops records newer than the restored checkpoint (all of them when a
    run starts at step 0) and a torn last line, so a resumed run's file reads as if the run had
    never stopped.
    """

    def __init__(self, workdir: str | Path):
        self.path = Path(workdir) / "metrics.jsonl"
        self.enabled = jax.process_index() == 0

    def resume_from(self, step: int) -> None:
        if not self.enabled:
            return
        write_json_lines(self.path, [r for r in read_metrics(self.path) if r["step"] <= step])

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
