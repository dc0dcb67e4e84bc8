"""The E(3) experiments: N-body and 3BPA-style smoke runs through the trainer, and the speed script."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

from experiments import e3_report, e3_speed
from experiments.registry import get_task
from experiments.sweep_io import load_get_config
from geojax.tp import gaunt_paths
from geojax.train import train_and_evaluate


def test_nbody_quick_run(tmp_path):
    config = load_get_config("nbody.py")("quick")
    config.data.cache_dir = str(tmp_path / "cache")
    config.data.start_step, config.data.horizon = 100, 100  # keep the simulation short
    config.data.dt = 0.01  # same total time as the default 1000 x 0.001: T = 1
    result = train_and_evaluate(config, tmp_path / "run", get_task("nbody"))
    m = result.eval_metrics
    assert np.isfinite(m["eval/mse"]) and m["eval/mse"] > 0
    # the reference row is x + T v, T = dt * horizon = 1, recomputed here from the cached data
    from experiments.nbody import dataset

    test = dataset(config)["test"]
    ref = np.mean((test["positions"] + test["velocities"] - test["target"]) ** 2)
    np.testing.assert_allclose(m["eval/mse_constant_velocity"], ref, rtol=1e-5)
    e3_report.main(["--nbody", str(tmp_path / "run"), "--out", str(tmp_path / "report")])
    assert f"| Gaunt (s2grid) | 1 | 1 | 4 | {m['eval/mse']:.4f} |" in (tmp_path / "report" / "results.md").read_text()  # one run: no spread
    assert (tmp_path / "report" / "nbody_mse.png").exists()

    # re-evaluation of the finished run: the trainer's numbers on its own split, others on request
    from experiments.evaluate import evaluate_run, main as evaluate_main

    step, again = evaluate_run(tmp_path / "run", "test")
    assert step == config.train.steps and again.keys() == m.keys()
    for name in m:
        np.testing.assert_allclose(again[name], m[name], rtol=1e-5)
    val = dataset(config)["val"]
    _, on_val = evaluate_run(tmp_path / "run", "val")
    ref_val = np.mean((val["positions"] + val["velocities"] - val["target"]) ** 2)
    np.testing.assert_allclose(on_val["eval/mse_constant_velocity"], ref_val, rtol=1e-5)
    assert on_val["eval/mse"] != pytest.approx(m["eval/mse"])
    evaluate_main(["--workdir", str(tmp_path / "run"), "--split", "train", "--json", str(tmp_path / "train.json")])
    assert json.loads((tmp_path / "train.json").read_text())["split"] == "train"
    with pytest.raises(ValueError, match="no split 'nope'"):
        evaluate_run(tmp_path / "run", "nope")
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    del saved["data"]["eval_split"]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="no data.eval_split"):
        evaluate_run(tmp_path / "other", "val")


def test_report_averages_only_runs_that_differ_by_seed():
    import ml_collections

    from experiments.e3_report import _group

    def config(seed, lmax):
        return ml_collections.ConfigDict({"seed": seed, "model": {"product": "gaunt", "lmax": lmax}, "train": {"steps": 4}})

    groups, labels = {}, {}
    for seed, lmax in [(0, 2), (1, 2), (0, 3)]:
        _group(groups, labels, config(seed, lmax), ("mse",))["mse"].append(lmax)
    assert {label: g["mse"] for label, g in groups.items()} == {"Gaunt (s2grid)": [2, 2], "Gaunt (s2grid) (2)": [3]}


def test_bpa_quick_run(tmp_path):
    pytest.importorskip("tblite")
    pytest.importorskip("rdkit")
    from geojax.data.bpa import generate_bpa

    config = load_get_config("bpa.py")("quick")
    config.data.cache_dir = str(tmp_path / "cache")
    assert config.model.distinct_factors and config.model.path_rank == 2  # the defaults of configs/bpa.py
    d = config.data
    generate_bpa(d.cache_dir, n_train=d.n_train, n_test=d.n_test, temperatures=d.temperatures, stride=d.stride, equilibration_steps=d.equilibration_steps, seed=d.seed, progress=False)
    result = train_and_evaluate(config, tmp_path / "run", get_task("bpa"))
    m = result.eval_metrics
    assert np.isfinite(m["eval/energy_se"]) and np.isfinite(m["eval/forces_se"]) and m["eval/forces_se"] > 0
    e3_report.main(["--bpa", str(tmp_path / "run"), "--out", str(tmp_path / "report")])
    report = json.loads((tmp_path / "report" / "results.json").read_text())["bpa"]["Gaunt (s2grid), distinct factors, path rank 2"]
    # the report re-evaluates the checkpoint: its 300 K force RMSE is the trainer's, in meV/A
    np.testing.assert_allclose(report["F_test_300K"][0], 1e3 * np.sqrt(m["eval/forces_se"]), rtol=1e-4)
    assert set(report) >= {"E_test_300K", "F_test_1200K"} and (tmp_path / "report" / "bpa_forces.png").exists()
    from experiments.evaluate import evaluate_run

    step, again = evaluate_run(tmp_path / "run", config.data.eval_split)  # the trainer's numbers again
    assert step == config.train.steps and again.keys() == m.keys()
    for name in m:
        np.testing.assert_allclose(again[name], m[name], rtol=1e-5)
    # the report's 1200 K force RMSE (through evaluate's split_metrics) against a direct one over all atoms
    from experiments.bpa import _batch, splits

    hot = splits(config)["test_1200K"]
    hot = _batch(hot, np.arange(len(hot["energy"])))
    _, forces = result.model.energy_and_forces(jnp.asarray(hot["positions"]), jnp.asarray(hot["numbers"]))
    direct = 1e3 * np.sqrt(np.mean((np.asarray(forces, np.float64) - np.asarray(hot["forces"])) ** 2))
    np.testing.assert_allclose(report["F_test_1200K"][0], direct, rtol=1e-4)


@pytest.mark.slow  # a smoke test of a benchmark script (about 50 s); kept out of the default run for CI time
def test_speed_script_writes_well_formed_outputs(tmp_path, capsys):
    e3_speed.main(["--lmax", "1", "--batch", "1", "--channels", "2", "--layers", "1", "--correlation", "1", "--repeats", "2", "--path-ranks", "1", "2", "--out", str(tmp_path)])
    data = json.loads((tmp_path / "e3_speed.json").read_text())
    rows = {(r["product"], r["path_rank"]): r for r in data["rows"]}
    assert set(rows) == {("gaunt", 1), ("gaunt", 2), ("cg", None)}
    assert rows["cg", None]["params"] - rows["gaunt", 1]["params"] == len(gaunt_paths(1, 1, 1))  # the CG path weights
    assert rows["gaunt", 2]["params"] - rows["gaunt", 1]["params"] == 3 * 2 * 2  # u, v, w of rank 2 at L = 1, one conv
    for r in rows.values():
        assert r["train_ms"] > 0 and r["train_p10_ms"] <= r["train_ms"] <= r["train_p90_ms"] and r["infer_configs_per_s"] > 0
    assert (tmp_path / "e3_speed.png").stat().st_size > 1000
    table = capsys.readouterr().out
    assert "| 1 | 1 |" in table and "| 1 | 2 |" in table
