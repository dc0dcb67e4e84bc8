"""Table and plot of finished TSP runs: optimality gaps on the test set, as drawn and transformed.

    python -m experiments.tsp_report --runs workdirs/tsp20_tinv workdirs/tsp20_raw --out docs/tsp
"""

from __future__ import annotations

import argparse
from pathlib import Path

import ml_collections

from geojax.train import read_metrics, saved_config

COLUMNS = (
    ("gap_greedy", "greedy, city 0"),
    ("gap_pomo", "greedy, best of n starts"),
    ("gap_sample", "sampling, best of k n"),
    ("gap_greedy_moved", "greedy, city 0, transformed"),
    ("gap_pomo_moved", "best of n starts, transformed"),
)
INPUT_LABELS = {"tinv": "TinvNN (MDS) coordinates", "raw": "raw coordinates"}


def final_eval(workdir: Path) -> tuple[ml_collections.ConfigDict, dict]:
    """``(config, last evaluation metrics)`` of a finished run.

    Raises:
      FileNotFoundError / ValueError: no config, no evaluation, or none at the last step in ``workdir``.
    """
    config = saved_config(workdir)
    evals = [r for r in read_metrics(workdir / "metrics.jsonl") if "eval/len_ref" in r]
    if not evals:
        raise ValueError(f"{workdir}: no evaluation in metrics.jsonl")
    if evals[-1]["step"] != config.train.steps:
        raise ValueError(f"{workdir}: last evaluation at step {evals[-1]['step']} of {config.train.steps}: "
                         "the run has not finished (resume it with the same command)")
    return config, evals[-1]


def main(argv: list[str] | None = None) -> None:
    """Write ``results.md`` and ``results.png`` into ``--out`` (gaps in %, mean over test instances)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [final_eval(Path(r)) for r in args.runs]
    lines = ["| n | policy input | steps | test instances | k (samples per start) | " + " | ".join(label for _, label in COLUMNS) + " |",
             "|---" * (5 + len(COLUMNS)) + "|"]
    for config, m in rows:
        cells = [f"{100 * m['eval/' + k]:.2f}" if "eval/" + k in m else "n/a" for k, _ in COLUMNS]  # no sampling when k = 0
        lines.append(f"| {config.data.n_cities} | {INPUT_LABELS[config.model.input]} | {config.train.steps} | {config.data.n_test:,} | "
                     f"{config.model.eval_samples} | " + " | ".join(cells) + " |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(8, 3.8))
    width = 0.8 / len(rows)
    for i, (config, m) in enumerate(rows):
        values = [100 * m.get("eval/" + k, float("nan")) for k, _ in COLUMNS]
        label = f"TSP{config.data.n_cities}, {INPUT_LABELS[config.model.input]}"
        ax.bar(np.arange(len(COLUMNS)) + (i - (len(rows) - 1) / 2) * width, values, width, label=label)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(COLUMNS)), [label.replace(", ", ",\n") for _, label in COLUMNS], fontsize=8)
    ax.set_ylabel("optimality gap (%)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "results.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
