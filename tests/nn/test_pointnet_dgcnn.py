import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from geojax.nn.dgcnn import DGCNN, EdgeConv, knn_indices
from geojax.nn.pointnet import PointNet


def _bind(module):
    """``module`` called under ``nnx.jit`` (the eager path is slow on CPU)."""
    call = nnx.jit(lambda m, x: m(x))
    return lambda x: call(module, x)


def _models():
    return {
        "pointnet": PointNet(n_classes=5, point_widths=(16, 32), head_widths=(16,), rngs=nnx.Rngs(0)),
        "dgcnn": DGCNN(n_classes=5, edge_widths=(16, 16), embed=32, head_widths=(16,), k=6, rngs=nnx.Rngs(0)),
    }


@pytest.mark.parametrize("name", ["pointnet", "dgcnn"])
def test_shapes_batching_and_permutation_invariance(name, rng):
    model = _bind(_models()[name])
    x = rng.normal(size=(2, 3, 40, 3)).astype(np.float32)
    out = model(jnp.asarray(x))
    assert out.shape == (2, 3, 5) and out.dtype == jnp.float32
    np.testing.assert_allclose(model(jnp.asarray(x[1, 2])), out[1, 2], rtol=1e-5, atol=1e-6)
    perm = rng.permutation(40)
    # float32 bound: permuting changes only summation order in the mean pooling
    np.testing.assert_allclose(model(jnp.asarray(x[:, :, perm])), out, rtol=1e-5, atol=1e-5)
    # not rotation invariant on raw coordinates (the tests of invariant inputs would be vacuous otherwise)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    assert np.max(np.abs(model(jnp.asarray(x @ q.T.astype(np.float32))) - out)) > 1e-3


def test_knn_and_edgeconv_match_a_direct_per_edge_computation(rng):
    x = jnp.asarray(rng.normal(size=(30, 4)))
    idx = knn_indices(x, 5)
    d = np.linalg.norm(np.asarray(x)[:, None] - np.asarray(x)[None], axis=-1)
    np.testing.assert_array_equal(np.asarray(idx), np.argsort(d, axis=1, kind="stable")[:, :5])
    layer = EdgeConv(4, 8, k=5, rngs=nnx.Rngs(1))
    out = np.asarray(layer(x))
    wc, b, wn = (np.asarray(layer.centre.kernel[...]), np.asarray(layer.centre.bias[...]), np.asarray(layer.neighbour.kernel[...]))
    wa = wc + wn  # centre = W_a - W_b
    xi = np.asarray(x)
    direct = np.empty_like(out)
    for i in range(30):
        e = xi[i] @ wa + (xi[idx[i]] - xi[i]) @ wn + b  # [k, 8]: MLP on each edge (x_i, x_j - x_i)
        direct[i] = np.max(np.where(e > 0, e, 0.2 * e), axis=0)
    np.testing.assert_allclose(out, direct, rtol=1e-5, atol=1e-5)


def test_gradients_are_finite_and_nonzero(rng):
    for model in _models().values():
        x = jnp.asarray(rng.normal(size=(4, 32, 3)).astype(np.float32))
        grads = nnx.jit(nnx.grad(lambda m: jnp.sum(m(x) ** 2)))(model)
        leaves = jax.tree.leaves(grads)
        assert all(np.all(np.isfinite(g)) for g in leaves) and sum(float(jnp.abs(g).sum()) for g in leaves) > 0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: PointNet(n_classes=0, rngs=nnx.Rngs(0)), "n_classes"),
        (lambda: PointNet(n_classes=3, point_widths=(), rngs=nnx.Rngs(0)), "point_widths"),
        (lambda: PointNet(n_classes=3, pool="sum", rngs=nnx.Rngs(0)), "pool"),
        (lambda: PointNet(n_classes=3, rngs=nnx.Rngs(0))(jnp.zeros((5, 4))), r"\[\.\.\., n, 3\]"),
        (lambda: DGCNN(n_classes=3, edge_widths=(0,), rngs=nnx.Rngs(0)), "edge_widths"),
        (lambda: DGCNN(n_classes=3, k=0, rngs=nnx.Rngs(0)), "k must be"),
        (lambda: DGCNN(n_classes=3, k=8, rngs=nnx.Rngs(0))(jnp.zeros((5, 3))), "k must lie"),
        (lambda: knn_indices(jnp.zeros((5,)), 2), "x: expected"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
