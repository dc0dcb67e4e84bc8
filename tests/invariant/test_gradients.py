"""Derivatives: the guarded eigenvector derivative, frozen versus differentiable frames, no NaN anywhere."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from geojax import invariant
from geojax.invariant.eigh import guarded_eigh
from tests.conftest import relative_error
from tests.invariant.test_frames import features
from tests.invariant.test_mds import skewed_cloud, x64

_WEIGHTS = np.random.default_rng(3).normal(size=(8, 3))


def mds_loss(x, differentiable=False, mask=None, scale=True):
    coords, _ = invariant.mds_coords(x, mask, differentiable=differentiable, scale=scale)
    return jnp.sum(jnp.asarray(np.resize(_WEIGHTS, coords.shape), x.dtype) * coords) + jnp.sum(coords**2)


@functools.partial(jax.jit, static_argnums=1)
def fa_loss(x, differentiable=False):
    return jnp.sum(invariant.frame_average(features, x, group="E(3)", differentiable=differentiable) ** 2)


def degenerate_clouds():
    """Eight points each: all eigenvalues equal, two equal, all coincident, collinear, mirror symmetric."""
    cube = np.array(np.meshgrid([-1.0, 1.0], [-1.0, 1.0], [-1.0, 1.0])).reshape(3, 8).T
    angles = np.arange(4) * np.pi / 2
    cylinder = np.stack([np.tile(np.cos(angles), 2), np.tile(np.sin(angles), 2), np.repeat([-1.0, 2.0], 4)], -1)
    coincident = np.tile([[0.3, -1.2, 2.0]], (8, 1))
    line = np.outer(np.arange(8.0), [1.0, 2.0, -0.5])
    return {"cube": cube, "cylinder": cylinder, "coincident": coincident, "line": line}


def test_guarded_eigh_derivative_matches_the_exact_one(rng):
    a = rng.normal(size=(4, 4))
    c, dc = a + a.T + np.diag([8.0, 4.0, 0.0, -4.0]), rng.normal(size=(4, 4))
    dc = dc + dc.T
    with jax.enable_x64(True):
        (lam, vec), (dlam, dvec) = jax.jit(lambda m, t: jax.jvp(lambda a: guarded_eigh(a, 1.5e-8), (m,), (t,)))(c, dc)
        (lam0, vec0), (dlam0, dvec0) = jax.jit(lambda m, t: jax.jvp(jnp.linalg.eigh, (m,), (t,)))(c, dc)
        lam, vec, dlam, dvec = map(np.asarray, (lam, vec, dlam, dvec))
        lam0, vec0, dlam0, dvec0 = (np.asarray(t)[..., ::-1] for t in (lam0, vec0, dlam0, dvec0))
    signs = np.sign(np.sum(vec * vec0, axis=0))
    assert relative_error(lam, lam0) < 1e-12 and relative_error(dlam, dlam0) < 1e-10
    assert relative_error(dvec * signs, dvec0) < 1e-10
    with jax.enable_x64(True):  # repeated eigenvalues: finite, where the exact derivative is not
        _, (dlam_rep, dvec_rep) = jax.jvp(lambda m: guarded_eigh(m, 1.5e-8), (np.diag([2.0, 1.0, 1.0, 1.0]),), (dc,))
        _, (_, dvec_exact) = jax.jvp(jnp.linalg.eigh, (np.diag([2.0, 1.0, 1.0, 1.0]),), (dc,))
    assert np.all(np.isfinite(np.asarray(dvec_rep))) and np.all(np.isfinite(np.asarray(dlam_rep)))
    assert not np.all(np.isfinite(np.asarray(dvec_exact)))


def test_differentiable_frame_gives_the_total_derivative(rng):
    """Directional derivatives against central differences; the frozen (default) frame differs."""
    x, v = skewed_cloud(rng, 8), rng.normal(size=(8, 3))
    step = 1e-5
    with jax.enable_x64(True):
        for loss in (jax.jit(lambda a: mds_loss(a, True)), functools.partial(fa_loss, differentiable=True)):
            exact = float(np.sum(np.asarray(jax.jit(jax.grad(loss))(x)) * v))
            numeric = (float(loss(x + step * v)) - float(loss(x - step * v))) / (2 * step)
            assert exact == pytest.approx(numeric, rel=1e-7)
        frozen = np.asarray(jax.jit(jax.grad(fa_loss))(x))
        total = np.asarray(jax.jit(jax.grad(functools.partial(fa_loss, differentiable=True)))(x))
    assert relative_error(frozen, total) > 1e-3  # the default holds the frame fixed: not the total derivative


def test_default_gradient_holds_the_frame_fixed(rng):
    x = skewed_cloud(rng, 8)
    _, info = x64(invariant.mds_coords, x)
    frame = info.frame

    def frozen(a):
        c = a - jnp.mean(a, axis=0)
        coords = c @ frame / jnp.sqrt(jnp.mean(jnp.sum(c * c, axis=1)))
        return jnp.sum(_WEIGHTS * coords) + jnp.sum(coords**2)

    with jax.enable_x64(True):
        value, grad = jax.jit(jax.value_and_grad(mds_loss))(x)
        value_ref, grad_ref = jax.jit(jax.value_and_grad(frozen))(x)
        assert float(value) == pytest.approx(float(value_ref), rel=1e-12)
        assert relative_error(grad, grad_ref) < 1e-10


def test_classical_mds_default_gradient_freezes_only_the_eigenvectors(rng):
    """``sum coords**2`` is the sum of the top-k eigenvalues whatever the eigenvectors: with them
    frozen (the default) its gradient is still the exact one, checked by central differences, and
    the full coordinates' gradient differs from the total derivative."""
    x, v = skewed_cloud(rng, 8), rng.normal(size=(8, 8))
    v = v + v.T - 2 * np.diag(np.diag(v))  # a symmetric direction with zero diagonal
    D = np.linalg.norm(x[:, None] - x[None], axis=-1)
    step = 1e-6

    def eigen_sum(d, differentiable=False):
        return jnp.sum(invariant.classical_mds(d, 2, scale=False, differentiable=differentiable)[0] ** 2)

    def coords_loss(d, differentiable=False):
        return jnp.sum(_WEIGHTS[:, :2] * invariant.classical_mds(d, 2, scale=False, differentiable=differentiable)[0])

    with jax.enable_x64(True):
        exact = float(np.sum(np.asarray(jax.jit(jax.grad(eigen_sum))(D)) * v))
        numeric = (float(eigen_sum(D + step * v)) - float(eigen_sum(D - step * v))) / (2 * step)
        frozen = np.asarray(jax.jit(jax.grad(coords_loss))(D))
        total = np.asarray(jax.jit(jax.grad(functools.partial(coords_loss, differentiable=True)))(D))
    assert abs(numeric) > 1e-2 and exact == pytest.approx(numeric, rel=1e-7)
    assert np.abs(frozen).max() > 1e-3 and relative_error(frozen, total) > 1e-3


