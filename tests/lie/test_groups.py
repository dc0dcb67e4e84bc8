"""Group objects: axioms, exp/log and chart round trips, bases, actions, static-argument use."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg as sla

from geojax import lie
from tests.conftest import relative_error

slow = pytest.mark.slow

GROUPS = [
    pytest.param(lie.SO(2), marks=slow),
    pytest.param(lie.SO(3), marks=slow),
    lie.SL(2),
    pytest.param(lie.SL(3), marks=slow),
    lie.GLPlus(2),
    pytest.param(lie.GLPlus(3), marks=slow),
    pytest.param(lie.Affine(lie.SO(2)), marks=slow),
    lie.Affine(lie.SL(2)),
    pytest.param(lie.Affine(lie.GLPlus(3)), marks=slow),
]
SPACES = [lie.SPD(2), pytest.param(lie.SPD(3), marks=slow), pytest.param(lie.SPD(2, unit_det=True), marks=slow)]


def _sample(group, key, num):
    """Moderate elements (chart/log round trips are well conditioned there)."""
    kw = {} if isinstance(group, lie.SO) or (
        isinstance(group, lie.Affine) and isinstance(group.group, lie.SO)
    ) else {"sigma": 0.5}
    return group.sample(key, (num,), **kw)


def _inputs(group, seed):
    """Three batches of 32 samples (one sampler call) and algebra coordinates (NumPy)."""
    g, logq = _sample(group, jax.random.key(seed), 96)
    rng = np.random.default_rng(seed)

    def coords(radius):
        c = rng.normal(size=(32, group.dim))
        c = c / np.linalg.norm(c, axis=-1, keepdims=True) * radius * rng.uniform(size=(32, 1))
        return jnp.asarray(c, g.dtype)

    a = g[:32]
    if not isinstance(group, lie.SO) and not (isinstance(group, lie.Affine) and isinstance(group.group, lie.SO)):
        a = a.at[0].set(jnp.asarray(_NOT_AN_EXPONENTIAL[group.matrix_size], a.dtype))
    # radius 1.5 / 2.0 keeps rotation angles below pi (principal logs, no chart cut)
    return a, g[32:64], g[64:], logq[:32], coords(1.5), coords(2.0)


# det 1 elements that are not exponentials (negative real eigenvalues): the polar chart still
# covers them. -diag(2, 1/2) in SL(2) and GL+(2); the 3x3 one is in SL(3) and in R^2 x| SL(2)
# (linear part -diag(2, 1/2)); the 4x4 one in R^3 x| GL+(3).
_NOT_AN_EXPONENTIAL = {
    2: -np.diag([2.0, 0.5]),
    3: np.array([[-2.0, 0.0, 1.0], [0.0, -0.5, 2.0], [0.0, 0.0, 1.0]]),
    4: np.array([[-2.0, 0.0, 1.0, 0.5], [0.0, -0.5, 2.0, 0.3], [0.0, 0.0, 1.0, 0.2], [0.0, 0.0, 0.0, 1.0]]),
}


@functools.partial(jax.jit, static_argnums=0)
def _group_checks(group, a, b, c, logq, xi_coords, ch):
    """Everything at once; inputs are stacked so each heavy method is compiled once or twice."""
    e = group.identity(a.dtype)
    xi = group.hat(xi_coords)
    ex = group.exp(xi)
    logs = group.log(jnp.stack([ex, a]))  # log(exp(xi)), log(a)
    f_ch = group.from_chart(ch)
    charts = group.to_chart(jnp.stack([a, f_ch]))  # chart(a), chart(from_chart(ch))
    ainv = group.inverse(a)
    return {
        "a": a,
        "ab_c": group.compose(group.compose(a, b), c),
        "a_bc": group.compose(a, group.compose(b, c)),
        "ae": group.compose(a, e),
        "ea": group.compose(e, a),
        "a_ainv": group.compose(a, ainv),
        "ainv_a": group.compose(ainv, a),
        "contains": group.contains(jnp.stack([group.compose(a, b), ainv, ex])),
        "identity": jnp.broadcast_to(e, a.shape),
        "chart": charts[0],
        "chart_rt": group.from_chart(charts[0]),
        "c": ch,
        "c_rt": charts[1],
        "xi": xi,
        "log_exp": logs[0],
        "exp": ex,
        "exp_log": group.exp(logs[1]),
        "vee_hat": group.vee(group.hat(ch)),
        "basis": group.algebra_basis(a.dtype),
        "logq": logq,
        "log_density": _log_density(group, a),
    }


def _log_density(group, g):
    if isinstance(group, lie.SO) or (isinstance(group, lie.Affine) and isinstance(group.group, lie.SO)):
        return group.log_density(g)
    return group.log_density(g, sigma=0.5)


@pytest.mark.parametrize("group", GROUPS, ids=str)
def test_axioms_and_round_trips_float64(group):
    with jax.enable_x64(True):
        r = {k: np.asarray(v) for k, v in _group_checks(group, *_inputs(group, 0)).items()}
    assert r["a"].dtype == np.float64
    tol = 1e-12
    assert relative_error(r["ab_c"], r["a_bc"]) < tol
    assert np.array_equal(r["ae"], r["a"]) and np.array_equal(r["ea"], r["a"])
    assert relative_error(r["a_ainv"], r["identity"]) < tol
    assert relative_error(r["ainv_a"], r["identity"]) < tol
    assert r["contains"].all()  # products, inverses, exponentials stay in the group
    # global chart and exp/log, round trips to float64 round-off
    assert relative_error(r["chart_rt"], r["a"]) < 1e-12
    assert relative_error(r["c_rt"], r["c"]) < 1e-11
    assert relative_error(r["log_exp"], r["xi"]) < 1e-11
    # exp(log(g)) where the principal log exists (not every element is an exponential)
    ok = np.all(np.isfinite(r["exp_log"]), axis=(-2, -1))
    assert ok.sum() >= 16
    assert relative_error(r["exp_log"][ok], r["a"][ok]) < 1e-11
    if not isinstance(group, lie.SO) and not (isinstance(group, lie.Affine) and isinstance(group.group, lie.SO)):
        # a[0] is not an exponential: log is NaN there, yet the chart round trip above covers it
        assert not ok[0] and np.isnan(r["exp_log"][0]).all() and np.isfinite(r["chart"][0]).all()
    assert relative_error(r["vee_hat"], r["c"]) < 1e-14
    # the sampler's log density agrees with log_density evaluated at the samples
    assert np.max(np.abs(r["log_density"][1:] - r["logq"][1:])) < 1e-10
    # orthonormal basis, of the right dimension, spanning the algebra
    basis = r["basis"]
    assert basis.shape == (group.dim,) + r["a"].shape[-2:]
    gram = np.einsum("kij,lij->kl", basis, basis)
    assert np.max(np.abs(gram - np.eye(group.dim))) < 1e-15
    lin = group.group if isinstance(group, lie.Affine) else group
    block = basis[:, : lin.n, : lin.n]
    if isinstance(lin, lie.SO):
        assert np.abs(block + np.swapaxes(block, -1, -2)).max() == 0
    if isinstance(lin, lie.SL):
        assert np.abs(np.trace(block, axis1=1, axis2=2)).max() < 1e-15
    if isinstance(group, lie.Affine):
        assert np.abs(basis[:, -1, :]).max() == 0
    # exp against SciPy's expm
    assert relative_error(r["exp"], np.stack([sla.expm(x) for x in r["xi"]])) < 1e-12


@functools.partial(jax.jit, static_argnums=0)
def _round_trips(group, g, xi):
    return group.from_chart(group.to_chart(g)), group.exp(group.log(g)), group.log(group.exp(xi))


def test_general_n_round_trips_float64(rng):
    """SL(3) through the n >= 3 code paths (Newton polar, inverse scaling and squaring logs,
    Taylor expm): chart and exp/log round trips, including an element that is not an exponential."""
    group = lie.SL(3)
    g = sla.expm(0.4 * rng.normal(size=(16, 3, 3)))
    g = g / np.cbrt(np.linalg.det(g))[:, None, None]
    g[0] = _NOT_AN_EXPONENTIAL[3]
    xi = 0.5 * rng.normal(size=(16, 3, 3))
    xi -= np.trace(xi, axis1=1, axis2=2)[:, None, None] * np.eye(3) / 3
    with jax.enable_x64(True):
        chart_rt, exp_log, log_exp = map(np.asarray, _round_trips(group, jnp.asarray(g), jnp.asarray(xi)))
    assert relative_error(chart_rt, g) < 1e-12
    assert np.isnan(exp_log[0]).all()
    assert relative_error(exp_log[1:], g[1:]) < 1e-12
    assert relative_error(log_exp, xi) < 1e-12
    assert relative_error(log_exp[0], np.asarray(sla.logm(sla.expm(xi[0])).real)) < 1e-12


def test_polar_chart_values_2x2():
    """The SL(2) chart of exp(S) R(theta) is (sqrt2 a, sqrt2 b, sqrt2 theta) for S = [[a,b],[b,-a]]."""
    a, b, th = 0.4, -0.3, 2.5
    s = np.array([[a, b], [b, -a]])
    r = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    with jax.enable_x64(True):
        c = np.asarray(lie.SL(2).to_chart(sla.expm(s) @ r))
        cg = np.asarray(lie.GLPlus(2).to_chart(1.5 * sla.expm(s) @ r))
    assert np.allclose(c, np.sqrt(2) * np.array([a, b, th]), atol=1e-14)
    assert np.allclose(cg, np.concatenate([[np.sqrt(2) * np.log(1.5)], c]), atol=1e-14)


@functools.partial(jax.jit, static_argnums=0)
def _spd_checks(space, p, g):
    q = space.act(g, p)
    inv = space.inverse(p)
    return {
        "q": q,
        "inv": inv,
        "contains_p": space.contains(p),
        "contains_q": space.contains(q) | (jnp.linalg.det(g) == 0),
        "contains_inv": space.contains(inv),
        "exp_log": space.exp(space.log(p)),
        "chart_rt": space.from_chart(space.to_chart(p)),
        "log_density": space.log_density(p, sigma=0.5),
    }


@pytest.mark.parametrize("space", SPACES, ids=str)
def test_spd_space(space, rng):
    n = space.n
    with jax.enable_x64(True):
        p, logq = space.sample(jax.random.key(1), (32,), sigma=0.5)
        g = rng.normal(size=(32, n, n))
        if space.unit_det:  # |det g| = 1 keeps det(g P g^T) = 1
            g = g / np.abs(np.linalg.det(g))[:, None, None] ** (1 / n)
        r = _spd_checks(space, p, jnp.asarray(g))
        assert all(bool(r[k].all()) for k in ("contains_p", "contains_q", "contains_inv"))
        p, g = np.asarray(p), np.asarray(g)
        assert relative_error(r["exp_log"], p) < 1e-12
        assert relative_error(r["chart_rt"], p) < 1e-12
        assert relative_error(r["inv"] @ p, np.broadcast_to(np.eye(n), p.shape)) < 1e-12
        assert relative_error(r["q"], g @ p @ np.swapaxes(g, -1, -2)) < 1e-14
        assert np.max(np.abs(np.asarray(r["log_density"]) - np.asarray(logq))) < 1e-10
        if space.unit_det:
            assert np.max(np.abs(np.linalg.det(np.asarray(p)) - 1)) < 1e-12
    with pytest.raises(TypeError, match="not a group"):
        space.compose(p, p)


@slow
def test_actions_compose(rng):
    x = rng.normal(size=(32, 2))
    with jax.enable_x64(True):
        for group in [lie.SL(2), lie.Affine(lie.GLPlus(2))]:
            a, _ = group.sample(jax.random.key(3), (32,))
            b, _ = group.sample(jax.random.key(4), (32,))
            lhs = group.act(group.compose(a, b), x)
            rhs = group.act(a, group.act(b, x))
            assert relative_error(lhs, rhs) < 1e-13
        aff = lie.Affine(lie.GLPlus(2))
        a_lin, t = aff.parts(a)
        assert relative_error(aff.act(a, x), np.einsum("bij,bj->bi", a_lin, x) + t) < 1e-15
        assert relative_error(aff.from_parts(a_lin, t), a) == 0


def test_groups_are_static_hashable_values():
    assert lie.SL(2) == lie.SL(2) and hash(lie.SL(2)) == hash(lie.SL(2))
    assert lie.SL(2) != lie.GLPlus(2) and lie.SPD(2) != lie.SPD(2, unit_det=True)
    assert hash(lie.Affine(lie.SO(3))) == hash(lie.Affine(lie.SO(3)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        lie.SO(3).n = 4

    @functools.partial(jax.jit, static_argnums=0)
    def chart(group, g):
        return group.to_chart(g)

    out = chart(lie.SO(2), jnp.eye(2))
    assert out.shape == (1,) and float(out[0]) == 0.0
    assert chart._cache_size() == 1
    chart(lie.SO(2), jnp.eye(2))
    assert chart._cache_size() == 1  # equal groups hit the same compiled function


def test_contains_rejects_non_members():
    with jax.enable_x64(True):
        rot = np.array([[0.0, -1.0], [1.0, 0.0]])
        assert not bool(lie.SO(2).contains(np.diag([1.0, -1.0])))
        assert not bool(lie.SO(2).contains(1.001 * rot))
        assert bool(lie.SO(2).contains(rot))
        assert not bool(lie.SL(2).contains(np.diag([2.0, 1.0])))
        assert bool(lie.SL(2).contains(np.diag([2.0, 0.5 * (1 + 1e-10)])))
        assert not bool(lie.GLPlus(3).contains(np.diag([1.0, 1.0, -1.0])))
        assert not bool(lie.SPD(2).contains(np.array([[1.0, 0.1], [0.0, 1.0]])))
        assert not bool(lie.SPD(2).contains(np.diag([1.0, -1.0])))
        assert not bool(lie.SPD(3).contains(np.diag([1.0, 2.0, -1.0])))
        assert not bool(lie.SPD(2, unit_det=True).contains(np.diag([1.0, 2.0])))
        aff = lie.Affine(lie.SL(2))
        assert not bool(aff.contains(np.array([[1.0, 0, 0], [0, 1, 0], [0.1, 0, 1]])))
        assert bool(aff.contains(np.array([[1.0, 0, 5], [0, 1, 3], [0, 0, 1]])))


def test_float32_sl3_samples_far_from_the_identity_are_members():
    """The determinant's rounding error grows with the Hadamard bound prod_i |g_i| (6e-4 at |g| ~ 40
    in float32, beyond sqrt(eps)): the tolerance includes it, so no sample charts to NaN."""
    group = lie.SL(3)
    s = lie.draw(group, jax.random.key(0), 400, sigma=2.0)
    assert s.elements.dtype == jnp.float32 and float(jnp.max(jnp.linalg.norm(s.elements, axis=(-2, -1)))) > 40
    assert bool(jnp.all(group.contains(s.elements))) and bool(jnp.all(jnp.isfinite(s.log_density)))
    # relative elements of the default law (|g^-1 h| up to ~700): 2.3% charted to NaN before
    s = lie.draw(group, jax.random.key(0), 400, sigma=1.0)
    chart = jax.jit(lambda a, b: lie.relative_chart(group, a, b))(s.elements[:40], s.elements)
    assert bool(jnp.all(jnp.isfinite(chart)))
    assert not bool(group.contains(jnp.diag(jnp.array([1.0, 1.0, 1.01], jnp.float32))))


@pytest.mark.parametrize("x64,order", [(True, 1), (False, 1), pytest.param(True, 2, marks=slow), pytest.param(False, 2, marks=slow)])
def test_gradients_finite_at_identity(x64, order):
    """No NaN in derivatives at the identity (2x2 groups, float32/float64): first order of the
    chart, its inverse and the sampler density by default; also log/exp and second order (slow)."""
    groups = [lie.SL(2)]
    if order == 2:
        groups += [lie.GLPlus(2), lie.SO(2), lie.SPD(2), lie.Affine(lie.SL(2))]
    with jax.enable_x64(x64):
        dt = jnp.float64 if x64 else jnp.float32

        def losses():
            out = []
            for group in groups:
                e = group.identity(dt)
                z = jnp.zeros((group.dim,), dt)
                w = jnp.arange(1, e.size + 1, dtype=dt).reshape(e.shape)
                fns = [
                    (lambda g, G=group: jnp.sum(jnp.arange(G.dim, dtype=dt) * G.to_chart(g)), e),
                    (lambda c, G=group, w=w: jnp.sum(w * G.from_chart(c)), z),
                    (lambda g, G=group: G.log_density(g), e),
                ]
                if order == 2:
                    fns += [
                        (lambda g, G=group, w=w: jnp.sum(w * G.log(g)), e),
                        (lambda c, G=group, w=w: jnp.sum(w * G.exp(G.hat(c))), z),
                    ]
                for f, x0 in fns:
                    out.append(jax.grad(f)(x0) if order == 1 else jax.hessian(f)(x0))
            if order == 2:  # reparametrization gradient of the sampler at sigma -> 0
                key = jax.random.key(0)
                out.append(jax.grad(lambda s: jnp.sum(lie.SL(2).sample(key, (8,), sigma=s, dtype=dt)[0]))(jnp.asarray(1e-30, dt)))
            return out

        res = jax.jit(losses)()
    for i, r in enumerate(res):
        assert bool(jnp.all(jnp.isfinite(r))), i
    # to_chart at the identity has the chart basis as derivative: d c_k / d g = B_k
    with jax.enable_x64(x64):
        jac = jax.jacfwd(lie.SL(2).to_chart)(jnp.eye(2, dtype=dt))
        basis = lie.SL(2).algebra_basis(dt)
    assert np.max(np.abs(np.asarray(jac) - np.asarray(basis))) < (1e-12 if x64 else 1e-6)


@slow
@pytest.mark.parametrize("group", [lie.SL(2), lie.GLPlus(2), lie.SO(3), lie.Affine(lie.SL(2))], ids=str)
def test_float32_round_trips(group):
    r = {k: np.asarray(v, np.float64) for k, v in _group_checks(group, *_inputs(group, 5)).items()}
    assert relative_error(r["chart_rt"], r["a"]) < 1e-5
    assert relative_error(r["c_rt"], r["c"]) < 1e-5
    assert relative_error(r["log_exp"], r["xi"]) < 1e-5
    assert relative_error(r["a_ainv"], r["identity"]) < 1e-5
    assert np.max(np.abs(r["log_density"][1:] - r["logq"][1:])) < 1e-4
