"""Gaunt vs Clebsch-Gordan: training-step time, inference throughput and memory of the E(3) potential.

    python -m experiments.e3_speed --lmax 2 3 4 5 6 --out docs/e3

Both twins are :class:`geojax.nn.GauntPotential` with the same channels, layers, correlation and
cutoff, differing only in ``product``. Inputs: a batch of molecules of the 3BPA size (27 atoms,
jittered 3 x 3 x 3 lattice, 1.4 A spacing, so pairs within the 5 A cutoff are as dense as in the
molecule). Measured in one process, with :func:`geojax.bench.timing.time_jitted` (lower + compile
timed separately, warm-up, ``block_until_ready``, median and 10-90% spread):

* ``train``: value and gradient with respect to the parameters of the energy + force loss (forces
  are ``-dE/dx``, so this is a second-order derivative), the cost of one training step without the
  optimizer update;
* ``infer``: energies and forces; throughput in configurations per second;
* ``memory``: XLA's scratch memory of the compiled training step.

Writes ``e3_speed.json``, ``e3_speed.csv`` and ``e3_speed.png`` (time against L) into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from geojax.bench.timing import time_jitted
from geojax.environment import environment_info
from geojax.nn import GauntPotential

PRODUCTS = ("gaunt", "cg")


def molecules(batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(positions [batch, 27, 3], species [batch, 27])``: jittered 3x3x3 lattices, 4 species."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(3.0)] * 3, indexing="ij"), -1).reshape(-1, 3) * 1.4
    positions = grid[None] + rng.normal(scale=0.15, size=(batch, 27, 3))
    species = rng.integers(0, 4, size=(batch, 27))
    return positions.astype(np.float32), species.astype(np.int32)


def measure(product: str, lmax: int, args, path_rank: int = 1) -> dict:
    model = GauntPotential(num_species=4, channels=args.channels, lmax=lmax, layers=args.layers, correlation=args.correlation, distinct_factors=args.distinct_factors, path_rank=path_rank, cutoff=5.0, product=product, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model)
    positions, species = (jnp.asarray(a) for a in molecules(args.batch))
    target_e, target_f = jnp.zeros(args.batch), jnp.zeros_like(positions)

    def loss(params, positions):
        energy, forces = nnx.merge(graphdef, params).energy_and_forces(positions, species)
        return jnp.mean((energy - target_e) ** 2) + 10.0 * jnp.mean((forces - target_f) ** 2)

    def infer(params, positions):
        return nnx.merge(graphdef, params).energy_and_forces(positions, species)

    train = time_jitted(jax.value_and_grad(loss), params, positions, repeats=args.repeats)
    inference = time_jitted(infer, params, positions, repeats=args.repeats)
    return {
        "product": product, "lmax": lmax, "batch": args.batch, "channels": args.channels, "layers": args.layers, "correlation": args.correlation,
        "distinct_factors": args.distinct_factors, "path_rank": path_rank if product == "gaunt" else None, "train_ms": train.median_ms, "train_p10_ms": train.p10_ms, "train_p90_ms": train.p90_ms, "train_compile_s": train.compile_s,
        "train_temp_mb": None if train.temp_bytes is None else train.temp_bytes / 2**20,
        "infer_ms": inference.median_ms, "infer_configs_per_s": args.batch / (inference.median_ms * 1e-3), "infer_compile_s": inference.compile_s,
        "params": sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params)),
    }


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    variants = sorted({(r["product"], r.get("path_rank")) for r in rows}, key=lambda v: (v[0] != "gaunt", v[1] or 0))
    for (product, rank), marker in zip(variants, "os^vD"):
        pts = [(r["lmax"], r["train_ms"], r["train_p10_ms"], r["train_p90_ms"]) for r in rows if (r["product"], r.get("path_rank")) == (product, rank)]
        l, t, lo, hi = map(np.asarray, zip(*pts))
        label = f"{product} twin" + (f", path rank {rank}" if product == "gaunt" and rank and rank > 1 else "")
        ax.errorbar(l, t, yerr=[t - lo, hi - t], marker=marker, capsize=3, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("L (degree of features and edge harmonics)")
    ax.set_ylabel("training step (ms, median, 10-90%)")
    ax.set_title(f"E(3) potential, {rows[0]['batch']} x 27 atoms, {rows[0]['channels']} channels")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lmax", type=int, nargs="+", default=[2, 3, 4, 5, 6])
    parser.add_argument("--products", nargs="+", default=list(PRODUCTS), choices=PRODUCTS)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--correlation", type=int, default=2)
    parser.add_argument("--distinct-factors", action="store_true", help="one channel mixing per extra many-body factor (GauntPotential(distinct_factors=True))")
    parser.add_argument("--path-ranks", type=int, nargs="+", default=[1], help="ranks of the Gaunt products' learned path weights to time (GauntPotential(path_rank=...); the CG twin has none)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", default="workdirs/e3_speed")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = environment_info()
    print(json.dumps({k: env[k] for k in ("versions", "backend", "devices")}))
    rows = []
    for lmax in (bar := tqdm(args.lmax, desc="L")):
        for product in args.products:
            for rank in args.path_ranks if product == "gaunt" else [1]:
                bar.set_postfix_str(f"{product} L={lmax}" + (f" rank {rank}" if product == "gaunt" else ""))
                rows.append(measure(product, lmax, args, rank))
                r = rows[-1]
                tqdm.write(f"{product:5s} L={lmax}{f' rank {rank}' if product == 'gaunt' else ''}: train {r['train_ms']:.1f} ms [{r['train_p10_ms']:.1f}, {r['train_p90_ms']:.1f}] (compile {r['train_compile_s']:.1f} s), "
                           f"infer {r['infer_configs_per_s']:.0f} configs/s, scratch {r['train_temp_mb'] or float('nan'):.1f} MiB")
    print("\n| L | Gaunt path rank | Gaunt train ms | CG train ms | speed-up | Gaunt infer conf/s | CG infer conf/s | Gaunt MiB | CG MiB | compile s (Gaunt / CG) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for lmax in args.lmax:
        c = next((r for r in rows if r["lmax"] == lmax and r["product"] == "cg"), None)
        for g in (r for r in rows if r["lmax"] == lmax and r["product"] == "gaunt"):
            if c:
                print(f"| {lmax} | {g['path_rank']} | {g['train_ms']:.1f} | {c['train_ms']:.1f} | {c['train_ms'] / g['train_ms']:.2f}x | {g['infer_configs_per_s']:.0f} | {c['infer_configs_per_s']:.0f} | "
                      f"{g['train_temp_mb'] or 0:.1f} | {c['train_temp_mb'] or 0:.1f} | {g['train_compile_s']:.1f} / {c['train_compile_s']:.1f} |")
    (out / "e3_speed.json").write_text(json.dumps({"environment": env, "args": vars(args), "rows": rows}, indent=1))
    with open(out / "e3_speed.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _plot(rows, out / "e3_speed.png")
    print(f"wrote {out}/e3_speed.json, .csv, .png")


if __name__ == "__main__":
    main()
