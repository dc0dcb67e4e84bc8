"""Speed of the Haar-density samplers of geojax.lie (issue 5: 10^6 SL(2) / GL+(2) elements < 0.2 s).

    python -m experiments.bench_lie [--num 1000000] [--repeats 15] [--x64] [--extra]

Each row: one jitted call ``G.sample(key, (num,))`` returning the elements *and* their log
densities, compiled separately (compile time reported on its own), warmed up, every call followed
by ``block_until_ready``; median and 10-90 % spread over at least ``--repeats`` runs. ``--extra``
adds SO(2), the chart of the samples, and the general-n samplers for comparison.
"""

from __future__ import annotations

import argparse
import os

import jax
import jax.numpy as jnp

from geojax import lie
from geojax.bench.timing import time_jitted


def _row(name: str, fn, *args, repeats: int) -> None:
    t = time_jitted(fn, *args, repeats=repeats)
    print(
        f"  {name:34s} median {t.median_ms / 1e3:7.4f} s   p10-p90 {t.p10_ms / 1e3:.4f}-{t.p90_ms / 1e3:.4f} s"
        f"   runs {t.runs:3d}   compile {t.compile_s:5.2f} s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--x64", action="store_true", help="also time float64")
    parser.add_argument("--extra", action="store_true", help="more groups and the chart")
    args = parser.parse_args(argv)
    print(f"jax {jax.__version__}, devices {jax.devices()}, os.cpu_count() = {os.cpu_count()}")
    key = jax.random.key(0)
    num = args.num
    dtypes = [jnp.float32] + ([jnp.float64] if args.x64 else [])
    for dt in dtypes:
        with jax.enable_x64(dt == jnp.float64):
            name = jnp.dtype(dt).name
            print(f"\nsampling {num:,} elements with log densities, {name}:")
            groups = [lie.SL(2), lie.GLPlus(2)] + ([lie.SO(2), lie.SPD(2)] if args.extra else [])
            for group in groups:
                _row(f"{group}.sample", lambda k, g=group: g.sample(k, (num,), dtype=dt), key, repeats=args.repeats)
            if args.extra:
                g, _ = lie.GLPlus(2).sample(key, (num,), dtype=dt)
                _row("GLPlus(2).to_chart", lie.GLPlus(2).to_chart, g, repeats=args.repeats)
                _row("polar (2x2)", lie.polar, g, repeats=args.repeats)
                small = num // 10
                for group in (lie.SL(3), lie.SO(3)):
                    _row(f"{group}.sample ({small:,})", lambda k, g=group: g.sample(k, (small,), dtype=dt), key,
                         repeats=args.repeats)


if __name__ == "__main__":
    main()
