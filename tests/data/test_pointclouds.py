import numpy as np
import pytest

from geojax.data.pointclouds import (
    CHIRAL_PAIR,
    POINTCLOUD_CLASSES,
    make_pointclouds,
    rotations_so3,
    rotations_z,
    sample_shape,
    transform_clouds,
)


def test_deterministic_balanced_centred_and_prefix_stable():
    a = make_pointclouds(3, n_points=64, seed=5)
    fresh = {"pos": np.stack([sample_shape(int(c), 64, np.random.default_rng([5, int(c), i % 3])) for i, c in enumerate(a["label"])])}
    np.testing.assert_array_equal(a["pos"], fresh["pos"].astype(np.float32))  # regenerated from scratch
    assert a["pos"].shape == (3 * len(POINTCLOUD_CLASSES), 64, 3) and a["pos"].dtype == np.float32
    np.testing.assert_array_equal(np.bincount(a["label"]), np.full(len(POINTCLOUD_CLASSES), 3))
    np.testing.assert_allclose(a["pos"].mean(axis=1), 0.0, atol=1e-6)
    big = make_pointclouds(5, n_points=64, seed=5)
    np.testing.assert_array_equal(big["pos"][big["label"] == 4][:3], a["pos"][a["label"] == 4])
    other = make_pointclouds(3, n_points=64, seed=6)
    assert not np.allclose(other["pos"], a["pos"])
    assert len(POINTCLOUD_CLASSES) >= 10


def test_clouds_within_a_class_differ_and_classes_have_distinct_shapes():
    d = make_pointclouds(4, n_points=256, seed=0)
    spectra = np.array([np.linalg.eigvalsh(np.cov(p.T.astype(np.float64)))[::-1] for p in d["pos"]])
    per_class = spectra.reshape(len(POINTCLOUD_CLASSES), 4, 3)
    assert np.all(np.ptp(per_class[:, :, 0], axis=1) > 0)  # random parameters per cloud
    assert not np.allclose(per_class[1].mean(0), per_class[3].mean(0), rtol=0.1)


def test_chiral_pair_are_mirror_images():
    """helix_left is exactly helix_right drawn with the same generator state, mirrored in x."""
    right = sample_shape(CHIRAL_PAIR[0], 128, np.random.default_rng(7), jitter=0.0)
    left = sample_shape(CHIRAL_PAIR[1], 128, np.random.default_rng(7), jitter=0.0)
    np.testing.assert_allclose(left, right * np.array([-1.0, 1.0, 1.0]), atol=1e-12)
    # and the two are not related by a rotation: the signed volume statistic flips sign
    def handedness(p):
        w, v = np.linalg.eigh(np.cov(p.T))
        v = v[:, ::-1] * np.sign(np.sum((p @ v[:, ::-1]) ** 3, axis=0))
        q = p @ v
        return np.linalg.det(v) * np.sign(np.mean(q[:, 0] * q[:, 1] * q[:, 2]))

    assert handedness(left) == -handedness(right)


def test_transforms_are_rigid_scaled_and_z_keeps_the_vertical_axis(rng):
    pos = make_pointclouds(1, n_points=32, seed=0)["pos"]
    out = transform_clouds(pos, np.random.default_rng(0), rotations="z", scale_range=(0.5, 2.0), translation=0.3)
    d0 = np.linalg.norm(pos[:, :, None] - pos[:, None], axis=-1)
    d1 = np.linalg.norm(out[:, :, None] - out[:, None], axis=-1)
    ratio = d1.reshape(len(pos), -1)[:, 1:].mean(1) / d0.reshape(len(pos), -1)[:, 1:].mean(1)
    assert np.all((ratio > 0.5 - 1e-4) & (ratio < 2.0 + 1e-4)) and np.ptp(ratio) > 0.1
    np.testing.assert_allclose(d1, d0 * ratio[:, None, None], atol=1e-4)
    # z rotation + scale: the z coordinate (centred) is only scaled
    c = out - out.mean(1, keepdims=True)
    np.testing.assert_allclose(c[..., 2], pos[..., 2] * ratio[:, None], atol=1e-4)
    so3 = rotations_so3(rng, 500)
    np.testing.assert_allclose(np.linalg.det(so3), 1.0, atol=1e-12)
    assert abs(np.mean(so3[:, 2, 2])) < 0.1  # the z axis goes everywhere
    rz = rotations_z(np.array([0.3]))
    np.testing.assert_allclose(rz[0] @ np.array([0, 0, 1.0]), [0, 0, 1.0])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: make_pointclouds(0), "per_class"),
        (lambda: make_pointclouds(1, seed=-1), "seed"),
        (lambda: make_pointclouds(1, n_points=3), "n_points"),
        (lambda: sample_shape(12, 16, np.random.default_rng(0)), "label"),
        (lambda: sample_shape(0, 16, np.random.default_rng(0), jitter=-1.0), "jitter"),
        (lambda: transform_clouds(np.zeros((2, 5, 2)), np.random.default_rng(0), rotations="z"), "pos"),
        (lambda: transform_clouds(np.zeros((2, 5, 3)), np.random.default_rng(0), rotations="x"), "rotations"),
        (lambda: transform_clouds(np.zeros((2, 5, 3)), np.random.default_rng(0), rotations="z", scale_range=(0, 1)), "scale_range"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
