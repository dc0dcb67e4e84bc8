"""The benchmark CLI runs, writes well-formed outputs, and every benchmarked pair agrees."""

import csv
import datetime
import json
import os
import types

import jax
import numpy as np
import pytest

import geojax
from geojax.bench import e3nn_baselines as base
from geojax.bench import tp
from geojax.bench.__main__ import main
from tests.conftest import relative_error


@pytest.mark.parametrize("lmax", [1, 2, 4])
def test_baselines_compute_the_gaunt_product(lmax, rng):
    x, y = rng.normal(size=(3, (lmax + 1) ** 2)), rng.normal(size=(3, (lmax + 1) ** 2))
    with jax.enable_x64(True):
        ref = geojax.gaunt_tensor_product(x, y, method="dense")
        # jitted, as the benchmark runs them (op by op, e3nn's many small ops each compile alone)
        cg, grid = (jax.jit(fn, static_argnums=(1, 3, 4)) for fn in (base.e3nn_cg_gaunt, base.e3nn_grid_gaunt))
        assert relative_error(cg(x, lmax, y, lmax, 2 * lmax), ref) < 1e-12
        assert relative_error(grid(x, lmax, y, lmax, 2 * lmax), ref) < 1e-12
        cube = geojax.gaunt_power(x, 3, lmax_out=lmax)
        assert relative_error(jax.jit(base.e3nn_grid_power, static_argnums=(1, 2, 3))(x, lmax, 3, lmax), cube) < 1e-12


def test_cg_baseline_refuses_degree_12_with_reason():
    args = types.SimpleNamespace(cg_max_l=20, dense_max_l=8)
    fn, reason = tp._candidate("product", "e3nn-cg", 12, 24, 3, args)
    assert fn is None and "clebsch_gordan(12, 12, 24)" in reason
    with pytest.raises(ValueError, match="supports input degrees <= 11"):
        base.e3nn_cg_gaunt(np.ones(169), 12, np.ones(169), 12, 24)


