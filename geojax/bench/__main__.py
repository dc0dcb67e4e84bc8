"""``python -m geojax.bench`` / ``geojax-bench``: benchmarks as a command-line tool."""

from __future__ import annotations

import argparse
import sys

from geojax.bench import tp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="geojax-bench", description="geojax benchmarks")
    sub = parser.add_subparsers(dest="command", required=True)
    tp.add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
