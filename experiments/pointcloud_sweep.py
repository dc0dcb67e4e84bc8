"""The rotated point-cloud protocol grid, trained through ``train_and_evaluate`` in one process.

    python -m experiments.pointcloud_sweep --out workdirs/pointcloud_sweep [--seeds 3]
        [--backbones pointnet,dgcnn] [--inputs xyz,mds,mds_proper,fa,fa_proper]
        [--pointnet-steps 1000] [--dgcnn-steps 400] [--dgcnn-fa-train sample] [--quick] [--table-only]

For every backbone x input x seed it trains twice (training rotations "z" and "so3") with
``configs/pointcloud.py`` and reads three protocols off the evaluations: z/z (``eval/acc_z`` of
the z-trained run), z/SO(3) (``eval/acc_so3`` of the z-trained run) and SO(3)/SO(3)
(``eval/acc_so3`` of the so3-trained run), plus the chiral-pair accuracy under z/SO(3). Writes into
``--out``: ``runs/<name>/`` (each run's workdir), ``results.jsonl`` (one line per finished run;
re-running skips those, so an interrupted sweep resumes), ``results.md`` (mean +- std over seeds,
in percent) and ``results.png``. Runs go seed by seed, so an interrupted sweep has complete grids
for its first seeds; ``--table-only`` writes the table and plot from what has finished.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from experiments.sweep_io import append_record, check_finished_run, fmt_mean_std, load_get_config, open_results, quiet_training_logs

ANCHORS = {"PointNet": 19.6, "DGCNN": 33.8, "VN-DGCNN": 89.5, "RIConv++": 91.3}
"""Published ModelNet40 z/SO(3) accuracies (%), printed beside ours; not comparable one-to-one."""
INPUT_LABELS = {
    "xyz": "raw xyz",
    "mds": "TinvNN MDS (O(3))",
    "mds_proper": "TinvNN MDS, proper (SO(3))",
    "fa": "frame averaging (E(3))",
    "fa_proper": "frame averaging (SE(3))",
}
PROTOCOLS = (("z/z", "z", "eval/acc_z"), ("z/SO(3)", "z", "eval/acc_so3"), ("SO(3)/SO(3)", "so3", "eval/acc_so3"))


def run_name(backbone: str, inp: str, rot: str, seed: int) -> str:
    """The run's directory name, e.g. ``pointnet-mds-z-s0``."""
    return f"{backbone}-{inp}-{rot}-s{seed}"