# one operation in the default run keeps CI short; the others run under -m slow
@pytest.mark.parametrize("op", ["product", pytest.param("conv", marks=pytest.mark.slow), pytest.param("power", marks=pytest.mark.slow)])
def test_cli_tiny_run_writes_consistent_outputs(op, tmp_path, capsys):
    code = main(["tp", "--lmax", "1,2", "--batch", "4", "--channels", "2", "--repeats", "2", "--op", op,
                 "--nu", "2", "--dense-max-l", "1", "--seed", "3", "--out", str(tmp_path)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "devices" in printed and "| L |" in printed
    rows = list(csv.DictReader((tmp_path / f"tp_{op}.csv").open()))
    payload = json.loads((tmp_path / f"tp_{op}.json").read_text())
    env = payload["environment"]
    assert env["versions"]["jax"] == jax.__version__
    assert env["cpu"] and env["cpu"] in printed and 1 <= env["usable_cpus"] <= (os.cpu_count() or 1)
    assert datetime.datetime.fromisoformat(env["utc"]).tzinfo is not None
    assert payload["arguments"]["seed"] == 3
    assert len(rows) == len(payload["rows"]) == 2 * 6
    ok = [r for r in payload["rows"] if r["status"] == "ok"]
    skipped = [r for r in payload["rows"] if r["status"] != "ok"]
    # dense is skipped at L = 2 by --dense-max-l; power has no dense method
    assert all(r["method"] == "dense" for r in skipped) and skipped
    for r in ok:
        assert r["median_ms"] > 0 and r["p10_ms"] <= r["median_ms"] <= r["p90_ms"] and r["runs"] >= 2
        assert r["compile_s"] > 0
        # every benchmarked method and baseline computes the same float64-checked result
        assert r["max_rel_err"] < 1e-5, r
    assert (tmp_path / f"tp_{op}.png").stat().st_size > 1000


def test_cli_matmul_precision_holds_during_the_run_and_is_recorded(tmp_path, monkeypatch):
    seen = []

    def spy(args):
        seen.append(jax.config.jax_default_matmul_precision)
        return []

    monkeypatch.setattr(tp, "run_benchmark", spy)
    before = jax.config.jax_default_matmul_precision
    assert main(["tp", "--lmax", "1", "--matmul-precision", "float32", "--out", str(tmp_path)]) == 0
    assert main(["tp", "--lmax", "1", "--out", str(tmp_path / "default")]) == 0
    assert seen == ["float32", before] and jax.config.jax_default_matmul_precision == before
    assert json.loads((tmp_path / "tp_product.json").read_text())["arguments"]["matmul_precision"] == "float32"
    with pytest.raises(SystemExit):
        main(["tp", "--lmax", "1", "--matmul-precision", "highest", "--out", str(tmp_path)])


def test_cli_rejects_unknown_method(tmp_path):
    with pytest.raises(SystemExit, match="unknown method 'cg'"):
        main(["tp", "--lmax", "1", "--methods", "cg", "--out", str(tmp_path)])


def test_parse_lmax_and_exponent():
    assert tp.parse_lmax("1-3,8") == [1, 2, 3, 8]
    rows = [tp.Row("product", l, 2 * l, 1, 1, "float32", "m", "ok", median_ms=0.5 * l**3) for l in (4, 8, 16)]
    assert tp.exponents(rows)["m"] == pytest.approx(3.0)


def test_interleaved_timing_orders_costs_and_reports_failures():
    from geojax.bench import time_interleaved, time_jitted

    x = jax.numpy.ones((256, 256), jax.numpy.float32)

    def bad(a):
        raise ValueError("does not trace")

    out = time_interleaved({"cheap": lambda a: a[0, 0] + 1.0, "heavy": lambda a: (a @ a @ a @ a).sum(), "bad": bad},
                           x, repeats=7, min_time_s=0.0)
    assert list(out) == ["cheap", "heavy", "bad"]
    assert isinstance(out["bad"], ValueError)
    cheap, heavy = out["cheap"], out["heavy"]
    assert cheap.runs == heavy.runs == 7  # one call of each per round
    assert heavy.median_ms > cheap.median_ms and heavy.p10_ms <= heavy.median_ms <= heavy.p90_ms
    assert heavy.compile_s > 0 and heavy.flops == pytest.approx(3 * 2 * 256**3 + 256**2, rel=0.05)
    assert float(cheap.output) == 2.0 and float(heavy.output) == pytest.approx(256.0**5, rel=1e-5)  # results of the timed calls
    with pytest.raises(ValueError, match="does not trace"):
        time_jitted(bad, x)


def test_blocked_timing_separates_first_calls():
    from geojax.bench import time_interleaved

    x = jax.numpy.ones((64, 64), jax.numpy.float32)
    calls = []

    def counted(a):
        return jax.pure_callback(lambda v: (calls.append(1), v)[1], jax.ShapeDtypeStruct(a.shape, a.dtype), a).sum()

    out = time_interleaved({"f": counted, "g": lambda a: a.sum()}, x, repeats=6, warmup=1, min_time_s=0.0, block=4)
    f, g = out["f"], out["g"]
    assert f.runs == g.runs == 6  # two rounds of 4 calls, the first of each block kept apart
    assert len(calls) == 1 + 2 * 4  # one warm-up call, then two blocks
    assert f.cold_median_ms is not None and f.cold_median_ms > 0 and float(f.output) == 64 * 64
    with pytest.raises(ValueError, match="block must be >= 1, got 0"):
        time_interleaved({"g": lambda a: a.sum()}, x, block=0)


def test_interleaved_order_follows_the_seed():
    from geojax.bench import time_interleaved

    x = jax.numpy.ones((8,), jax.numpy.float32)

    def call_order(seed):
        calls = []
        fns = {name: (lambda a, name=name: jax.pure_callback(lambda v: (calls.append(name), v)[1],
                                                            jax.ShapeDtypeStruct(a.shape, a.dtype), a).sum())
               for name in "abcd"}
        time_interleaved(fns, x, repeats=12, warmup=0, min_time_s=0.0, seed=seed)
        return calls

    first = call_order(0)
    assert len(first) == 4 * 12 and sorted(set(first)) == list("abcd")
    assert call_order(0) == first  # the same seed, the same sequence of rounds
    assert call_order(1) != first


def test_cli_cpu_chunk_values_is_recorded_restored_and_checked(tmp_path):
    from geojax.tp import s2grid

    default = s2grid.CPU_CHUNK_VALUES
    assert main(["tp", "--lmax", "2", "--batch", "40", "--repeats", "1", "--methods", "s2grid", "--baselines", "",
                 "--cpu-chunk-values", "500", "--out", str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "tp_product.json").read_text())
    assert payload["arguments"]["cpu_chunk_values"] == 500
    assert all(r["status"] == "ok" and r["max_rel_err"] < 1e-5 for r in payload["rows"])
    assert s2grid.CPU_CHUNK_VALUES == default
    with pytest.raises(SystemExit, match="--cpu-chunk-values must be >= 1"):
        main(["tp", "--lmax", "2", "--cpu-chunk-values", "0", "--out", str(tmp_path)])


@pytest.mark.slow
def test_gpu_run_script_dry_run_on_cpu(tmp_path):
    """``docs/benchmarks/gpu_run.sh`` (prepared for a lent GPU) runs end to end with tiny settings and
    leaves at most 8 files, the device tool's limit."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, OUT=str(tmp_path), LMAX="1", BATCH="4", REPEATS="2",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(["bash", str(root / "docs/benchmarks/gpu_run.sh")], env=env, check=True, capture_output=True)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["default/tp_product.json", "default/tp_product.png", "float32/tp_product.json",
                     "float32/tp_product.png", "gpu_run.log"]
    table = json.loads((tmp_path / "float32/tp_product.json").read_text())
    assert table["arguments"]["matmul_precision"] == "float32" and table["arguments"]["batch"] == 4
    assert all(r["status"] == "ok" or r["method"] == "dense" for r in table["rows"])
