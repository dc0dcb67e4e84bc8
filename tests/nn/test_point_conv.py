import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from geojax.data import TETRIS_SHAPES
from geojax.nn import IrrepsLinear, PointConvNet


@pytest.fixture(scope="module")
def net():
    model = PointConvNet(n_classes=8, mul=4, lmax=2, layers=3, rngs=nnx.Rngs(0))
    return nnx.jit(lambda pos, model=model: model(pos))


def test_invariant_to_rotation_translation_and_permutation(net):
    pos = jnp.asarray(TETRIS_SHAPES)
    out = net(pos)
    for seed in range(3):
        rot = e3nn.rand_matrix(jax.random.key(seed), ())
        moved = pos @ rot.T + jax.random.normal(jax.random.key(seed + 10), (1, 1, 3))
        np.testing.assert_allclose(net(moved), out, atol=2e-5)
    perm = jnp.array([2, 0, 3, 1])
    np.testing.assert_allclose(net(pos[:, perm]), out, atol=2e-5)


def test_mirror_images_get_different_outputs(net):
    # chiral_b is chiral_a reflected (y -> -y); an odd-parity scalar tells them apart
    a = jnp.asarray(TETRIS_SHAPES[0])
    mirrored = a * jnp.array([1.0, -1.0, 1.0])
    np.testing.assert_allclose(np.sort(np.asarray(mirrored), 0), np.sort(TETRIS_SHAPES[1], 0))
    assert float(jnp.max(jnp.abs(net(a) - net(mirrored)))) > 1e-3


def test_irreps_linear_is_equivariant_and_checks_irreps():
    lin = IrrepsLinear("3x0e+2x1o+1x2e", "2x0e+4x1o+2x2e", rngs=nnx.Rngs(1))
    x = e3nn.normal("3x0e+2x1o+1x2e", jax.random.key(0), (5,))
    rot = e3nn.rand_matrix(jax.random.key(1), ())
    np.testing.assert_allclose(lin(x.transform_by_matrix(rot)).array, lin(x).transform_by_matrix(rot).array, atol=1e-5)
    with pytest.raises(ValueError, match="IrrepsLinear: expected input irreps"):
        lin(e3nn.normal("1x0e", jax.random.key(0), (5,)))