def summarize(records: list[dict], backbones: list[str], inputs: list[str], notes: list[str]) -> str:
    """The markdown results table (mean ± sample std over seeds, percent) from run records.

    Raises:
      Nothing: missing runs print as ``n/a``.
    """

    def values(backbone, inp, rot, metric):
        return [r["metrics"][metric] for r in records if (r["backbone"], r["input"], r["rot"]) == (backbone, inp, rot)]

    lines = [
        "| backbone | input | z/z | z/SO(3) | SO(3)/SO(3) | drop z/z -> z/SO(3) | chiral pair, z/SO(3) | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for backbone in backbones:
        for inp in inputs:
            cells = [fmt_mean_std(values(backbone, inp, rot, metric)) for _, rot, metric in PROTOCOLS]
            zz, zs = values(backbone, inp, "z", "eval/acc_z"), values(backbone, inp, "z", "eval/acc_so3")
            drop = fmt_mean_std([a - b for a, b in zip(zz, zs)])
            chiral = fmt_mean_std(values(backbone, inp, "z", "eval/chiral_acc_so3"))
            seeds = min(len(zz), len(values(backbone, inp, "so3", "eval/acc_so3")))
            name = {"pointnet": "PointNet", "dgcnn": "DGCNN"}[backbone]
            lines.append(f"| {name} | {INPUT_LABELS[inp]} | " + " | ".join(cells) + f" | {drop} | {chiral} | {seeds} |")
    lines.append("")
    lines.append(
        "Accuracy in % (mean ± std over seeds) on the fixed procedurally generated test set; protocol = "
        "training rotations / test rotations. Chiral pair: accuracy on the two mirror-image helix classes "
        "alone (chance 50% between them)."
    )
    lines.append(
        "Published ModelNet40 z/SO(3) anchors, NOT comparable (different, real data): "
        + ", ".join(f"{k} {v}" for k, v in ANCHORS.items())
        + "."
    )
    lines += notes
    return "\n".join(lines) + "\n"


def plot(records: list[dict], backbones: list[str], inputs: list[str], path: Path) -> None:
    """Grouped bars (mean ± std) of the three protocols per backbone and input, saved to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(backbones), figsize=(6 * len(backbones), 4.6), squeeze=False)
    width = 0.8 / len(PROTOCOLS)
    for ax, backbone in zip(axes[0], backbones):
        for p, (label, rot, metric) in enumerate(PROTOCOLS):
            means, stds = [], []
            for inp in inputs:
                v = 100 * np.asarray([r["metrics"][metric] for r in records if (r["backbone"], r["input"], r["rot"]) == (backbone, inp, rot)])
                means.append(v.mean() if len(v) else np.nan)
                stds.append(v.std(ddof=1) if len(v) > 1 else 0.0)
            ax.bar(np.arange(len(inputs)) + (p - 1) * width, means, width, yerr=stds, label=label, capsize=2)
        ax.set_xticks(np.arange(len(inputs)), [INPUT_LABELS[i].replace(" (", "\n(").replace(", ", ",\n").replace("frame averaging", "frame avg.") for i in inputs], fontsize=8)
        ax.set_ylim(0, 100)
        ax.set_ylabel("test accuracy (%)")
        ax.set_title({"pointnet": "PointNet", "dgcnn": "DGCNN"}[backbone])
        ax.grid(axis="y", alpha=0.3)
        ax.legend(title="train/test rotations", fontsize=8, title_fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    fig.suptitle("Rotated procedural point clouds (12 classes)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    """Run (or resume) the grid and write the table and plot; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--backbones", default="pointnet,dgcnn")
    parser.add_argument("--inputs", default="xyz,mds,mds_proper,fa,fa_proper")
    parser.add_argument("--pointnet-steps", type=int, default=1000)
    parser.add_argument("--dgcnn-steps", type=int, default=400)
    parser.add_argument("--dgcnn-fa-train", default="sample", choices=("average", "sample"))
    parser.add_argument("--quick", action="store_true", help="the :quick config for every run (a smoke test)")
    parser.add_argument("--table-only", action="store_true", help="train nothing; write the table from results.jsonl")
    args = parser.parse_args(argv)
    backbones, inputs = args.backbones.split(","), args.inputs.split(",")
    for b in backbones:
        if b not in ("pointnet", "dgcnn"):
            raise ValueError(f"--backbones: unknown backbone {b!r}; use pointnet,dgcnn")
    for i in inputs:
        if i not in INPUT_LABELS:
            raise ValueError(f"--inputs: unknown input {i!r}; use some of {','.join(INPUT_LABELS)}")
    if args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {args.seeds}")

    import jax

    from experiments.pointcloud import PointCloudTask
    from geojax.train import train_and_evaluate

    quiet_training_logs()
    get_config = load_get_config("pointcloud.py")
    out = Path(args.out)
    results_path, records, finished = open_results(out)
    task = PointCloudTask()
    # seed-major: an interrupted sweep has whole grids for its first seeds
    grid = [(b, i, r, s) for s in range(args.seeds) for b in backbones for i in inputs for r in ("z", "so3")]
    if args.table_only:
        grid = []
    start = time.perf_counter()
    if not args.table_only:
        print(f"{len(grid)} runs ({len(finished.keys() & {run_name(*g) for g in grid})} already done) on {jax.devices()}", flush=True)
    for n, (backbone, inp, rot, seed) in enumerate(grid, 1):
        name = run_name(backbone, inp, rot, seed)
        config = get_config(",".join([backbone, inp, rot] + (["quick"] if args.quick else [])))
        config.seed = seed
        if not args.quick:
            config.train.steps = args.pointnet_steps if backbone == "pointnet" else args.dgcnn_steps
            if backbone == "dgcnn":
                config.model.fa_train = args.dgcnn_fa_train
        if name in finished:
            check_finished_run(finished[name], {"steps": config.train.steps, "batch_size": config.train.batch_size,
                                                "fa_train": config.model.fa_train}, out)
            continue
        config.train.eval_every = config.train.steps
        config.train.checkpoint_every = config.train.steps
        t0 = time.perf_counter()
        result = train_and_evaluate(config, out / "runs" / name, task, overwrite=True)
        seconds = time.perf_counter() - t0
        if not result.eval_metrics:  # interrupted before its evaluation: not a result; resumes next time
            print(f"{name}: interrupted, not recorded", flush=True)
            break
        record = {"name": name, "backbone": backbone, "input": inp, "rot": rot, "seed": seed, "steps": config.train.steps, "batch_size": config.train.batch_size,
                  "fa_train": config.model.fa_train, "seconds": seconds, "metrics": result.eval_metrics}
        records.append(record)
        append_record(results_path, record)
        m = result.eval_metrics
        print(
            f"[{n}/{len(grid)}] {name}: acc_z {m['eval/acc_z']:.3f} acc_so3 {m['eval/acc_so3']:.3f} chiral_so3 "
            f"{m['eval/chiral_acc_so3']:.3f} ({seconds:.0f} s; {time.perf_counter() - start:.0f} s total)",
            flush=True,
        )
    steps = {b: sorted({r["steps"] for r in records if r["backbone"] == b}) for b in backbones}
    fa = sorted({(r["backbone"], r["fa_train"]) for r in records if r["input"].startswith("fa")})
    notes = [
        "",
        "Training steps (batch " + ",".join(sorted({str(r.get("batch_size", "?")) for r in records})) + "): " + ", ".join(f"{b} {s}" for b, s in steps.items())
        + ". Frame-averaged training: " + ", ".join(f"{b} {f}" for b, f in fa)
        + " (sample = one random PCA frame per cloud per step; evaluation always averages all frames).",
    ]
    table = summarize(records, backbones, inputs, notes)
    (out / "results.md").write_text(table)
    plot(records, backbones, inputs, out / "results.png")
    print(table)
    print(f"table: {out / 'results.md'}\nplot:  {out / 'results.png'}\nwall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
