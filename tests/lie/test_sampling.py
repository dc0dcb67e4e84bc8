"""Statistical tests of the samplers; tolerances come from the sample size.

- Haar SO(n): KS tests (fixed seeds, significance 1e-3 unless stated) and 5-sigma bounds on
  moments with known variances; invariance by two-sample KS tests against an independent draw.
  Negative controls (QR without the sign fix) show that the same tests reject a wrong sampler.
- Non-compact groups: importance-weighted Haar integrals against closed forms and quadrature
  (5 standard errors, estimated from the same samples), and left/right invariance of weighted
  integrals; the negative control drops the Jacobian J(S) from the log density and must fail.
"""

import jax
import numpy as np
import pytest
import scipy.linalg as sla
import scipy.stats as st

from geojax import lie

ALPHA = 1e-3  # KS significance level; seeds are fixed, so the tests are deterministic


def _haar_qr_without_sign_fix(seed, num, n):
    z = np.random.default_rng(seed).normal(size=(num, n, n))
    q = np.linalg.qr(z)[0]
    q[:, :, 0] *= np.sign(np.linalg.det(q))[:, None]
    return q


# ------------------------------------------------------------------------------------ SO(n)
def test_so3_angle_distribution_and_trace_moments():
    num = 100_000
    with jax.enable_x64(True):
        r, logq = lie.SO(3).sample(jax.random.key(0), (num,))
    r = np.asarray(r)
    assert np.array_equal(np.asarray(logq), np.zeros(num))
    tr = np.trace(r, axis1=1, axis2=2)
    theta = np.arccos(np.clip((tr - 1) / 2, -1, 1))
    # rotation angle CDF (theta - sin theta) / pi
    assert st.kstest(theta, lambda t: (t - np.sin(t)) / np.pi).pvalue > ALPHA
    # E[tr R] = 0 with Var = 1; E[(tr R)^2] = 1 with Var = E[tr^4] - 1 = 3 - 1 = 2
    assert abs(tr.mean()) < 5 * np.sqrt(1.0 / num)
    assert abs((tr**2).mean() - 1.0) < 5 * np.sqrt(2.0 / num)
    # determinant +1 and orthogonality
    assert np.max(np.abs(np.linalg.det(r) - 1)) < 1e-13
    # the same angle test rejects QR without the sign fix
    bad = _haar_qr_without_sign_fix(1, num, 3)
    tb = np.arccos(np.clip((np.trace(bad, axis1=1, axis2=2) - 1) / 2, -1, 1))
    assert st.kstest(tb, lambda t: (t - np.sin(t)) / np.pi).pvalue < 1e-10


def _invariance_pvalues(samples, reference, fixed):
    """KS p-values comparing statistics of h R and R h (samples) to an independent draw."""
    stats = lambda m: [m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, -1, -1], np.trace(m @ fixed, axis1=1, axis2=2)]
    out = []
    for moved in (fixed @ samples, samples @ fixed):
        for a, b in zip(stats(moved), stats(reference)):
            out.append(st.ks_2samp(a, b).pvalue)
    return out


@pytest.mark.parametrize("n", [2, 3, pytest.param(4, marks=pytest.mark.slow)])
def test_son_left_and_right_invariance(n):
    num = 100_000
    with jax.enable_x64(True):
        r1 = np.asarray(lie.SO(n).sample(jax.random.key(10 + n), (num,))[0])
        r2 = np.asarray(lie.SO(n).sample(jax.random.key(20 + n), (num,))[0])
    a = np.triu(np.arange(1.0, n * n + 1).reshape(n, n), 1) / n
    h = sla.expm(a - a.T)
    pvals = _invariance_pvalues(r1, r2, h)
    # Bonferroni over the 10 statistics
    assert min(pvals) > ALPHA / len(pvals)
    if n >= 3:  # negative control: the biased sampler fails the same test
        bad = _haar_qr_without_sign_fix(30 + n, num, n)
        assert min(_invariance_pvalues(bad, r2, h)) < 1e-6


# -------------------------------------------------------------------- documented sampling laws
@pytest.mark.parametrize(
    "group", [lie.SL(2), pytest.param(lie.GLPlus(2), marks=pytest.mark.slow), pytest.param(lie.SL(3), marks=pytest.mark.slow)], ids=str
)
def test_chart_coordinates_have_the_documented_law(group):
    """Symmetric chart coordinates are N(0, sigma^2) (trace coordinate: N(0, n sigma_scale^2))."""
    num, sigma = 100_000, 0.7
    kw = {"sigma_scale": 0.4} if isinstance(group, lie.GLPlus) else {}
    with jax.enable_x64(True):
        g, _ = group.sample(jax.random.key(3), (num,), sigma=sigma, **kw)
        c = np.asarray(group.to_chart(g))
    n = group.n
    n_sym = n * (n + 1) // 2 - (0 if isinstance(group, lie.GLPlus) else 1)
    stds = [sigma] * n_sym
    if isinstance(group, lie.GLPlus):
        stds[0] = np.sqrt(n) * 0.4
    pvals = [st.kstest(c[:, k] / s, "norm").pvalue for k, s in enumerate(stds)]
    if n == 2:  # rotation angle uniform on (-pi, pi): coordinate sqrt(2) theta
        pvals.append(st.kstest(c[:, -1] / np.sqrt(2), st.uniform(-np.pi, 2 * np.pi).cdf).pvalue)
    assert min(pvals) > ALPHA / len(pvals)


def test_sl2_sampler_law_is_bi_rotation_invariant():
    """g -> k1 g k2 leaves the SL(2) sampling law unchanged (two-sample KS on entries)."""
    num = 100_000
    with jax.enable_x64(True):
        g1 = np.asarray(lie.SL(2).sample(jax.random.key(4), (num,))[0])
        g2 = np.asarray(lie.SL(2).sample(jax.random.key(11), (num,))[0])
    rot = lambda t: np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    moved = rot(0.4) @ g1 @ rot(-1.3)
    pvals = [st.ks_2samp(moved[:, i, j], g2[:, i, j]).pvalue for i in range(2) for j in range(2)]
    assert min(pvals) > ALPHA / 4
    # power: a shear does change the law
    shear = np.array([[1.0, 0.5], [0.0, 1.0]])
    assert min(st.ks_2samp((shear @ g1)[:, i, j], g2[:, i, j]).pvalue for i in range(2) for j in range(2)) < 1e-6


# ------------------------------------------------------------------------ Haar integrals
def _weighted(values, logq):
    """Importance-weighted mean and its standard error."""
    v = values * np.exp(-logq)
    return v.mean(), v.std() / np.sqrt(len(v))


def _ratio(f1, f2, logq):
    """Ratio estimate sum w f1 / sum w f2 and its delta-method standard error."""
    w = np.exp(-logq)
    r = np.sum(w * f1) / np.sum(w * f2)
    se = np.std(w * (f1 - r * f2)) / np.sqrt(len(w)) / np.mean(w * f2)
    return r, se


def _log_jacobian_numpy(g):
    """log J(S) recomputed independently (NumPy polar + eigh) for the negative controls."""
    u, s, vt = np.linalg.svd(g)
    lam = np.log(s)
    d = np.abs(lam[:, :, None] - lam[:, None, :])
    iu = np.triu_indices(g.shape[-1], 1)
    d = d[:, iu[0], iu[1]]
    return np.sum(np.log(np.where(d > 0, np.sinh(d) / np.where(d > 0, d, 1), 1.0)), axis=1)


def test_sl2_haar_integrals_closed_form():
    """int exp(-beta |g|_F^2 / 2) dmu = pi e^{-beta} / beta (KAK: |g|^2 = 2 cosh 2t,
    mu = sinh(2t) dt dphi1 dphi2 / pi over t > 0, phi1 in [0, pi), phi2 in [0, 2 pi))."""
    num = 100_000
    with jax.enable_x64(True):
        g, logq = map(np.asarray, lie.SL(2).sample(jax.random.key(4), (num,)))
    norm2 = np.sum(g**2, axis=(1, 2))
    for beta in (0.5, 1.0, 2.0):
        est, se = _weighted(np.exp(-beta * norm2 / 2), logq)
        exact = np.pi * np.exp(-beta) / beta
        assert abs(est - exact) < 5 * se and se < 0.01 * exact
    # ratios (normalization-free), and the negative control without the Jacobian
    f1, f2 = np.exp(-0.5 * norm2), np.exp(-1.0 * norm2)
    r, se = _ratio(f1, f2, logq)
    exact = 2.0 * np.exp(1.0)  # (e^{-1/2}/(1/2)) / (e^{-1}/1)
    assert abs(r - exact) < 5 * se
    r_bad, se_bad = _ratio(f1, f2, logq + _log_jacobian_numpy(g))
    assert abs(r_bad - exact) > 10 * se_bad


def _kak_quadrature_sl2(f, n_t=160, n_phi=48, t_max=4.0):
    """int f dmu over SL(2) in KAK coordinates by Gauss-Legendre in t x trapezoid in the angles."""
    t, wt = np.polynomial.legendre.leggauss(n_t)
    t, wt = 0.5 * t_max * (t + 1), 0.5 * t_max * wt
    p1 = np.arange(n_phi) * np.pi / n_phi
    p2 = np.arange(2 * n_phi) * np.pi / n_phi
    c1, s1, c2, s2 = np.cos(p1), np.sin(p1), np.cos(p2), np.sin(p2)
    k1 = np.stack([np.stack([c1, -s1], -1), np.stack([s1, c1], -1)], -2)
    k2 = np.stack([np.stack([c2, -s2], -1), np.stack([s2, c2], -1)], -2)
    a = np.zeros((n_t, 2, 2))
    a[:, 0, 0], a[:, 1, 1] = np.exp(t), np.exp(-t)
    g = np.einsum("aij,tjk,bkl->tabil", k1, a, k2)
    vals = f(g)
    dphi = (np.pi / n_phi) ** 2
    return np.einsum("tab,t->", vals, wt * np.sinh(2 * t)) * dphi / np.pi


def test_sl2_haar_integral_ratio_against_quadrature():
    """Non-bi-invariant integrand: checks the coupling of the P and R factors."""
    f1 = lambda g: np.exp(-0.5 * np.sum(g**2, axis=(-2, -1)) + 0.8 * g[..., 0, 0] - 0.5 * g[..., 1, 0])
    f2 = lambda g: np.exp(-0.5 * np.sum(g**2, axis=(-2, -1)))
    exact2 = np.pi * np.exp(-1.0)
    q1, q2 = _kak_quadrature_sl2(f1), _kak_quadrature_sl2(f2)
    assert abs(q2 - exact2) < 1e-12 * exact2  # the quadrature itself is converged
    num = 100_000
    with jax.enable_x64(True):
        g, logq = map(np.asarray, lie.SL(2).sample(jax.random.key(5), (num,), sigma=0.8))
    r, se = _ratio(f1(g), f2(g), logq)
    assert abs(r - q1 / q2) < 5 * se and se < 0.01 * r


def _gl2_quadrature(f, n_u=60, u_max=4.0, n_t=60, t_max=6.0, n_phi=12):
    """int f dmu_GL over GL+(2), mu_GL = sqrt(2) du x mu_SL with g = e^u g0."""
    u, wu = np.polynomial.legendre.leggauss(n_u)
    u, wu = u * u_max, wu * u_max
    total = 0.0
    for ui, wi in zip(u, wu):
        total += wi * _kak_quadrature_sl2(lambda g0: f(np.exp(ui) * g0), n_t=n_t, n_phi=n_phi, t_max=t_max)
    return np.sqrt(2.0) * total


def test_glplus2_haar_integral_ratio_against_quadrature():
    def f1(g):
        det = g[..., 0, 0] * g[..., 1, 1] - g[..., 0, 1] * g[..., 1, 0]
        return np.exp(-0.5 * np.sum(g**2, axis=(-2, -1)) - np.log(det) ** 2 + 0.5 * g[..., 0, 1])

    def f2(g):
        det = g[..., 0, 0] * g[..., 1, 1] - g[..., 0, 1] * g[..., 1, 0]
        return np.exp(-0.25 * np.sum(g**2, axis=(-2, -1)) - 0.5 * (np.log(det) - 0.5) ** 2)

    q1, q2 = _gl2_quadrature(f1), _gl2_quadrature(f2)
    q1b = _gl2_quadrature(f1, n_u=40)
    assert abs(q1 - q1b) < 1e-8 * abs(q1)  # quadrature converged
    num = 100_000
    with jax.enable_x64(True):
        g, logq = map(np.asarray, lie.GLPlus(2).sample(jax.random.key(6), (num,), sigma=0.8, sigma_scale=0.6))
    r, se = _ratio(f1(g), f2(g), logq)
    assert abs(r - q1 / q2) < 5 * se and se < 0.02 * r
    # absolute value too (normalization of mu_GL = sqrt(2) du x mu_SL)
    est, se_abs = _weighted(f2(g), logq)
    assert abs(est - q2) < 5 * se_abs


def _test_function(g):
    """Integrable on every group here, decaying at infinity and at the boundary det -> 0."""
    gi = np.linalg.inv(g)
    return np.exp(-0.5 * np.sum(g**2, axis=(-2, -1)) - 0.5 * np.sum(gi**2, axis=(-2, -1))) * (
        1 + 0.5 * np.tanh(g[..., 0, 0] + g[..., 0, 1])
    )


def _invariance_z(values, moved, logq):
    w = np.exp(-logq)
    d = w * (values - moved)
    return d.mean() / (d.std() / np.sqrt(len(d))), (d.std() / np.sqrt(len(d))) / np.mean(w * values)


def _shear(n, scale=1.0):
    x = np.zeros((n, n))
    x[0, 1], x[1, 0], x[0, 0], x[1, 1] = 0.8, 0.2, 0.3, -0.3
    return sla.expm(x) * scale


INVARIANCE_CASES = [
    (lie.SL(2), _shear(2), ("left", "right")),
    (lie.GLPlus(2), _shear(2, 1.3), ("left", "right")),
    (lie.SL(3), _shear(3), ("left", "right")),
    pytest.param(lie.GLPlus(3), _shear(3, 1.3), ("left", "right"), marks=pytest.mark.slow),
]


@pytest.mark.parametrize("group,h,sides", INVARIANCE_CASES, ids=lambda x: str(x) if not isinstance(x, (np.ndarray, tuple)) else "")
def test_importance_weighted_integrals_are_haar_invariant(group, h, sides):
    """sum w f(g) ~ sum w f(h g) ~ sum w f(g h) within 5 standard errors; dropping the
    Jacobian from log q breaks it by > 8 standard errors (so the check has power)."""
    num = 100_000
    with jax.enable_x64(True):
        g, logq = map(np.asarray, group.sample(jax.random.key(7), (num,), sigma=0.8))
    f = _test_function(g)
    log_j = _log_jacobian_numpy(g)
    for side in sides:
        moved = _test_function(h @ g if side == "left" else g @ h)
        z, rel_se = _invariance_z(f, moved, logq)
        assert abs(z) < 5 and rel_se < 0.1, side
        z_bad, _ = _invariance_z(f, moved, logq + log_j)
        assert abs(z_bad) > 8, side


@pytest.mark.parametrize("space", [lie.SPD(2), pytest.param(lie.SPD(3), marks=pytest.mark.slow), lie.SPD(2, unit_det=True)], ids=str)
def test_spd_density_is_congruence_invariant(space):
    """nu = J_{1/2}(X) dX is invariant under P -> h P h^T; the full J(X) is not."""
    num, n = 100_000, space.n
    h = _shear(n, 1.0 if space.unit_det else 1.3)
    with jax.enable_x64(True):
        p, logq = map(np.asarray, space.sample(jax.random.key(8), (num,), sigma=0.8))
    lam = np.log(np.linalg.eigvalsh(p))
    d = lam[:, None, :] - lam[:, :, None]
    iu = np.triu_indices(n, 1)
    d = np.abs(d[:, iu[0], iu[1]])
    sinhc = lambda x: np.where(x > 0, np.sinh(x) / np.where(x > 0, x, 1), 1.0)
    log_half, log_full = np.sum(np.log(sinhc(d / 2)), 1), np.sum(np.log(sinhc(d)), 1)
    f, moved = _test_function(p), _test_function(h @ p @ h.T)
    z, rel_se = _invariance_z(f, moved, logq)
    assert abs(z) < 5 and rel_se < 0.1
    z_bad, _ = _invariance_z(f, moved, logq + log_half - log_full)
    assert abs(z_bad) > 8


@pytest.mark.parametrize("lin", [lie.SL(2), lie.GLPlus(2)], ids=str)
def test_affine_left_haar_density(lin):
    """Affine log densities are w.r.t. the left Haar measure |det A|^{-1} dt dmu_G: left
    translations leave weighted integrals unchanged; for R^2 x| GL+(2) (not unimodular) right
    translations do not, and weighting with the right Haar measure flips which side is invariant."""
    group = lie.Affine(lin)
    num = 100_000
    hh = np.eye(3)
    hh[:2, :2] = _shear(2, 1.3 if isinstance(lin, lie.GLPlus) else 1.0)
    hh[:2, 2] = [0.5, -0.3]
    with jax.enable_x64(True):
        g, logq = map(np.asarray, group.sample(jax.random.key(9), (num,), sigma=0.8))
    f = _test_function(g)
    zl, rel = _invariance_z(f, _test_function(hh @ g), logq)
    zr, _ = _invariance_z(f, _test_function(g @ hh), logq)
    assert abs(zl) < 5 and rel < 0.1
    if isinstance(lin, lie.GLPlus):
        assert abs(zr) > 8
        logq_right = logq - np.log(np.linalg.det(g[:, :2, :2]))
        assert abs(_invariance_z(f, _test_function(g @ hh), logq_right)[0]) < 5
    else:
        assert abs(zr) < 5