@pytest.mark.parametrize("differentiable", [False, True])
def test_no_nan_gradients_at_degenerate_spectra(differentiable):
    grad_mds = jax.jit(jax.grad(lambda a: mds_loss(a, differentiable)))
    grad_fa = jax.jit(jax.grad(lambda a: fa_loss(a, differentiable)))
    grad_cmds = jax.jit(
        jax.grad(lambda d: jnp.sum(invariant.classical_mds(d, 3, differentiable=differentiable)[0] ** 3))
    )
    for name, x in degenerate_clouds().items():
        distances = np.linalg.norm(x[:, None] - x[None], axis=-1).astype(np.float32)
        for g in (grad_mds(x.astype(np.float32)), grad_fa(x.astype(np.float32)), grad_cmds(distances)):
            assert np.all(np.isfinite(np.asarray(g))), name
        with jax.enable_x64(True):
            assert np.all(np.isfinite(np.asarray(grad_mds(x)))), name


def test_second_derivatives_agree_in_both_orders(rng):
    """Reverse-over-reverse equals forward-over-reverse (the Hessian is symmetric), which a derivative
    rule that is exact only to first order, or that cancels large terms inexactly, would break."""
    x, v = skewed_cloud(rng, 8), rng.normal(size=(8, 3))

    @jax.jit
    def products(a, t):
        grad = jax.grad(lambda b: mds_loss(b, True))
        return jax.jvp(grad, (a,), (t,))[1], jax.vjp(grad, a)[1](t)[0]

    with jax.enable_x64(True):
        fwd_rev, rev_rev = map(np.asarray, products(x, v))
    assert np.abs(fwd_rev).max() > 1e-3 and relative_error(rev_rev, fwd_rev) < 1e-10


@pytest.mark.slow
def test_second_derivatives_against_finite_differences(rng):
    """Hessian-vector products against finite differences of the gradient at a simple spectrum; finite
    at the cube, where the differentiable frame's second derivative is of order 1 / broadening^2
    (documented) and the frozen frame's is bounded."""
    x, v = skewed_cloud(rng, 8), rng.normal(size=(8, 3))
    with jax.enable_x64(True):
        grad = jax.jit(jax.grad(lambda a: mds_loss(a, True)))
        fwd_rev = np.asarray(jax.jvp(grad, (x,), (v,))[1])
        step = 1e-5
        fd = (np.asarray(grad(x + step * v)) - np.asarray(grad(x - step * v))) / (2 * step)
        cube = degenerate_clouds()["cube"]
        at_cube = [
            np.asarray(jax.jvp(jax.grad(lambda a, d=d: mds_loss(a, d)), (cube,), (v,))[1]) for d in (False, True)
        ]
    assert relative_error(fwd_rev, fd) < 1e-7
    assert all(np.all(np.isfinite(h)) for h in at_cube)
    assert np.abs(at_cube[0]).max() < 1e3 < np.abs(at_cube[1]).max()


@pytest.mark.slow
def test_second_derivatives_check_grads(rng):
    with jax.enable_x64(True):
        x = skewed_cloud(rng, 8)
        check_grads(lambda a: mds_loss(a, True), (x,), order=2, modes=["fwd", "rev"], atol=1e-5, rtol=1e-5)
        check_grads(lambda a: fa_loss(a, True), (x,), order=2, modes=["rev"], atol=1e-5, rtol=1e-5)


def test_padding_gets_zero_gradient_even_with_nan(rng):
    x = np.concatenate([skewed_cloud(rng, 8), np.full((3, 3), np.nan)])
    mask = np.arange(11) < 8
    with jax.enable_x64(True):
        for differentiable in (False, True):
            g = np.asarray(jax.jit(jax.grad(lambda a, m=mask, d=differentiable: mds_loss(a, d, m)))(x))
            assert np.all(np.isfinite(g[:8])) and np.all(g[8:] == 0.0)
