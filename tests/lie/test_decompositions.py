"""Polar, Iwasawa and scale decompositions: round trips, factor properties, references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg as sla

from geojax import lie
from tests.conftest import relative_error

slow = pytest.mark.slow


def _glplus(rng, batch, n, cond_max=30.0):
    g = rng.normal(size=(4 * batch, n, n))
    g[:, 0] *= np.sign(np.linalg.det(g))[:, None]
    g = g[np.linalg.cond(g) < cond_max][:batch]
    assert g.shape[0] == batch
    return g


def _decompose(g):
    p, r = lie.polar(g)
    k, a, nn = lie.iwasawa(g)
    s, g0 = lie.split_scale(g)
    return p, r, k, a, nn, s, g0


_decompose_jit = jax.jit(_decompose)


@pytest.mark.parametrize("n", [2, 3, pytest.param(4, marks=slow)])
def test_round_trips_and_factor_properties_float64(n, rng):
    g = _glplus(rng, 64, n)
    eye = np.eye(n)
    with jax.enable_x64(True):
        p, r, k, a, nn, s, g0 = map(np.asarray, _decompose_jit(g))
        back = np.asarray(lie.join_scale(s, g0))
    assert p.dtype == np.float64
    # polar: g = P R, P symmetric positive definite, R in SO(n)
    assert relative_error(p @ r, g) < 1e-13
    assert np.array_equal(p, np.swapaxes(p, -1, -2))
    assert np.all(np.linalg.eigvalsh(p) > 0)
    assert np.max(np.abs(np.swapaxes(r, -1, -2) @ r - eye)) < 1e-13
    assert np.all(np.linalg.det(r) > 0)
    # Iwasawa: g = K A N, K in SO(n), A positive diagonal, N unit upper triangular
    assert relative_error(k @ a @ nn, g) < 1e-13
    assert np.max(np.abs(np.swapaxes(k, -1, -2) @ k - eye)) < 1e-13
    assert np.all(np.linalg.det(k) > 0)
    assert np.all(a[:, np.arange(n), np.arange(n)] > 0)
    assert np.array_equal(a, a * eye)
    assert np.array_equal(np.tril(nn, -1), np.zeros_like(nn))
    assert np.array_equal(nn[:, np.arange(n), np.arange(n)], np.ones((len(g), n)))
    # scale: g = s g0, det g0 = 1
    assert np.max(np.abs(np.linalg.det(g0) - 1.0)) < 1e-13
    assert relative_error(back, g) < 1e-14
    # against independent references: SciPy's polar, and NumPy QR with the sign fix
    p_ref = np.stack([sla.polar(x, side="left")[1] for x in g])
    assert relative_error(p, p_ref) < 1e-12
    q, rr = np.linalg.qr(g)
    d = np.sign(np.diagonal(rr, axis1=1, axis2=2))
    assert relative_error(k, q * d[:, None, :]) < 1e-12


@pytest.mark.parametrize("n", [2, pytest.param(3, marks=slow)])
def test_float32_bounds(n, rng):
    g = _glplus(rng, 64, n).astype(np.float32)
    p, r, k, a, nn, s, g0 = map(np.asarray, _decompose_jit(g))
    assert p.dtype == np.float32
    assert relative_error(p @ r, g) < 2e-6
    assert relative_error(k @ a @ nn, g) < 2e-6
    assert np.max(np.abs(np.swapaxes(r, -1, -2) @ r - np.eye(n))) < 2e-6
    assert np.max(np.abs(np.linalg.det(g0.astype(np.float64)) - 1)) < 1e-5


def test_known_2x2_decompositions():
    """Hand-computed factors: a scaled rotation and a shear."""
    th = 0.7
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    stretch = np.diag([3.0, 0.5])
    with jax.enable_x64(True):
        p, r = map(np.asarray, lie.polar(stretch @ rot))
        k, a, nn = map(np.asarray, lie.iwasawa(np.array([[2.0, 3.0], [0.0, 0.5]]) @ np.eye(2)))
        k2, a2, n2 = map(np.asarray, lie.iwasawa(rot @ np.array([[2.0, 3.0], [0.0, 0.5]])))
    assert np.allclose(p, stretch, atol=1e-15) and np.allclose(r, rot, atol=1e-15)
    assert np.allclose(k, np.eye(2)) and np.allclose(a, np.diag([2.0, 0.5]))
    assert np.allclose(nn, [[1.0, 1.5], [0.0, 1.0]])
    assert np.allclose(k2, rot) and np.allclose(a2, a) and np.allclose(n2, nn)


def test_nan_where_det_not_positive():
    g = np.array([[[1.0, 0.0], [0.0, -1.0]], [[0.0, 0.0], [0.0, 0.0]], [[2.0, 0.0], [0.0, 1.0]]])
    g3 = np.stack([np.diag([1.0, 1.0, -1.0]), np.eye(3)])
    for x, bad in [(g, [True, True, False]), (g3, [True, False])]:
        outs = _decompose_jit(x)
        for o in outs:
            isnan = np.asarray(jnp.isnan(o))
            isnan = isnan.reshape(len(bad), -1).all(-1)
            assert list(isnan) == bad


@pytest.mark.parametrize("n,x64", [(2, True), (2, False), pytest.param(3, True, marks=slow), pytest.param(3, False, marks=slow)])
def test_gradients_finite_at_identity(n, x64):
    with jax.enable_x64(x64):
        dt = jnp.float64 if x64 else jnp.float32

        def loss(g):
            p, r, k, a, nn, s, g0 = _decompose(g)
            w = jnp.arange(g.size, dtype=dt).reshape(g.shape)
            return sum(jnp.sum(w * m) for m in (p, r, k, a, nn, g0)) + jnp.sum(s)

        grad, jac = jax.jit(lambda e: (jax.grad(loss)(e), jax.jacfwd(lambda g: jnp.matmul(*lie.polar(g)))(e)))(
            jnp.eye(n, dtype=dt)
        )
    assert bool(jnp.all(jnp.isfinite(grad)))
    # d(P R) = dg: the product rule must give the identity map
    m = n * n
    assert np.allclose(np.asarray(jac, np.float64).reshape(m, m), np.eye(m), atol=1e-10 if x64 else 1e-5)


@slow
@pytest.mark.parametrize("x64", [True, False])
def test_second_derivatives_finite_at_identity(x64):
    with jax.enable_x64(x64):
        dt = jnp.float64 if x64 else jnp.float32

        def loss(g):
            p, r, k, a, nn, s, g0 = _decompose(g)
            w = jnp.arange(g.size, dtype=dt).reshape(g.shape)
            return sum(jnp.sum(w * m) for m in (p, r, k, a, nn, g0)) + jnp.sum(s)

        hess = jax.jit(jax.hessian(loss))(jnp.eye(2, dtype=dt))
    assert bool(jnp.all(jnp.isfinite(hess)))
