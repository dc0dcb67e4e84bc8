"""The rotated point-cloud experiment: invariance of the TinvNN and frame-averaged models, chirality,
data determinism, and a smoke run of ``configs/pointcloud.py:quick`` through the trainer."""

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from experiments.pointcloud import PointCloudClassifier, PointCloudTask
from experiments.registry import get_task
from geojax.data.pointclouds import CHIRAL_PAIR, make_pointclouds, rotations_so3, sample_shape
from geojax.nn.dgcnn import DGCNN
from geojax.nn.pointnet import PointNet
from geojax.train import train_and_evaluate
from tests.conftest import jit_call

_spec = importlib.util.spec_from_file_location("_pc_config", Path(__file__).resolve().parents[2] / "configs" / "pointcloud.py")
_cfg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cfg)
get_config = _cfg.get_config

# Clouds with well separated covariance eigenvalues (ellipsoid, slab, table, bracket, right helix):
# the canonical frame is then unique, and invariance holds up to rounding.
CLASSES = (1, 3, 7, 9, 10)
# Bounds on the logits (O(1) for these random networks). float32: MDS coordinates move by about
# eps / gap ~ 1e-6 under a transform, and the measured logit change is at most 6e-6 (MDS) and 5e-7
# (frame averaging); the bound is 1e-4 (it assumes no kNN near-tie flips in DGCNN, which these
# fixtures do not have). float64: measured at most 6e-15; bound 1e-10.
F32_ATOL, F64_ATOL = 1e-4, 1e-10


def _clouds(n=64):
    return np.stack([sample_shape(c, n, np.random.default_rng([99, c])) for c in CLASSES])


def _backbone(name):
    if name == "pointnet":
        return PointNet(n_classes=6, point_widths=(16, 32), head_widths=(16,), rngs=nnx.Rngs(0))
    return DGCNN(n_classes=6, edge_widths=(16, 16), embed=32, head_widths=(16,), k=6, rngs=nnx.Rngs(0))


def _transform(x, rng, proper):
    """``a x[perm] R^T + t`` per cloud with random ``R`` in SO(3) (or O(3) \\ SO(3) if not proper)."""
    r = rotations_so3(rng, len(x))
    if not proper:
        r = r @ np.diag([1.0, 1.0, -1.0])  # a reflection
    a = np.exp(rng.uniform(-1.0, 1.0, size=(len(x), 1, 1)))
    t = rng.normal(size=(len(x), 1, 3)) * 3.0
    perm = rng.permutation(x.shape[1])
    return a * np.einsum("bij,bnj->bni", r, x[:, perm]) + t


_GROUPS = [("mds", False), ("mds", True), ("fa", False), ("fa", True)]


@pytest.mark.parametrize("backbone", ["pointnet", "dgcnn"])
@pytest.mark.parametrize("inp, proper", _GROUPS)
def test_invariant_models_are_invariant(backbone, inp, proper, rng):
    model = PointCloudClassifier(_backbone(backbone), input=inp, proper=proper)
    call = nnx.jit(lambda m, x: m(x))
    x = _clouds()
    # every transform the model should be invariant to: O(3) needs reflections too
    transforms = [_transform(x, rng, proper=True)] + ([] if proper else [_transform(x, rng, proper=False)])
    ref32 = np.asarray(call(model, jnp.asarray(x, jnp.float32)))
    assert np.all(np.isfinite(ref32)) and np.ptp(ref32) > 1e-3  # not a constant network
    for y in transforms:
        np.testing.assert_allclose(call(model, jnp.asarray(y, jnp.float32)), ref32, atol=F32_ATOL)
    with jax.enable_x64(True):
        ref64 = np.asarray(call(model, jnp.asarray(x, jnp.float64)))
        for y in transforms:
            np.testing.assert_allclose(call(model, jnp.asarray(y, jnp.float64)), ref64, atol=F64_ATOL)


@pytest.mark.parametrize("backbone", ["pointnet", "dgcnn"])
def test_raw_xyz_model_is_not_rotation_invariant(backbone, rng):
    model = PointCloudClassifier(_backbone(backbone), input="xyz")
    x = _clouds()
    out = nnx.jit(lambda m, x: m(x))(model, jnp.asarray(np.stack([x, _transform(x, rng, True)]), jnp.float32))
    assert np.max(np.abs(out[0] - out[1])) > 1e-2


