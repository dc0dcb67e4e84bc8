"""Plots of the training curves (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

from geojax.train.metrics import read_metrics


def plot_metrics(workdir: str | Path) -> list[Path]:
    """One PNG per metric of ``workdir/metrics.jsonl`` into ``workdir/plots``; returns the paths.

    Does nothing (returns []) if matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    records = read_metrics(Path(workdir) / "metrics.jsonl")
    names = sorted({k for r in records for k in r if k not in ("step", "steps_per_sec")})
    out_dir = Path(workdir) / "plots"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        points = [(r["step"], r[name]) for r in records if isinstance(r.get(name), (int, float))]
        if not points:
            continue
        fig, ax = plt.subplots(figsize=(5, 3.2), dpi=120)
        ax.plot(*zip(*points), marker="o" if len(points) < 30 else None, ms=3)
        ax.set_xlabel("step")
        ax.set_ylabel(name)
        if name.endswith("loss") and all(v > 0 for _, v in points):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = out_dir / (name.replace("/", "_") + ".png")
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths
