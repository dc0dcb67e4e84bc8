"""Matrix functions: closed forms and iterations against SciPy/NumPy references, domains, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import mpmath as mp
import scipy.linalg as sla

from geojax import lie
from geojax.lie import matrix_functions as mf
from tests.conftest import relative_error

slow = pytest.mark.slow


def _batch_rel_err(a, b):
    """max over the batch of ||a - b||_max / ||b||_max."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    num = np.abs(a - b).max(axis=(-2, -1))
    return float(np.max(num / np.abs(b).max(axis=(-2, -1))))


def _sym(rng, batch, n, scale=1.0):
    x = rng.normal(size=(batch, n, n)) * scale
    return 0.5 * (x + np.swapaxes(x, -1, -2))


def _eigh_exp(s):
    lam, vec = np.linalg.eigh(s)
    return np.einsum("bij,bj,bkj->bik", vec, np.exp(lam), vec)


def _mp_expm(x):
    mp.mp.dps = 40
    return np.stack([np.array(mp.expm(mp.matrix(a.tolist())).tolist(), dtype=float) for a in x])


def _det_positive(rng, batch, n):
    g = rng.normal(size=(batch, n, n))
    g[:, 0] *= np.sign(np.linalg.det(g))[:, None]
    return g


# ------------------------------------------------------------------------------- scalar series
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-14), (np.float32, 3e-6)])
def test_scalar_functions_match_direct_formulas(dtype, tol):
    x = np.concatenate([np.linspace(-0.9, 0.9, 181), np.geomspace(1e-12, 30.0, 60), -np.geomspace(1e-12, 0.9, 40)])
    with jax.enable_x64(dtype == np.float64):
        xj = jnp.asarray(x, dtype)
        got = {
            "C": mf.cosh_sqrt(xj),
            "Sh": mf.sinhc_sqrt(xj),
            "A": mf.asinhc_sqrt(xj),
        }
        y2 = jnp.asarray(np.abs(x), dtype)
        got_lsh = mf.log_sinhc(y2)
    r = np.sqrt(np.abs(x))
    rs = np.where(r == 0, 1.0, r)
    rs_asin = np.minimum(rs, 1.0)
    want = {
        "C": np.where(x >= 0, np.cosh(r), np.cos(r)),
        "Sh": np.where(r == 0, 1.0, np.where(x >= 0, np.sinh(rs), np.sin(rs)) / rs),
        "A": np.where(r == 0, 1.0, np.where(x >= 0, np.arcsinh(rs), np.arcsin(rs_asin)) / rs),
    }
    for k in want:
        assert got[k].dtype == dtype
        assert relative_error(got[k], want[k]) < tol, k
    ya = np.sqrt(np.abs(x))
    ya_s = np.where(ya == 0, 1.0, ya)
    want_lsh = np.where(ya == 0, 0.0, np.log(np.sinh(ya_s) / ya_s))
    # absolute error (the value is O(y^2) near 0): a few ulps of the O(1) terms
    assert np.max(np.abs(np.asarray(got_lsh, np.float64) - want_lsh)) < 10 * np.finfo(dtype).eps * 30


def test_log_sinhc_large_arguments_do_not_overflow():
    with jax.enable_x64(True):
        y = jnp.asarray([100.0, 800.0, 1e4])
        out = np.asarray(mf.log_sinhc(y**2))
    want = np.asarray([100.0, 800.0, 1e4]) - np.log(2.0) - np.log([100.0, 800.0, 1e4])
    assert np.all(np.isfinite(out)) and np.max(np.abs(out - want)) < 1e-12


# ---------------------------------------------------------------------------------- 2x2 closed forms
def test_sym_exp_2x2_matches_scipy_and_log_inverts_it(rng):
    s = _sym(rng, 200, 2, scale=1.5)
    s[:5] *= 1e-9  # next to the identity, where the series branch is used
    with jax.enable_x64(True):
        e = np.asarray(lie.sym_exp(s))
        back = np.asarray(lie.spd_log(e))
        root = np.asarray(lie.spd_sqrt(e))
    assert _batch_rel_err(e, _eigh_exp(s)) < 1e-14
    assert relative_error(back, s) < 1e-12
    assert _batch_rel_err(root @ root, e) < 1e-13
    assert np.allclose(root, np.swapaxes(root, -1, -2), atol=0, rtol=0)


def test_2x2_general_exp_and_principal_log_match_scipy(rng):
    x = rng.normal(size=(10, 2, 2)) * 1.5
    with jax.enable_x64(True):
        e = np.asarray(lie.expm(x))
        g = _det_positive(rng, 1000, 2)
        lg = np.asarray(lie.logm(g))
        e_back = np.asarray(lie.expm(jnp.asarray(lg)))
    assert _batch_rel_err(e, _mp_expm(x)) < 1e-14
    ev = np.linalg.eigvals(g)
    on_negative_axis = np.any((np.abs(ev.imag) < 1e-12) & (ev.real < 0), axis=-1)
    finite = np.all(np.isfinite(lg), axis=(-2, -1))
    # NaN exactly where no real principal log exists
    assert np.array_equal(finite, ~on_negative_axis)
    assert finite.sum() > 500
    sub = np.flatnonzero(finite)[:40]
    ref = np.stack([sla.logm(a).real for a in g[sub]])
    assert _batch_rel_err(lg[sub], ref) < 1e-9
    assert _batch_rel_err(e_back[finite], g[finite]) < 1e-12


@pytest.mark.parametrize("theta", [1e-9, 0.3, 2.0, 3.1, np.pi - 1e-7])
def test_2x2_log_of_rotations_and_elliptic_elements(theta):
    c, s = np.cos(theta), np.sin(theta)
    r = np.array([[c, -s], [s, c]])
    b = np.array([[2.0, 0.3], [0.0, 0.5]])
    g = b @ r @ np.linalg.inv(b)  # elliptic element of SL(2), eigenvalues e^{+-i theta}
    with jax.enable_x64(True):
        lr = np.asarray(lie.logm(r))
        lg = np.asarray(lie.logm(g))
    assert np.allclose(lr, [[0, -theta], [theta, 0]], rtol=1e-12, atol=1e-15)
    # absolute: ||g|| ~ 1 and log is well conditioned there (relative error of a tiny log is not)
    # next to theta = pi the log is ill-conditioned: d log ~ theta / sin(theta)
    assert np.max(np.abs(lg - b @ lr @ np.linalg.inv(b))) < 1e-13 * max(1.0, theta / np.sin(theta))


def test_float32_2x2_bounds(rng):
    s = _sym(rng, 200, 2).astype(np.float32)
    g = _det_positive(rng, 400, 2)
    g = g[np.trace(g, axis1=1, axis2=2) > -2 * np.sqrt(np.linalg.det(g))][:40].astype(np.float32)
    e = np.asarray(lie.sym_exp(s))
    assert e.dtype == np.float32
    assert _batch_rel_err(e, _eigh_exp(s.astype(np.float64))) < 2e-6
    assert relative_error(lie.spd_log(e), s) < 2e-5
    lg = np.asarray(lie.logm(g))
    ref = np.stack([sla.logm(x).real for x in g.astype(np.float64)])
    err = np.abs(lg - ref).max(axis=(1, 2)) / np.abs(ref).max(axis=(1, 2))
    # every matrix, both formula branches: at most 5.8e-6 measured (input rounding), a wrong branch is O(1)
    assert np.median(err) < 1e-6 and err.max() < 2e-5 and np.all(np.isfinite(lg))


# ------------------------------------------------------------------------------------- n x n
def _loggable(rng, n):
    g = _det_positive(rng, 60, n)
    ev = np.linalg.eigvals(g)
    keep = ~np.any((np.abs(ev.imag) < 1e-12) & (ev.real < 0), axis=-1) & (np.linalg.cond(g) < 50)
    return g[keep]


@slow
@pytest.mark.parametrize("n", [3, 4])
def test_logm_n_by_n_matches_scipy(n, rng):
    g = _loggable(rng, n)
    with jax.enable_x64(True):
        lg = np.asarray(lie.logm(g))
        back = np.asarray(lie.expm(jnp.asarray(lg)))
    assert _batch_rel_err(lg, np.stack([sla.logm(a).real for a in g])) < 1e-10
    assert _batch_rel_err(back, g) < 1e-10


@slow
@pytest.mark.parametrize("n", [3, 4])
def test_sqrtm_n_by_n_matches_scipy(n, rng):
    g = _loggable(rng, n)
    with jax.enable_x64(True):
        root = np.asarray(lie.sqrtm(g))
    assert _batch_rel_err(root, np.stack([sla.sqrtm(a).real for a in g])) < 1e-10


@pytest.mark.parametrize("n", [pytest.param(3, marks=slow), pytest.param(4, marks=slow)])
def test_spd_functions_n_by_n(n, rng):
    s = _sym(rng, 40, n)
    with jax.enable_x64(True):
        p = np.asarray(lie.sym_exp(s))
        back = np.asarray(lie.spd_log(p))
        root = np.asarray(lie.spd_sqrt(p))
    assert _batch_rel_err(p, _eigh_exp(s)) < 1e-12
    assert relative_error(back, s) < 1e-10
    assert _batch_rel_err(root @ root, p) < 1e-12


@pytest.mark.parametrize("n", [3, pytest.param(4, marks=slow)])
def test_log_rotation_including_next_to_angle_pi(n, rng):
    omega = rng.normal(size=(30, n, n))
    omega = omega - np.swapaxes(omega, -1, -2)
    # rescale so the largest rotation angle is in [0.1, pi - 1e-6]
    angles = np.abs(np.linalg.eigvals(omega).imag).max(axis=-1)
    target = np.concatenate([np.linspace(0.1, 3.0, 27), [np.pi - 1e-3, np.pi - 1e-5, np.pi - 1e-6]])
    omega = omega * (target / angles)[:, None, None]
    r = np.stack([sla.expm(o) for o in omega])
    with jax.enable_x64(True):
        lr = np.asarray(lie.log_rotation(r))
    # accuracy degrades like eps / (pi - angle) next to the cut
    err = np.abs(lr - omega).max(axis=(1, 2))
    assert np.all(err[:27] < 1e-12)
    assert np.all(err[27:] < 1e-8)
    assert np.allclose(lr, -np.swapaxes(lr, -1, -2), atol=0)


@slow
def test_orthogonal_factor_matches_scipy_polar(rng):
    g = rng.normal(size=(20, 4, 4))
    with jax.enable_x64(True):
        r = np.asarray(lie.orthogonal_factor(g))
    ref = np.stack([sla.polar(a, side="left")[0] for a in g])
    assert _batch_rel_err(r, ref) < 1e-12


# ---------------------------------------------------------------------------------- gradients
_FUNCS = {
    "sym_exp": lie.sym_exp,
    "spd_log": lie.spd_log,
    "spd_sqrt": lie.spd_sqrt,
    "expm": lie.expm,
    "logm": lie.logm,
    "sqrtm": lie.sqrtm,
    "log_rotation": lie.log_rotation,
}
_AT_ZERO = {"sym_exp", "expm"}  # evaluated at X = 0; the others at X = I


def _expected_gradient(name, w):
    """d/dX sum(w * f(X)) at the base point: exp at 0 and log at I have derivative = identity
    map (restricted to symmetric / skew directions where the function only sees those);
    sqrt at I has derivative 1/2."""
    w = np.asarray(w, np.float64)
    if name in ("sym_exp", "spd_log", "spd_sqrt"):
        return 0.5 * (w + w.T) * (0.5 if name == "spd_sqrt" else 1.0)
    if name == "log_rotation":
        return 0.5 * (w - w.T)
    return w * (0.5 if name == "sqrtm" else 1.0)


@pytest.mark.parametrize(
    "n,x64,order",
    [(2, True, 1), (2, False, 1), pytest.param(3, True, 1, marks=slow), pytest.param(3, False, 1, marks=slow),
     pytest.param(2, True, 2, marks=slow), pytest.param(2, False, 2, marks=slow)],
)
def test_gradients_finite_at_identity(n, x64, order):
    """No NaN in gradients at the identity (second order too for the 2x2 closed forms), and the
    gradient has the known value there."""
    with jax.enable_x64(x64):
        dt = jnp.float64 if x64 else jnp.float32
        w = jnp.asarray(np.arange(1, n * n + 1).reshape(n, n), dt)

        def losses():
            out = {}
            for name, f in _FUNCS.items():
                x0 = jnp.zeros((n, n), dt) if name in _AT_ZERO else jnp.eye(n, dtype=dt)

                def loss(x, f=f):
                    return jnp.sum(w * f(x))

                out[name] = (jax.grad(loss)(x0), jax.hessian(loss)(x0) if order == 2 else x0)
            return out

        res = jax.jit(losses)()
    tol = 1e-9 if x64 else 2e-4
    for name, (grad, hess) in res.items():
        assert bool(jnp.all(jnp.isfinite(grad))) and bool(jnp.all(jnp.isfinite(hess))), name
        want = _expected_gradient(name, w)
        assert np.max(np.abs(np.asarray(grad, np.float64) - want)) < tol * np.abs(want).max(), name


@pytest.mark.parametrize("n", [2, pytest.param(3, marks=slow)])
def test_gradients_match_finite_differences(n, rng):
    g = np.eye(n) + 0.3 * rng.normal(size=(n, n))
    s = _sym(rng, 1, n)[0] * 0.5
    w = rng.normal(size=(n, n))
    with jax.enable_x64(True):
        for f, x in [(lie.logm, g), (lie.sym_exp, s), (lie.spd_log, np.asarray(lie.sym_exp(s)))]:
            @jax.jit
            @jax.value_and_grad
            def loss(x, f=f):
                return jnp.sum(jnp.asarray(w) * f(x))

            grad = np.asarray(loss(jnp.asarray(x))[1])
            d = rng.normal(size=(n, n))
            if f is not lie.logm:
                d = 0.5 * (d + d.T)
            h = 1e-5
            fd = (float(loss(jnp.asarray(x + h * d))[0]) - float(loss(jnp.asarray(x - h * d))[0])) / (2 * h)
            assert abs(np.sum(grad * d) - fd) < 1e-7 * max(1.0, abs(fd))