@pytest.mark.parametrize("backbone", ["pointnet", "dgcnn"])
def test_chiral_pair_is_separated_only_with_proper(backbone):
    """A helix and its mirror image: identical logits for O(3)-invariant inputs, different for SO(3)."""
    right = sample_shape(CHIRAL_PAIR[0], 64, np.random.default_rng(3))
    left = right * np.array([-1.0, 1.0, 1.0])
    pair = jnp.asarray(np.stack([right, left]), jnp.float32)
    call = nnx.jit(lambda m, x: m(x))
    for inp, proper in _GROUPS:
        out = np.asarray(call(PointCloudClassifier(_backbone(backbone), input=inp, proper=proper), pair))
        gap = np.max(np.abs(out[0] - out[1]))
        if proper:
            assert gap > 1e-2, (inp, gap)
        else:
            assert gap < F32_ATOL, (inp, gap)


def test_sampled_frame_training_path_is_one_frame_and_eval_is_the_average():
    x = jnp.asarray(_clouds(), jnp.float32)
    model = PointCloudClassifier(_backbone("pointnet"), input="fa", fa_train="sample")
    full = PointCloudClassifier(model.backbone, input="fa")
    averaged = jit_call(full, x)
    np.testing.assert_array_equal(jit_call(model, x), averaged)  # no key: the exact average
    a, b = jit_call(model, x, key=jax.random.key(0)), jit_call(model, x, key=jax.random.key(1))
    assert np.max(np.abs(a - b)) > 1e-4 and np.max(np.abs(a - averaged)) > 1e-4


def test_train_batches_are_pure_and_eval_set_is_fixed():
    task, config = PointCloudTask(), get_config("quick")
    a = task.train_batch(config, jax.random.key(5), 0, 1)
    b = task.train_batch(config, jax.random.key(5), 0, 1)
    c = task.train_batch(config, jax.random.key(6), 0, 1)
    np.testing.assert_array_equal(a["pos"], b["pos"])
    np.testing.assert_array_equal(a["label"], b["label"])
    assert not np.array_equal(a["pos"], c["pos"])
    assert a["pos"].shape == (config.train.batch_size, config.data.n_points, 3)
    half = task.train_batch(config, jax.random.key(5), 1, 2)
    np.testing.assert_array_equal(half["pos"], a["pos"][config.train.batch_size // 2 :])
    e1, e2 = list(task.eval_batches(config)), list(task.eval_batches(config))
    assert sum(len(e["label"]) for e in e1) == 12 * config.data.test_per_class
    for u, v in zip(e1, e2):
        np.testing.assert_array_equal(u["pos_so3"], v["pos_so3"])
    train = make_pointclouds(config.data.train_per_class, n_points=config.data.n_points, seed=config.data.train_seed)
    test = make_pointclouds(config.data.test_per_class, n_points=config.data.n_points, seed=config.data.test_seed)
    assert not np.any(np.all(np.isclose(train["pos"][:, None], test["pos"][None]), axis=(-2, -1)))


def test_config_variants():
    c = get_config("dgcnn,mds_proper,so3")
    assert (c.model.backbone, c.model.input, c.model.proper, c.data.train_rotations) == ("dgcnn", "mds", True, "so3")
    assert get_config(None).model.input == "mds"
    with pytest.raises(ValueError, match="unknown variant token 'foo'"):
        get_config("quick,foo")
    bad = get_config("quick")
    bad.data.train_rotations = "x"
    with pytest.raises(ValueError, match="train_rotations"):
        PointCloudTask().train_batch(bad, jax.random.key(0), 0, 1)


def test_quick_config_runs_through_the_trainer(tmp_path):
    config = get_config("quick,mds")
    result = train_and_evaluate(config, tmp_path, get_task(config.task))
    m = result.eval_metrics
    assert result.final_step == config.train.steps
    assert {"eval/acc_z", "eval/acc_so3", "eval/chiral_acc_z", "eval/chiral_acc_so3"} <= set(m)
    assert all(np.isfinite(v) for v in m.values())
    # invariant input: the same loss under z and SO(3) test rotations (float32 rounding only)
    assert abs(m["eval/loss_z"] - m["eval/loss_so3"]) < 1e-4
    assert 0.0 <= m["eval/chiral_acc_so3"] <= 1.0
    assert (tmp_path / "metrics.jsonl").exists()


def test_sweep_does_not_record_a_run_interrupted_before_evaluation(tmp_path, monkeypatch, capsys):
    import geojax.train
    from experiments import pointcloud_sweep

    def interrupted(config, workdir, task, overwrite=False):
        return geojax.train.RunResult(workdir=workdir, start_step=0, final_step=1, preempted=True, eval_metrics={}, model=None)

    monkeypatch.setattr(geojax.train, "train_and_evaluate", interrupted)
    pointcloud_sweep.main(["--out", str(tmp_path), "--seeds", "1", "--backbones", "pointnet", "--inputs", "xyz", "--quick"])
    assert not (tmp_path / "results.jsonl").exists()  # nothing recorded, so the run resumes next time
    out = capsys.readouterr().out
    assert "interrupted, not recorded" in out and out.count("interrupted") == 1  # and the sweep stops there
