"""The TSP experiment: valid tours, exact TinvNN invariance of the decoded tours, the REINFORCE
loss, and a smoke run of ``configs/tsp.py:quick`` through the trainer."""

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from experiments import tsp_report
from experiments.registry import get_task
from experiments.tsp import TSPModel, TSPTask, random_similarities
from geojax.data.tsp import is_permutation, tour_length
from geojax.nn.tsp_policy import TSPPolicy, tour_lengths
from geojax.train import train_and_evaluate
from tests.conftest import jit_call

_spec = importlib.util.spec_from_file_location("_tsp_config", Path(__file__).resolve().parents[2] / "configs" / "tsp.py")
_cfg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cfg)
get_config = _cfg.get_config


def _model(input="tinv"):
    return TSPModel(TSPPolicy(d=32, heads=4, layers=2, ff=64, rngs=nnx.Rngs(0)), input)


def _starts(b, n):
    return jnp.broadcast_to(jnp.arange(n, dtype=jnp.int32), (b, n))


def test_rollouts_are_permutations_from_their_starts():
    x = jax.random.uniform(jax.random.key(0), (3, 9, 2))
    for key in (None, jax.random.key(1)):
        tours, log_prob = jit_call(_model(), x, _starts(3, 9), key)
        assert tours.shape == (3, 9, 9) and log_prob.shape == (3, 9)
        assert np.all(is_permutation(np.asarray(tours)))
        np.testing.assert_array_equal(tours[..., 0], _starts(3, 9))
        assert np.all(np.asarray(log_prob) <= 1e-6)
    greedy = jit_call(_model(), x, _starts(3, 9)).tours
    np.testing.assert_array_equal(greedy, jit_call(_model(), x, _starts(3, 9)).tours)
    sampled = [jit_call(_model(), x, _starts(3, 9), jax.random.key(k)).tours for k in range(3)]
    assert any(np.any(np.asarray(s) != np.asarray(greedy)) for s in sampled)


def test_tour_lengths_match_the_numpy_reference():
    x = np.random.default_rng(0).random((4, 7, 2))
    tours = np.stack([np.stack([np.random.default_rng(i * 10 + j).permutation(7) for j in range(3)]) for i in range(4)])
    np.testing.assert_allclose(tour_lengths(jnp.asarray(x), jnp.asarray(tours)), tour_length(x[:, None], tours), rtol=1e-6)


def test_tinv_tours_are_invariant_and_raw_tours_are_not():
    rng = np.random.default_rng(3)
    x = rng.random((16, 12, 2))
    moved = random_similarities(rng, x)
    # the transforms are similarities: all pairwise distances scale by one factor per instance
    d = np.linalg.norm(x[:, :, None] - x[:, None], axis=-1)
    dm = np.linalg.norm(moved[:, :, None] - moved[:, None], axis=-1)
    ratio = dm[:, 0, 1] / d[:, 0, 1]
    np.testing.assert_allclose(dm, ratio[:, None, None] * d, rtol=1e-10, atol=1e-12)
    with jax.enable_x64(True):
        tinv = _model("tinv")
        a = jit_call(tinv, jnp.asarray(x), _starts(16, 12)).tours
        b = jit_call(tinv, jnp.asarray(moved), _starts(16, 12)).tours
        np.testing.assert_array_equal(a, b)
        raw = _model("raw")
        assert np.any(np.asarray(jit_call(raw, jnp.asarray(x), _starts(16, 12)).tours) != np.asarray(jit_call(raw, jnp.asarray(moved), _starts(16, 12)).tours))


def test_reinforce_loss_and_gradients_are_finite():
    task = TSPTask()
    config = get_config("quick")
    model = task.make_model(config, nnx.Rngs(0))
    batch = task.train_batch(config, jax.random.key(0), 0, 1)
    (loss, aux), grads = nnx.jit(nnx.value_and_grad(lambda m: task.loss(m, batch, jax.random.key(1)), has_aux=True))(model)
    assert np.isfinite(float(loss)) and aux["best_length"] <= aux["length"]
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(nnx.state(grads)))


def test_config_and_bad_input():
    assert get_config("raw,n50").data.n_cities == 50 and get_config("raw,n50").data.solver == "fast_tsp"
    with pytest.raises(ValueError, match="unknown variant token"):
        get_config("n100")
    with pytest.raises(ValueError, match="input must be one of"):
        TSPModel(TSPPolicy(d=8, heads=2, layers=1, ff=8, rngs=nnx.Rngs(0)), "xyz")
    with pytest.raises(ValueError, match="d % heads"):
        TSPPolicy(d=10, heads=4, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"features must be \[B, n, 2\]"):
        _model().policy.encode(jnp.zeros((2, 2, 2)))


def test_quick_run_through_the_trainer(tmp_path):
    pytest.importorskip("fast_tsp")
    config = get_config("quick")
    config.data.cache_dir = str(tmp_path / "cache")
    result = train_and_evaluate(config, tmp_path / "run", get_task("tsp"))
    m = result.eval_metrics
    assert m["eval/len_ref"] > 0
    for k in ("greedy", "pomo", "sample"):
        assert m[f"eval/gap_{k}"] >= -1e-3  # exact references (up to n / scale rounding)
    assert m["eval/gap_pomo"] <= m["eval/gap_greedy"] + 1e-6
    np.testing.assert_allclose(m["eval/gap_greedy_moved"], m["eval/gap_greedy"], rtol=1e-5)  # TinvNN
    assert list((tmp_path / "cache").glob("*.npz"))
    tsp_report.main(["--runs", str(tmp_path / "run"), "--out", str(tmp_path / "report")])
    table = (tmp_path / "report" / "results.md").read_text()
    assert "| 8 | TinvNN (MDS) coordinates | 4 | 16 | 2 |" in table  # k = eval_samples of :quick
    assert (tmp_path / "report" / "results.png").stat().st_size > 1000
