"""``python -m geojax.bench tp``: jit-benchmark Gaunt tensor products against e3nn-jax.

Every method and baseline runs in one process on the same inputs. Per configuration: lower and
compile (timed separately), warm up, then rounds in which every function, in a shuffled order,
runs ``--block`` consecutive calls with ``block_until_ready``, until each has at least
``--repeats`` timed calls; median and 10th/90th percentiles of the calls after the first of each
block (the first, made right after another function, is reported as the "cold" median); FLOPs
from XLA's cost analysis and the achieved GFLOP/s; the output's error against a float64 reference. Then a fitted exponent of time
against L per method, a table, CSV/JSON files and a log-log plot.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import json
import time
from pathlib import Path

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np

import geojax
from geojax.bench.e3nn_baselines import e3nn_cg_gaunt, e3nn_grid_gaunt, e3nn_grid_power
from geojax.bench.timing import fit_exponent, time_interleaved
from geojax.environment import environment_info
from geojax.so3 import DENSE_LMAX
from geojax.tp import s2grid
from geojax.tp.cg import E3NN_CG_MAX_L

GEOJAX_METHODS = ("auto", "s2grid", "fourier", "dense")
BASELINES = ("e3nn-cg", "e3nn-grid")
OPS = ("product", "conv", "power")
MATMUL_PRECISIONS = ("default", "float32", "tensorfloat32", "bfloat16")


@dataclasses.dataclass
class Row:
    op: str
    lmax: int
    lmax_out: int
    batch: int
    channels: int
    dtype: str
    method: str
    status: str
    median_ms: float | None = None
    p10_ms: float | None = None
    p90_ms: float | None = None
    runs: int | None = None
    cold_median_ms: float | None = None
    compile_s: float | None = None
    gflops: float | None = None
    gflop_per_s: float | None = None
    max_rel_err: float | None = None


def parse_lmax(text: str) -> list[int]:
    """``"1-16"`` or ``"1,2,4,8"`` (or a mix) -> sorted degrees."""
    out = set()
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            out.update(range(int(lo), int(hi) + 1))
        elif part:
            out.add(int(part))
    if not out or min(out) < 0:
        raise argparse.ArgumentTypeError(f"--lmax: expected degrees like 1-16 or 1,2,4, got {text!r}")
    return sorted(out)


def _inputs(op: str, lmax: int, batch: int, channels: int, dtype, nu: int):
    """Operands of the operation and the output degree (float64 NumPy, cast later)."""
    rng = np.random.default_rng(lmax)
    dim = (lmax + 1) ** 2
    x = rng.normal(size=(batch, channels, dim))
    if op == "product":
        return x, rng.normal(size=(batch, channels, dim)), 2 * lmax
    if op == "conv":
        vectors = rng.normal(size=(batch, 1, 3))
        with jax.enable_x64(True):
            sh = e3nn.spherical_harmonics(e3nn.s2_irreps(lmax), vectors, normalize=True, normalization="integral").array
        return x, np.asarray(sh), lmax
    return x, None, lmax  # power: x^nu truncated at lmax


def _candidate(op: str, method: str, lmax: int, lmax_out: int, nu: int, args):
    """``(fn, skip_reason)`` for one method / baseline."""
    if op == "power":
        if method in ("auto", "s2grid", "fourier"):
            return (lambda x: geojax.gaunt_power(x, nu, lmax_out=lmax_out, method=method)), None
        if method == "e3nn-grid":
            return (lambda x: e3nn_grid_power(x, lmax, nu, lmax_out)), None
        if method == "dense":
            return None, "gaunt_power has no dense method"
        if method == "e3nn-cg":
            if lmax > args.cg_max_l or (nu - 1) * lmax > E3NN_CG_MAX_L:
                return None, f"skipped: repeated CG products beyond --cg-max-l={args.cg_max_l} (e3nn CG fails from l = 12)"

            def cg_power(x):  # intermediate powers exact (their high degrees reach low outputs), the last one to lmax_out
                out, deg = x, lmax
                for step in range(nu - 1):
                    last = step == nu - 2
                    out = e3nn_cg_gaunt(out, deg, x, lmax, min(deg + lmax, lmax_out) if last else deg + lmax)
                    deg += lmax
                return out[..., : (lmax_out + 1) ** 2]

            return cg_power, None
    if method in GEOJAX_METHODS:
        if method == "dense" and lmax > min(args.dense_max_l, DENSE_LMAX):
            return None, f"skipped: dense above --dense-max-l={args.dense_max_l} (scatter-add of O(L^5) terms)"
        return (lambda x, y: geojax.gaunt_tensor_product(x, y, lmax_out=lmax_out, method=method)), None
    if method == "e3nn-grid":
        return (lambda x, y: e3nn_grid_gaunt(x, lmax, y, lmax, lmax_out)), None
    if method == "e3nn-cg":
        if lmax > E3NN_CG_MAX_L:
            return None, "unavailable: e3nn.clebsch_gordan(12, 12, 24) raises"
        if lmax > args.cg_max_l:
            return None, f"skipped: above --cg-max-l={args.cg_max_l} (its compile time about doubles per degree: 8-21 s at L = 8, 31-92 s at L = 10 on 2 CPU cores)"
        return (lambda x, y: e3nn_cg_gaunt(x, lmax, y, lmax, lmax_out)), None
    raise ValueError(f"unknown method {method!r}")


def _reference(op: str, x, y, lmax_out: int, nu: int) -> np.ndarray:
    """Float64 result on the first few samples (exact method, independent of the timed dtype)."""
    with jax.enable_x64(True):
        if op == "power":
            return np.asarray(geojax.gaunt_power(x[:4], nu, lmax_out=lmax_out, method="s2grid"))
        return np.asarray(geojax.gaunt_tensor_product(x[:4], y[:4], lmax_out=lmax_out, method="s2grid"))


def run_benchmark(args) -> list[Row]:
    dtype = jnp.dtype(args.dtype)
    rows: list[Row] = []
    names = list(args.methods) + list(args.baselines)
    for lmax in args.lmax:
        x64, y64, lmax_out = _inputs(args.op, lmax, args.batch, args.channels, dtype, args.nu)
        ref = _reference(args.op, x64, y64, lmax_out, args.nu)
        operands = (jnp.asarray(x64, dtype),) if y64 is None else (jnp.asarray(x64, dtype), jnp.asarray(y64, dtype))
        candidates, timed = {}, {}
        for name in names:
            fn, reason = _candidate(args.op, name, lmax, lmax_out, args.nu, args)
            candidates[name] = (fn, reason)
            if fn is not None:
                timed[name] = fn
        # all methods of one configuration in interleaved rounds: their ratios share the machine's drift
        timings = time_interleaved(timed, *operands, repeats=args.repeats, block=args.block, seed=args.seed)
        for name in names:
            base = dict(op=args.op, lmax=lmax, lmax_out=lmax_out, batch=args.batch, channels=args.channels, dtype=str(dtype), method=name)
            fn, reason = candidates[name]
            if fn is None:
                rows.append(Row(**base, status=reason))
                print(f"[L={lmax:2d}] {name:10s} {reason}", flush=True)
                continue
            try:
                timing = timings[name]
                if isinstance(timing, Exception):
                    raise timing
                out = np.asarray(timing.output[:4], np.float64)  # the timed executable's own result
            except Exception as err:  # a baseline that breaks is a row, not a crash
                message = f"failed: {type(err).__name__}: {str(err).splitlines()[0][:120]}"
                rows.append(Row(**base, status=message))
                print(f"[L={lmax:2d}] {name:10s} {message}", flush=True)
                continue
            err = float(np.max(np.abs(out - ref)) / max(np.max(np.abs(ref)), 1e-300))
            row = Row(
                **base, status="ok", median_ms=timing.median_ms, p10_ms=timing.p10_ms, p90_ms=timing.p90_ms,
                runs=timing.runs, cold_median_ms=timing.cold_median_ms, compile_s=timing.compile_s,
                gflops=None if timing.flops is None else timing.flops / 1e9,
                gflop_per_s=timing.gflops_per_s, max_rel_err=err,
            )
            rows.append(row)
            print(f"[L={lmax:2d}] {name:10s} {timing.median_ms:9.3f} ms  (p10 {timing.p10_ms:.3f}, p90 {timing.p90_ms:.3f}, "
                  f"cold {timing.cold_median_ms:.3f}, compile {timing.compile_s:.2f} s, err {err:.1e})", flush=True)
    return rows


def exponents(rows: list[Row], lo: int = 4, hi: int = 16) -> dict[str, float]:
    """Fitted exponent of median time against L over ``lo <= L <= hi`` per method."""
    out = {}
    for method in dict.fromkeys(r.method for r in rows):
        pts = [(r.lmax, r.median_ms) for r in rows if r.method == method and r.status == "ok" and lo <= r.lmax <= hi]
        if len(pts) >= 2:
            out[method] = fit_exponent(*zip(*pts))
    return out


def format_table(rows: list[Row]) -> str:
    """Markdown table: one row per L, one column per method (median ms), plus speedups."""
    methods = list(dict.fromkeys(r.method for r in rows))
    by = {(r.lmax, r.method): r for r in rows}
    head = "| L | " + " | ".join(f"{m} (ms)" for m in methods) + " | auto vs e3nn-cg | auto vs e3nn-grid |"
    lines = [head, "|" + "---|" * (len(methods) + 3)]
    for lmax in sorted({r.lmax for r in rows}):
        cells = []
        for m in methods:
            r = by.get((lmax, m))
            cells.append(f"{r.median_ms:.3f}" if r and r.status == "ok" else "n/a")

        def ratio(baseline):
            a, b = by.get((lmax, "auto")), by.get((lmax, baseline))
            if a and b and a.status == b.status == "ok":
                return f"{b.median_ms / a.median_ms:.1f}x"
            return "n/a"

        lines.append(f"| {lmax} | " + " | ".join(cells) + f" | {ratio('e3nn-cg')} | {ratio('e3nn-grid')} |")
    return "\n".join(lines)


def write_outputs(rows: list[Row], env: dict, args, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"tp_{args.op}"
    paths = {"csv": out_dir / f"{stem}.csv", "json": out_dir / f"{stem}.json", "table": out_dir / f"{stem}.md"}
    with paths["csv"].open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[fld.name for fld in dataclasses.fields(Row)])
        writer.writeheader()
        for r in rows:
            writer.writerow(dataclasses.asdict(r))
    arguments = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "func"}
    payload = {"environment": env, "arguments": arguments,
               "exponents_L4_16": exponents(rows), "rows": [dataclasses.asdict(r) for r in rows]}
    paths["json"].write_text(json.dumps(payload, indent=2) + "\n")
    paths["table"].write_text(format_table(rows) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return paths
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for method in dict.fromkeys(r.method for r in rows):
        pts = [(r.lmax, r.median_ms) for r in rows if r.method == method and r.status == "ok"]
        if pts:
            ax.plot(*zip(*pts), marker="o", ms=3, label=method)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("L (degree of each input)")
    ax.set_ylabel("median time per call (ms)")
    ax.set_title(f"Gaunt {args.op}, batch {args.batch}, {args.channels} ch, {args.dtype}, {env['device_kind']}", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    if ax.lines:  # every row may have been skipped
        ax.legend(fontsize=8)
    fig.tight_layout()
    paths["plot"] = out_dir / f"{stem}.png"
    fig.savefig(paths["plot"])
    plt.close(fig)
    return paths


def add_parser(sub) -> None:
    p = sub.add_parser("tp", help="benchmark Gaunt tensor products against e3nn-jax", description=__doc__)
    p.add_argument("--lmax", type=parse_lmax, default=parse_lmax("1-16"), help="degrees, e.g. 1-16 or 1,2,4,8 (default 1-16)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--dtype", choices=("float32", "float64", "bfloat16"), default="float32")
    p.add_argument("--op", choices=OPS, default="product", help="product: x*y to 2L; conv: x * SH(r) shared over channels, to L; power: x^nu to L")
    p.add_argument("--nu", type=int, default=3, help="power for --op power")
    p.add_argument("--methods", type=lambda s: s.split(","), default=list(GEOJAX_METHODS))
    p.add_argument("--baselines", type=lambda s: [b for b in s.split(",") if b], default=list(BASELINES))
    p.add_argument("--repeats", type=int, default=10, help="at least this many timed calls (default 10)")
    p.add_argument("--block", type=int, default=5,
                   help="consecutive calls per function and round; the first of each is reported apart as 'cold' (default 5; 1: every call alternates)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the shuffled call order; the same seed repeats the same order (default 0)")
    p.add_argument("--cpu-chunk-values", type=int, default=None,
                   help="override geojax.tp.s2grid.CPU_CHUNK_VALUES (grid values per CPU chunk of a large batch; "
                        "a huge value keeps every batch in one piece) for this run")
    p.add_argument("--matmul-precision", choices=MATMUL_PRECISIONS, default="default",
                   help="jax.default_matmul_precision for every function of the run; on GPUs and TPUs jax's default lets "
                        "float32 dots run in TF32/bf16 passes, 'float32' keeps them in float32 (default: jax's default; "
                        "no effect on CPUs)")
    p.add_argument("--cg-max-l", type=int, default=8, help="largest L for the e3nn CG baseline (its compile time explodes)")
    p.add_argument("--dense-max-l", type=int, default=8, help="largest L for geojax's dense reference")
    p.add_argument("--out", type=Path, default=Path("bench_out"), help="directory for CSV, JSON, table and plot")
    p.set_defaults(func=main_tp)


def main_tp(args) -> int:
    for name in args.methods:
        if name not in GEOJAX_METHODS:
            raise SystemExit(f"--methods: unknown method {name!r}; choose from {', '.join(GEOJAX_METHODS)}")
    for name in args.baselines:
        if name not in BASELINES:
            raise SystemExit(f"--baselines: unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
    if args.batch < 1 or args.channels < 1 or args.repeats < 1 or args.nu < 1 or args.block < 1:
        raise SystemExit("--batch, --channels, --repeats, --nu and --block must be >= 1")
    if args.cpu_chunk_values is not None and args.cpu_chunk_values < 1:
        raise SystemExit(f"--cpu-chunk-values must be >= 1, got {args.cpu_chunk_values}")
    env = environment_info()
    print("geojax tensor-product benchmark")
    print("  " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()))
    print(f"  python {env['python']}, {env['machine']}, {env['cpu']} ({env['usable_cpus']} usable cores), "
          f"backend {env['backend']}, {env['device_kind']}, {env['utc']}")
    print(f"  devices: {env['devices']}")
    print(f"  op {args.op}, batch {args.batch}, channels {args.channels}, dtype {args.dtype}, L {args.lmax}, block {args.block}, "
          f"matmul precision {args.matmul_precision}\n", flush=True)
    start = time.perf_counter()
    default_chunk_values = s2grid.CPU_CHUNK_VALUES
    if args.cpu_chunk_values is not None:  # read when a kernel is traced; restored for in-process callers
        s2grid.CPU_CHUNK_VALUES = args.cpu_chunk_values
    precision = contextlib.nullcontext() if args.matmul_precision == "default" else jax.default_matmul_precision(args.matmul_precision)
    try:
        with precision:  # read when each function is traced, i.e. inside the run
            rows = run_benchmark(args)
    finally:
        s2grid.CPU_CHUNK_VALUES = default_chunk_values
    print("\n" + format_table(rows))
    exps = exponents(rows)
    if exps:
        print("\nfitted exponent of time vs L (L = 4..16): " + ", ".join(f"{k} {v:.2f}" for k, v in exps.items()))
    paths = write_outputs(rows, env, args, args.out)
    print(f"\nwrote {', '.join(str(p) for p in paths.values())} in {time.perf_counter() - start:.0f} s")
    return 0
