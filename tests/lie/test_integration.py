"""Monte-Carlo integration and group convolutions: weights, carried samples, exact equivariance."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from geojax import lie
from tests.conftest import relative_error


def _kernel_params(rng, d_in, c_in, c_out, hidden=16):
    return (
        rng.normal(size=(d_in, hidden)) / np.sqrt(d_in),
        rng.normal(size=(hidden,)) * 0.3,
        rng.normal(size=(hidden, c_in * c_out)) / np.sqrt(hidden),
    )


def _mlp(params, x, c_in, c_out):
    """A small smooth MLP kernel: [..., d] -> [..., c_in, c_out] (any function works)."""
    w1, b1, w2 = params
    h = jnp.tanh(x @ w1.astype(x.dtype) + b1.astype(x.dtype))
    return (h @ w2.astype(x.dtype)).reshape(x.shape[:-1] + (c_in, c_out)) * jnp.exp(
        -0.5 * jnp.sum(x[..., :2] ** 2, axis=-1)
    )[..., None, None]


@functools.partial(jax.jit, static_argnums=0)
def _network(group, params, signal, points, weights, samples):
    """lifting conv -> group conv (same samples carried), vmapped over a leading axis of inputs."""
    lift_params, conv_params = params
    lift = lambda x: _mlp(lift_params, x, 2, 3)
    conv = lambda x, c: _mlp(conv_params, jnp.concatenate([x, c], -1), 3, 3)

    def net(points, weights, samples):
        f1 = lie.lifting_conv(lift, group, signal, points, weights, points, samples)
        f2 = lie.group_conv(conv, group, f1, points, weights, points)
        return f1, f2

    return jax.vmap(net)(points, weights, samples)


def _equivariance_outputs(group, seed, a_lin, t, dtype):
    """Outputs on the original input and on the transformed input (points, weights, samples)."""
    rng = np.random.default_rng(seed)
    n, num_p, num_s = group.n, 12, 6
    points = rng.normal(size=(num_p, n))
    weights = rng.uniform(0.5, 1.5, size=num_p)
    signal = rng.normal(size=(num_p, 2))
    samples = lie.draw(group, jax.random.key(seed), num_s, dtype=dtype)
    params = (_kernel_params(rng, n, 2, 3), _kernel_params(rng, n + group.dim, 3, 3))
    # transformed input: x -> A x + t, quadrature weights pushed forward (|det A|), samples A h
    points_t = points @ a_lin.T + t
    weights_t = weights * abs(np.linalg.det(a_lin))
    samples_t = lie.translate(group, samples, jnp.asarray(a_lin, dtype))
    stack = lambda u, v: jnp.stack([jnp.asarray(u, dtype), jnp.asarray(v, dtype)])
    both = lie.SampleSet(*(stack(u, v) for u, v in zip(samples, samples_t)))
    f1, f2 = _network(group, params, jnp.asarray(signal, dtype), stack(points, points_t), stack(weights, weights_t), both)
    first = lambda f: jax.tree.map(lambda x: x[0], f)
    second = lambda f: jax.tree.map(lambda x: x[1], f)
    return first(f1), first(f2), second(f1), second(f2), samples, samples_t


# GL+(2) exercises every factor (|det g|, |det h|, pushed-forward weights); SO/SL are subsets
GROUPS = [pytest.param(lie.SO(2), marks=pytest.mark.slow), pytest.param(lie.SL(2), marks=pytest.mark.slow), lie.GLPlus(2)]


def _linear_part(group):
    th = 0.9
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    if isinstance(group, lie.SO):
        return rot
    shear = np.array([[1.0, 0.7], [0.0, 1.0]])
    return rot @ shear * (1.4 if isinstance(group, lie.GLPlus) else 1.0)


@pytest.mark.parametrize("group", GROUPS, ids=str)
def test_lifting_and_group_conv_are_exactly_equivariant_float64(group):
    """out'(A y + t, A g) = out(y, g) for every sample: the estimators are equivariant, not just
    their expectations, because the samples are carried with the features and translated."""
    with jax.enable_x64(True):
        f1, f2, g1, g2, s, st = _equivariance_outputs(group, 0, _linear_part(group), np.array([0.3, -1.2]), jnp.float64)
    assert f1.values.shape == (12, 6, 3) and f2.values.shape == (12, 6, 3)
    assert f1.values.dtype == jnp.float64
    assert relative_error(g1.values, f1.values) < 1e-12
    assert relative_error(g2.values, f2.values) < 1e-11
    # features carry their samples; the group conv kept the same set by default
    assert np.array_equal(f1.samples.elements, s.elements)
    assert np.array_equal(f2.samples.elements, s.elements)
    assert np.array_equal(g2.samples.elements, st.elements)
    assert np.array_equal(st.log_density, s.log_density)
    # and the outputs are not trivially constant
    assert np.std(np.asarray(f2.values)) > 1e-3


@pytest.mark.slow
def test_equivariance_float32_bound():
    group = lie.SL(2)
    f1, f2, g1, g2, _, _ = _equivariance_outputs(group, 1, _linear_part(group), np.array([0.3, -1.2]), jnp.float32)
    assert f2.values.dtype == jnp.float32
    assert relative_error(g1.values, f1.values) < 1e-4
    assert relative_error(g2.values, f2.values) < 1e-4


def test_weights_integrate_and_relative_elements(rng):
    with jax.enable_x64(True):
        # elements need not come from a sampler here: any SampleSet works
        th = rng.uniform(-np.pi, np.pi, 40)
        rot = np.stack([np.stack([np.cos(th), -np.sin(th)], -1), np.stack([np.sin(th), np.cos(th)], -1)], -2)
        s = lie.SampleSet(jnp.asarray(rot), jnp.zeros(40))
        w = np.asarray(lie.importance_weights(s))
        assert np.allclose(w, 1 / 40) and abs(float(lie.integrate(jnp.ones(40), s)) - 1.0) < 1e-15
        sl = lie.SL(2)
        shear = np.array([[1.0, 0.0], [0.5, 1.0]])
        s2 = lie.SampleSet(jnp.asarray(np.diag([1.5, 1 / 1.5]) @ shear @ rot), jnp.asarray(rng.normal(size=40)))
        wn = np.asarray(lie.importance_weights(s2, self_normalized=True))
        assert abs(wn.sum() - 1) < 1e-14 and np.all(wn > 0)
        vals = rng.normal(size=(40, 3))
        ref = (np.exp(-np.asarray(s2.log_density))[:, None] * vals).mean(0)
        assert relative_error(lie.integrate(vals, s2), ref) < 1e-14
        rel = np.asarray(lie.relative_elements(sl, s2.elements[:5], s2.elements))
        assert rel.shape == (5, 40, 2, 2)
        ref_rel = np.linalg.inv(np.asarray(s2.elements[:5]))[:, None] @ np.asarray(s2.elements)[None]
        assert relative_error(rel, ref_rel) < 1e-13
        # relative charts are invariant under a common left translation
        h = np.array([[1.0, 2.0], [0.0, 1.0]])
        c1 = lie.relative_chart(sl, s2.elements[:5], s2.elements)
        c2 = lie.relative_chart(sl, h @ s2.elements[:5], h @ s2.elements)
        assert c1.shape == (5, 40, 3) and relative_error(c2, c1) < 1e-11
        d = rng.normal(size=(7, 2))
        off = np.asarray(lie.transformed_offsets(sl, s2.elements[:5], d))
        assert relative_error(off, np.einsum("mij,kj->mki", np.linalg.inv(np.asarray(s2.elements[:5])), d)) < 1e-13
