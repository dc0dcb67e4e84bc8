"""Tables and plot of finished E(3) runs: N-body test MSE and 3BPA-style RMSE per temperature, Gaunt vs CG.

    python -m experiments.e3_report --nbody workdirs/nbody/* --bpa workdirs/bpa/* --out docs/e3

N-body rows read the final test evaluation from each run's ``metrics.jsonl``; 3BPA-style rows
restore each run's last checkpoint and evaluate it on every test temperature. Training speed is the
median ``steps_per_sec`` the trainer logged (wall clock, shared machine: compare within one table).
Runs are grouped by model (product, and whether the many-body factors are distinct); cells are mean +- sample std over the runs (seeds) of a group.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import ml_collections
import numpy as np
from flax import nnx

from geojax.train import read_metrics, saved_config

PRODUCT_LABELS = {"gaunt": "Gaunt (s2grid)", "cg": "CG twin (e3nn-jax)"}


def model_label(model: ml_collections.ConfigDict) -> str:
    """The table label of a run's ``config.model``: its product, plus the many-body variant and the
    Gaunt path rank if set."""
    label = PRODUCT_LABELS[model.product]
    if model.get("distinct_factors", False):
        label += ", distinct factors"
    if model.product == "gaunt" and model.get("path_rank", 1) > 1:
        label += f", path rank {model.path_rank}"
    return label


def _speed(records: list[dict]) -> float:
    rates = [r["steps_per_sec"] for r in records if "steps_per_sec" in r]
    return float(np.median(rates)) if rates else float("nan")


def _cell(values: list[float], fmt: str = ".4f") -> str:
    """``mean ± std`` over runs (sample std); the value alone for one run, whose spread is unknown."""
    if not values:
        return "n/a"
    a = np.asarray(values, float)
    return f"{a.mean():{fmt}} ± {a.std(ddof=1):{fmt}}" if len(a) > 1 else f"{a[0]:{fmt}}"


def _group(groups: dict, labels: dict[str, str], config: ml_collections.ConfigDict, fields: tuple[str, ...]) -> dict:
    """The row of ``groups`` for the runs whose configs equal ``config`` except for the seed (only
    seeds are averaged), created if new. ``labels`` maps each such config (as JSON) to its row's
    label: :func:`model_label`, numbered when two rows share it."""
    key = json.dumps({k: v for k, v in json.loads(config.to_json_best_effort(sort_keys=True)).items() if k != "seed"},
                     sort_keys=True)
    if key not in labels:
        label = model_label(config.model)
        same = sum(1 for other in groups if other == label or other.startswith(label + " ("))
        labels[key] = label if not same else f"{label} ({same + 1})"
        groups[labels[key]] = {k: [] for k in fields}
    return groups[labels[key]]


def nbody_rows(runs: list[Path]) -> dict[str, dict[str, list[float]]]:
    """``{label: {"mse": [...], "ms_per_step": [...], "params": [...]}}`` from finished N-body runs."""
    groups: dict[str, dict[str, list[float]]] = {}
    labels: dict[str, str] = {}
    for run in runs:
        config, records = saved_config(run), read_metrics(run / "metrics.jsonl")
        evals = [r for r in records if "eval/mse" in r]
        if not evals or evals[-1]["step"] != config.train.steps:
            raise ValueError(f"{run}: no final evaluation (unfinished run?)")
        if config.data.get("eval_split", "test") != "test":
            raise ValueError(f"{run}: evaluated on {config.data.eval_split!r}; the table reports the test split")
        g = _group(groups, labels, config, ("mse", "ms_per_step", "lmax", "steps"))
        g["mse"].append(evals[-1]["eval/mse"])
        g["ms_per_step"].append(1e3 / _speed(records))
        g["lmax"].append(config.model.lmax)
        g["steps"].append(config.train.steps)
    return groups


def bpa_rows(runs: list[Path]) -> dict[str, dict[str, list[float]]]:
    """``{label: {"E_test_300K": [meV], "F_test_300K": [meV/A], ..., "ms_per_step": [...]}}``."""
    from experiments.bpa import BPATask, splits
    from experiments.evaluate import split_metrics
    from geojax.train import load_trained_model

    groups: dict[str, dict[str, list[float]]] = {}
    labels: dict[str, str] = {}
    task = BPATask()
    for run in runs:
        config = saved_config(run)
        config.data.temperatures = tuple(config.data.temperatures)
        step, model = load_trained_model(config, run, task)
        if step != config.train.steps:
            raise ValueError(f"{run}: checkpoint at step {step}, expected {config.train.steps} (unfinished run?)")
        g = _group(groups, labels, config, ("ms_per_step", "lmax"))
        g["ms_per_step"].append(1e3 / _speed(read_metrics(run / "metrics.jsonl")))
        g["lmax"].append(config.model.lmax)
        metrics = nnx.jit(task.eval_metrics)
        for name in splits(config):
            if name == "train":
                continue
            config.data.eval_split = name
            m = split_metrics(task, config, model, metrics)  # every molecule has the same atoms: RMSE over all
            g.setdefault(f"E_{name}", []).append(1e3 * float(np.sqrt(m["eval/energy_se"])))
            g.setdefault(f"F_{name}", []).append(1e3 * float(np.sqrt(m["eval/forces_se"])))
    return groups


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nbody", nargs="*", default=[])
    parser.add_argument("--bpa", nargs="*", default=[])
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines, summary = [], {}
    if args.nbody:
        groups = nbody_rows([Path(r) for r in args.nbody])
        summary["nbody"] = groups
        lines += ["### Charged N-body (MSE on the test split)", "",
                  "| model | L | runs | steps | test MSE | ms / training step |", "|---|---|---|---|---|---|"]
        for label, g in groups.items():
            lines.append(f"| {label} | {g['lmax'][0]} | {len(g['mse'])} | {int(g['steps'][0])} | {_cell(g['mse'])} | {_cell(g['ms_per_step'], '.1f')} |")
        lines.append("")
    if args.bpa:
        groups = bpa_rows([Path(r) for r in args.bpa])
        summary["bpa"] = groups
        temps = sorted({k[2:] for g in groups.values() for k in g if k.startswith("E_")}, key=lambda s: int(s.split("_")[1][:-1]))
        lines += ["### 3BPA-style (GFN2-xTB labels): energy RMSE (meV) / force RMSE (meV/A)", "",
                  "| model | L | runs | " + " | ".join(t.replace("test_", "") for t in temps) + " | ms / training step |",
                  "|---" * (4 + len(temps)) + "|"]
        for label, g in groups.items():
            cells = [f"{_cell(g['E_' + t], '.1f')} / {_cell(g['F_' + t], '.1f')}" for t in temps]
            lines.append(f"| {label} | {g['lmax'][0]} | {len(g['ms_per_step'])} | " + " | ".join(cells) + f" | {_cell(g['ms_per_step'], '.0f')} |")
        lines.append("")
    (out / "results.md").write_text("\n".join(lines))
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    print("\n".join(lines))
    if "bpa" in summary:
        _plot(summary["bpa"], out / "bpa_forces.png")
    if "nbody" in summary:
        _plot_nbody(summary["nbody"], out / "nbody_mse.png")


# Published N-body test MSEs on the original EGNN data (not the regenerated set): reference lines only.
NBODY_ANCHORS = {"EGNN": 0.0071, "FA-GNN (the goal)": 0.0057, "SEGNN + Gaunt": 0.0048}


def _plot_nbody(groups: dict, path: Path) -> None:
    """Bars of the test MSE per product (mean, seed std as error bar, each seed a dot), anchors as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    for i, g in enumerate(groups.values()):
        mse = np.asarray(g["mse"])
        ax.bar(i, mse.mean(), 0.6, yerr=mse.std(ddof=1) if len(mse) > 1 else 0.0, capsize=3, color=f"C{i}")
        ax.plot(np.full(len(mse), i), mse, "k.", zorder=3)
    for k, (name, value) in enumerate(NBODY_ANCHORS.items()):
        ax.axhline(value, color="0.4", ls=("--", ":", "-.")[k % 3], lw=1, label=f"{name} {value} (published, original data)")
    ax.set_xticks(range(len(groups)), list(groups))
    ax.set_ylabel("test MSE")
    ax.set_title("Charged N-body (regenerated)")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def _plot(groups: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    temps = sorted({k[2:] for g in groups.values() for k in g if k.startswith("F_")}, key=lambda s: int(s.split("_")[1][:-1]))
    fig, ax = plt.subplots(figsize=(5, 3.5))
    width = 0.8 / len(groups)
    for i, (label, g) in enumerate(groups.items()):
        means = [np.mean(g["F_" + t]) for t in temps]
        stds = [np.std(g["F_" + t], ddof=1) if len(g["F_" + t]) > 1 else 0.0 for t in temps]
        ax.bar(np.arange(len(temps)) + (i - (len(groups) - 1) / 2) * width, means, width, yerr=stds, capsize=3, label=label)
    ax.set_xticks(np.arange(len(temps)), [t.replace("test_", "") for t in temps])
    ax.set_ylabel("force RMSE (meV/A)")
    ax.set_title("3BPA-style (GFN2-xTB labels), trained at 300 K")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


if __name__ == "__main__":
    main()
