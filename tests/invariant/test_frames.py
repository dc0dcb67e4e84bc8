"""Frame averaging: exact invariance and equivariance for arbitrary functions, frames, masks."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from geojax import invariant
from tests.conftest import relative_error
from tests.invariant.test_mds import F64_BOUND, random_orthogonal, skewed_cloud, x64

_W = np.random.default_rng(7).normal(size=(3, 8))
_U = np.random.default_rng(8).normal(size=(8, 3))


def features(y, mask=None):
    """A permutation-invariant but not rotation-invariant function of a cloud: ``[..., 16]``."""
    h = jnp.tanh(y @ _W + 0.3)
    w = jnp.ones(y.shape[:-1]) if mask is None else mask.astype(y.dtype)
    w = w / jnp.sum(w, axis=-1, keepdims=True)
    return jnp.concatenate([jnp.einsum("...n,...nc->...c", w, h), jnp.einsum("...n,...nc->...c", w, h * h)], -1)


def displace(y, mask=None):
    """A per-point map ``[..., n, 3] -> [..., n, 3]``, permutation equivariant, not rotation equivariant."""
    h = jnp.tanh(y @ _W)
    w = jnp.ones(y.shape[:-1]) if mask is None else mask.astype(y.dtype)
    context = jnp.einsum("...n,...nc->...c", w / jnp.sum(w, axis=-1, keepdims=True), h)
    return y + 0.5 * h @ _U + context[..., None, :] @ _U


def direction(y):
    """A vector ``[..., 3]`` from a cloud, not rotation equivariant."""
    return jnp.mean(jnp.tanh(y @ _W), axis=-2) @ _U


@functools.lru_cache(maxsize=None)
def averaged(fn, group, equivariant=False, masked=False):
    if masked:
        return jax.jit(lambda x, m: invariant.frame_average(fn, x, group=group, mask=m, equivariant=equivariant))
    return jax.jit(lambda x: invariant.frame_average(fn, x, group=group, equivariant=equivariant))


def moved(rng, x, det, translate):
    perm = rng.permutation(len(x))
    r = random_orthogonal(rng, 3, det)
    t = 5.0 * rng.normal(size=3) if translate else np.zeros(3)
    return x[perm] @ r.T + t, perm, r, t


@pytest.mark.parametrize("group,det", [("E(3)", -1), ("E(3)", 1), ("SE(3)", 1)])
def test_invariance_to_the_group(group, det, rng):
    x = skewed_cloud(rng, 32)
    y, _, _, _ = moved(rng, x, det, translate=True)
    fx, fy = x64(averaged(features, group), x), x64(averaged(features, group), y)
    raw_x, raw_y = x64(features, x), x64(features, y)
    assert relative_error(raw_y, raw_x) > 1e-2  # the backbone alone is not invariant
    assert relative_error(fy, fx) < F64_BOUND


def test_special_groups_keep_chirality_and_linear_groups_keep_position(rng):
    x = skewed_cloud(rng, 32)
    mirrored, _, _, _ = moved(rng, x, -1, translate=True)
    assert relative_error(x64(averaged(features, "SE(3)"), mirrored), x64(averaged(features, "SE(3)"), x)) > 1e-3
    rotated, _, _, _ = moved(rng, x, -1, translate=False)
    assert relative_error(x64(averaged(features, "O(3)"), rotated), x64(averaged(features, "O(3)"), x)) < F64_BOUND
    shifted = x + np.array([1.0, -2.0, 0.5])
    assert relative_error(x64(averaged(features, "O(3)"), shifted), x64(averaged(features, "O(3)"), x)) > 1e-3
    proper, _, _, _ = moved(rng, x, 1, translate=False)
    assert relative_error(x64(averaged(features, "SO(3)"), proper), x64(averaged(features, "SO(3)"), x)) < F64_BOUND


@pytest.mark.parametrize("group,det", [("E(3)", -1), ("SE(3)", 1)])
def test_point_equivariance(group, det, rng):
    x = skewed_cloud(rng, 32)
    y, perm, r, t = moved(rng, x, det, translate=True)
    out_x = x64(averaged(displace, group, "points"), x)
    out_y = x64(averaged(displace, group, "points"), y)
    assert relative_error(x64(displace, y), x64(displace, x)[perm] @ r.T + t) > 1e-2
    assert out_y.shape == (32, 3)
    assert relative_error(out_y, out_x[perm] @ r.T + t) < F64_BOUND


@pytest.mark.parametrize("group,det", [("E(3)", -1), ("SO(3)", 1)])
def test_vector_equivariance(group, det, rng):
    x = skewed_cloud(rng, 32)
    y, _, r, _ = moved(rng, x, det, translate=group == "E(3)")
    out_x = x64(averaged(direction, group, "vectors"), x)
    out_y = x64(averaged(direction, group, "vectors"), y)
    assert relative_error(x64(direction, y), x64(direction, x) @ r.T) > 1e-2
    assert relative_error(out_y, out_x @ r.T) < F64_BOUND


@pytest.mark.parametrize("group,count", [("O(3)", 8), ("SO(3)", 4), ("E(2)", 4), ("SE(4)", 8)])
def test_frames_are_the_sign_flips_of_the_principal_axes(group, count, rng):
    d = int(group[-2])
    x = skewed_cloud(rng, 32, d)
    frames, info = x64(invariant.pca_frames, x, group=group)
    assert frames.shape == (count, d, d)
    gram = np.einsum("fji,fjk->fik", frames, frames)
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(d), frames.shape), atol=1e-12)
    dets = np.linalg.det(frames)
    if group.startswith("S"):
        np.testing.assert_allclose(dets, 1.0, atol=1e-12)
    else:
        assert np.sum(dets > 0) == count // 2
    r = random_orthogonal(rng, d, 1 if group.startswith("S") else -1)
    moved_frames, _ = x64(invariant.pca_frames, x @ r.T + 1.0, group=group)
    # the frame set is equivariant: each frame of the moved cloud is R times a frame of the cloud
    rotated = np.einsum("ij,fjk->fik", r, frames)
    distance = np.abs(moved_frames[:, None] - rotated[None, :]).max(axis=(-2, -1))
    assert np.all(distance.min(axis=1) < 1e-10)
    assert not bool(info.ambiguous)


def test_averaging_an_invariant_function_changes_nothing(rng):
    x = skewed_cloud(rng, 32)

    def gram_spectrum(y):
        c = y - jnp.mean(y, axis=-2, keepdims=True)
        return jnp.linalg.eigvalsh(jnp.swapaxes(c, -1, -2) @ c)

    assert relative_error(x64(averaged(gram_spectrum, "E(3)"), x), x64(gram_spectrum, x)) < 1e-12


def test_mask_padding_and_batch(rng):
    clouds = [skewed_cloud(rng, 32), skewed_cloud(rng, 20)]
    x = rng.normal(size=(2, 32, 3)) * 100.0
    mask = np.zeros((2, 32), bool)
    for i, c in enumerate(clouds):
        x[i, : len(c)], mask[i, : len(c)] = c, True
    x[1, -1] = np.nan  # padding may hold anything
    out = x64(averaged(features, "E(3)", masked=True), x, mask)
    points = x64(averaged(displace, "E(3)", "points", masked=True), x, mask)
    assert out.shape == (2, 16) and np.all(np.isfinite(out)) and np.all(points[1, 20:] == 0.0)
    mapped = x64(jax.jit(jax.vmap(lambda a, m: invariant.frame_average(features, a, group="E(3)", mask=m))), x, mask)
    assert relative_error(mapped, out) < 1e-12
    for i, c in enumerate(clouds):
        assert relative_error(out[i], x64(averaged(features, "E(3)"), c)) < 1e-12
        single = x64(averaged(displace, "E(3)", "points"), c)
        assert relative_error(points[i, : len(c)], single) < 1e-12


def test_pytree_outputs_and_info(rng):
    x = skewed_cloud(rng, 32)
    y, _, r, t = moved(rng, x, -1, translate=True)

    def both(cloud):
        return {"mean": jnp.mean(cloud, axis=-2), "spread": jnp.max(cloud, axis=-2)}

    average = jax.jit(lambda a: invariant.frame_average(both, a, group="E(3)", equivariant="vectors", return_info=True))
    with jax.enable_x64(True):
        out_x, info = average(x)
        out_y, _ = average(y)
    assert set(out_x) == {"mean", "spread"} and not bool(info.ambiguous) and info.sign_source is None
    assert relative_error(out_y["spread"], np.asarray(out_x["spread"]) @ r.T) < F64_BOUND
    assert np.abs(np.asarray(out_x["mean"])).max() < 1e-12  # centred cloud: its mean vector averages to 0


def test_nonfinite_input_gives_nan_output_and_flag(rng):
    x = skewed_cloud(rng, 32)
    x[3, 1] = np.nan
    with jax.enable_x64(True):
        out, info = jax.jit(lambda a: invariant.frame_average(features, a, group="E(3)", return_info=True))(x)
    assert np.all(np.isnan(np.asarray(out))) and bool(info.ambiguous)
