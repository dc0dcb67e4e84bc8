"""Matrix exponentials, logarithms and square roots: closed forms for 2x2, iterations for n x n.

2x2 closed forms (no eigendecomposition anywhere, so nothing degenerates at the identity). For
``X = m I + N`` with ``m = tr X / 2`` and ``N`` traceless, ``N^2 = x I`` with ``x = -det N``:

- ``exp X = e^m (C(x) I + Sh(x) N)``, ``C(x) = cosh(sqrt x)``, ``Sh(x) = sinh(sqrt x)/sqrt x``
  (``cos``/``sin`` for ``x < 0``); for symmetric ``X``, ``x = a^2 + b^2 >= 0``.
- SPD ``P = m I + [[a, b], [b, -a]]``, ``d = det P``:
  ``log P = (1/2) log d I + A(x) / sqrt(d) [[a, b], [b, -a]]`` with ``x = (a^2 + b^2) / d`` and
  ``A(x) = asinh(sqrt x) / sqrt x`` (this is ``r / sinh r (Q - cosh r I)`` for ``Q = P/sqrt d``,
  ``cosh r = tr Q / 2``, written without the cancellation in ``cosh r - 1``);
  ``sqrt P = (P + sqrt(d) I) / sqrt(tr P + 2 sqrt d)``.
- principal log of ``g`` with ``det g > 0``: ``g0 = g / sqrt(det g) = c I + N0``, ``x = -det N0``;
  ``log g = (1/2) log(det g) I + F N0``, ``F = theta / sin(theta)`` with ``theta = atan2(sqrt(-x), c)``
  (elliptic, ``x < 0``) or ``F = asinh(sqrt x)/sqrt x`` (hyperbolic, needs ``c >= 1``).

``C``, ``Sh``, ``A`` and ``log(sinh y / y)`` are analytic in their (squared) arguments and are
evaluated by Taylor polynomials near 0 (8 terms; switch at 1e-2 in float64, 1e-1 in lower
precision), with the double-``where`` pattern, so values and gradients of every order are finite
at the identity.

n x n (n >= 3), all built from inverses and products only, so ``grad`` works to every order:

- :func:`expm`: scaling and squaring with a degree-18 Taylor polynomial.
- :func:`sqrtm`: product-form Denman-Beavers iteration with determinant scaling.
- :func:`logm`: inverse scaling and squaring: ``log A = (1/n) log det A I + 2^k log(A0^{1/2^k})``
  with ``A0 = A / det(A)^{1/n}``, ``k = 6`` Denman-Beavers square roots and the [8/8] Pade
  approximant ``log(I + E) = sum_j w_j E (I + t_j E)^{-1}`` (Gauss-Legendre nodes on [0, 1]).
- :func:`log_rotation`: the same with square roots of rotations taken as the orthogonal polar
  factor of ``I + R`` (``R^{1/2} = (I + R) ((I + R)^T (I + R))^{-1/2}``), computed by the scaled
  Newton iteration :func:`orthogonal_factor`, which stays accurate next to the cut at angle pi.

Domains: outside them the outputs are NaN (documented per function), never an exception.
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from geojax.lie import validation as V

Array = jax.Array

_TERMS = 8


def _switch(dtype) -> float:
    return 1e-2 if jnp.finfo(dtype).eps < 1e-10 else 1e-1


def _poly(x: Array, coeffs: Sequence[float]) -> Array:
    out = jnp.full_like(x, coeffs[-1])
    for c in coeffs[-2::-1]:
        out = out * x + c
    return out


def _fact(k: int) -> float:
    return float(np.prod(np.arange(1, k + 1, dtype=np.float64)))


_C_COEF = [1.0 / _fact(2 * k) for k in range(_TERMS)]
_SH_COEF = [1.0 / _fact(2 * k + 1) for k in range(_TERMS)]
_A_COEF = [(-1) ** k * _fact(2 * k) / (4**k * _fact(k) ** 2 * (2 * k + 1)) for k in range(_TERMS)]
# log(sinh y / y) = sum_k L_k y^(2k), k >= 1
_LSH_COEF = [0.0, 1 / 6, -1 / 180, 1 / 2835, -1 / 37800, 1 / 467775, -691 / 3831077250,
             2 / 127702575]


def _split(x: Array, small: Array, fill: float) -> tuple[Array, Array]:
    """Inputs for the series branch (0 where not small) and the direct branch (``fill`` where small)."""
    return jnp.where(small, x, 0.0), jnp.where(small, jnp.asarray(fill, x.dtype), x)


@jax.jit
def cosh_sqrt(x: Array) -> Array:
    """``C(x) = cosh(sqrt x)`` for ``x >= 0`` and ``cos(sqrt(-x))`` for ``x < 0`` (entire in x)."""
    small = jnp.abs(x) < _switch(x.dtype)
    xs, xd = _split(x, small, 1.0)
    r = jnp.sqrt(jnp.abs(xd))
    direct = jnp.where(xd > 0, jnp.cosh(r), jnp.cos(r))
    return jnp.where(small, _poly(xs, _C_COEF), direct)


@jax.jit
def sinhc_sqrt(x: Array) -> Array:
    """``Sh(x) = sinh(sqrt x)/sqrt x`` for ``x >= 0``, ``sin(sqrt(-x))/sqrt(-x)`` for ``x < 0``."""
    small = jnp.abs(x) < _switch(x.dtype)
    xs, xd = _split(x, small, 1.0)
    r = jnp.sqrt(jnp.abs(xd))
    direct = jnp.where(xd > 0, jnp.sinh(r), jnp.sin(r)) / r
    return jnp.where(small, _poly(xs, _SH_COEF), direct)


@jax.jit
def asinhc_sqrt(x: Array) -> Array:
    """``A(x) = asinh(sqrt x)/sqrt x`` for ``x >= 0`` and ``asin(sqrt(-x))/sqrt(-x)`` for
    ``-1 <= x < 0`` (analytic on ``x > -1``); NaN for ``x < -1``."""
    small = jnp.abs(x) < _switch(x.dtype)
    xs, xd = _split(x, small, 1.0)
    r = jnp.sqrt(jnp.abs(xd))
    direct = jnp.where(xd > 0, jnp.arcsinh(r), jnp.arcsin(r)) / r
    return jnp.where(small, _poly(xs, _A_COEF), direct)


@jax.jit
def log_sinhc(y2: Array) -> Array:
    """``log(sinh(y) / y)`` as a function of ``y2 = y^2 >= 0`` (smooth at 0, no overflow).

    Direct branch: ``y + log(-expm1(-2 y)) - log(2 y)``.
    """
    small = y2 < _switch(y2.dtype)
    xs, xd = _split(y2, small, 1.0)
    y = jnp.sqrt(xd)
    direct = y + jnp.log(-jnp.expm1(-2.0 * y)) - jnp.log(2.0 * y)
    return jnp.where(small, xs * _poly(xs, _LSH_COEF[1:]), direct)


def _theta_over_sin(x: Array, c: Array) -> Array:
    """``F(x, c)`` of the 2x2 principal log: ``theta/sin(theta)`` with ``theta = atan2(sqrt(-x), c)``
    for ``x < 0``; ``asinh(sqrt x)/sqrt x`` for ``x >= 0``; the series near ``x = 0`` when
    ``c > 0``. NaN where ``c <= -1`` (no real principal log)."""
    near = (jnp.abs(x) < _switch(x.dtype)) & (c > 0)
    xs, xd = _split(x, near, 1.0)
    r = jnp.sqrt(jnp.abs(xd))
    cd = jnp.where(near, 1.0, c)
    ell = jnp.arctan2(r, cd) / r
    hyp = jnp.arcsinh(r) / r
    out = jnp.where(near, _poly(xs, _A_COEF), jnp.where(xd < 0, ell, hyp))
    return jnp.where(c > -1, out, jnp.nan)


# ----------------------------------------------------------------------------------- 2x2 helpers
def entries2(m: Array) -> tuple[Array, Array, Array, Array]:
    """``(m00, m01, m10, m11)`` of ``[..., 2, 2]``."""
    return m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]


def assemble2(m00: Array, m01: Array, m10: Array, m11: Array) -> Array:
    """Inverse of :func:`entries2`: ``[...]`` x 4 -> ``[..., 2, 2]``.

    The entries pass through ``lax.optimization_barrier`` first: otherwise XLA fuses their
    computation into the interleaving copy and recomputes shared subexpressions (exp, cos, ...)
    once per entry, which made the 2x2 paths about 3x slower on CPU.
    """
    m00, m01, m10, m11 = jax.lax.optimization_barrier((m00, m01, m10, m11))
    return jnp.stack([jnp.stack([m00, m01], -1), jnp.stack([m10, m11], -1)], -2)


def rotation2(cos: Array, sin: Array) -> Array:
    """``[[cos, -sin], [sin, cos]]``."""
    return assemble2(cos, -sin, sin, cos)


def _exp2(x00, x01, x10, x11):
    m = 0.5 * (x00 + x11)
    a = 0.5 * (x00 - x11)
    x = a * a + x01 * x10
    em = jnp.exp(m)
    ch, sh = em * cosh_sqrt(x), em * sinhc_sqrt(x)
    return ch + sh * a, sh * x01, sh * x10, ch - sh * a


def _log_spd2(p00, p01, p10, p11):
    b = 0.5 * (p01 + p10)
    a = 0.5 * (p00 - p11)
    d = p00 * p11 - b * b
    ok = (d > 0) & (p00 + p11 > 0)
    dsafe = jnp.where(ok, d, 1.0)
    k = asinhc_sqrt((a * a + b * b) / dsafe) / jnp.sqrt(dsafe)
    h = 0.5 * jnp.log(dsafe)
    out = (h + k * a, k * b, k * b, h - k * a)
    return tuple(jnp.where(ok, o, jnp.nan) for o in out)


def _sqrt_spd2(p00, p01, p10, p11):
    b = 0.5 * (p01 + p10)
    d = p00 * p11 - b * b
    ok = (d > 0) & (p00 + p11 > 0)
    sd = jnp.sqrt(jnp.where(ok, d, 1.0))
    den = jnp.sqrt(jnp.where(ok, p00 + p11 + 2.0 * sd, 1.0))
    out = ((p00 + sd) / den, b / den, b / den, (p11 + sd) / den)
    return tuple(jnp.where(ok, o, jnp.nan) for o in out)


def _log2(g00, g01, g10, g11):
    d = g00 * g11 - g01 * g10
    ok = d > 0
    dsafe = jnp.where(ok, d, 1.0)
    sd = jnp.sqrt(dsafe)
    c = 0.5 * (g00 + g11) / sd
    a = 0.5 * (g00 - g11)
    x = (a * a + g01 * g10) / dsafe
    f = _theta_over_sin(x, c) / sd
    h = 0.5 * jnp.log(dsafe)
    out = (h + f * a, f * g01, f * g10, h - f * a)
    return tuple(jnp.where(ok, o, jnp.nan) for o in out)


def _inv2(g00, g01, g10, g11):
    d = g00 * g11 - g01 * g10
    return g11 / d, -g01 / d, -g10 / d, g00 / d


def _det2(g00, g01, g10, g11):
    return g00 * g11 - g01 * g10


# ---------------------------------------------------------------------------------- n x n helpers
def _eye(n: int, dtype) -> Array:
    return jnp.eye(n, dtype=dtype)


def _sym(x: Array) -> Array:
    return 0.5 * (x + jnp.swapaxes(x, -1, -2))


def _skew(x: Array) -> Array:
    return 0.5 * (x - jnp.swapaxes(x, -1, -2))


def _mT(x: Array) -> Array:
    return jnp.swapaxes(x, -1, -2)


@functools.lru_cache(maxsize=None)
def _gauss_legendre01(m: int) -> tuple[np.ndarray, np.ndarray]:
    t, w = np.polynomial.legendre.leggauss(m)
    return 0.5 * (t + 1.0), 0.5 * w


def _pade_log(e: Array, m: int = 8) -> Array:
    """``log(I + E) = int_0^1 E (I + t E)^{-1} dt`` by ``m``-point Gauss-Legendre ([m/m] Pade)."""
    t, w = _gauss_legendre01(m)
    t = jnp.asarray(t, e.dtype).reshape((m,) + (1,) * e.ndim)
    w = jnp.asarray(w, e.dtype).reshape((m,) + (1,) * e.ndim)
    eye = _eye(e.shape[-1], e.dtype)
    ee = jnp.broadcast_to(e, (m,) + e.shape)
    return jnp.sum(w * jnp.linalg.solve(eye + t * ee, ee), axis=0)


def _db_sqrt(a: Array, iters: int) -> tuple[Array, Array]:
    """Scaled product-form Denman-Beavers: ``M_{k+1} = (I + (mu^2 M + mu^-2 M^-1)/2)/2``,
    ``X_{k+1} = mu X (I + mu^-2 M^-1) / 2``, ``mu = |det M|^{-1/(2n)}``; returns ``(X, M)``."""
    n = a.shape[-1]
    eye = _eye(n, a.dtype)

    def body(_, carry):
        m, x = carry
        minv = jnp.linalg.inv(m)
        _, logabs = jnp.linalg.slogdet(m)
        mu = jnp.exp(-logabs / (2 * n))[..., None, None]
        m_new = 0.5 * (eye + 0.5 * (mu * mu * m + minv / (mu * mu)))
        x_new = 0.5 * mu * (x @ (eye + minv / (mu * mu)))
        return m_new, x_new

    m, x = jax.lax.fori_loop(0, iters, body, (a, a))
    return x, m


def _db_converged(m: Array) -> Array:
    tol = 100.0 * V.default_tol(m.dtype)
    return jnp.max(jnp.abs(m - _eye(m.shape[-1], m.dtype)), axis=(-2, -1)) <= tol


@functools.partial(jax.jit, static_argnames=("iters",))
def orthogonal_factor(g: Array, iters: int = 12) -> Array:
    """Orthogonal polar factor ``R`` of ``g = P R`` (``P`` symmetric positive definite).

    Scaled Newton iteration ``X <- (zeta X + X^{-T} / zeta) / 2``, ``X_0 = g``,
    ``zeta = sqrt(||X^-1||_F / ||X||_F)`` (Higham's Frobenius-norm scaling), ``iters`` fixed steps
    (quadratic convergence; 12 steps reach round-off for condition numbers up to ~1e12).

    Args:
      g: ``[..., n, n]`` nonsingular.
    Returns:
      ``[..., n, n]`` orthogonal, with ``det R = sign(det g)``; NaN/inf if ``g`` is singular.
    Raises:
      ValueError / TypeError: ``g`` not a floating ``[..., n, n]`` array.
    """
    g = V.square(g, "g")

    def body(_, x):
        xi = jnp.linalg.inv(x)
        zeta = jnp.sqrt(jnp.linalg.norm(xi, axis=(-2, -1)) / jnp.linalg.norm(x, axis=(-2, -1)))
        zeta = zeta[..., None, None]
        return 0.5 * (zeta * x + _mT(xi) / zeta)

    return jax.lax.fori_loop(0, iters, body, g)


# ------------------------------------------------------------------------------------ public API
_TAYLOR_DEGREE = 18
_MAX_SQUARINGS = 24


def _expm_ss(x: Array) -> Array:
    """Scaling and squaring with a degree-18 Taylor polynomial.

    ``s = max(0, ceil(log2 ||X||_1))`` (no gradient through ``s``), ``Y = X / 2^s`` with
    ``||Y||_1 <= 1``, so the truncation error is below ``1/19! < 1e-16``; then ``s`` squarings
    (a fixed loop of ``_MAX_SQUARINGS`` masked steps, so reverse-mode differentiation works;
    ``||X||_1`` up to ``2^24`` is supported: beyond it a general ``X`` overflows anyway, but a
    skew ``X`` (a rotation by more than ``2^24`` radians) comes back finite and wrong, not
    orthogonal).
    """
    n = x.shape[-1]
    eye = _eye(n, x.dtype)
    norm = jax.lax.stop_gradient(jnp.max(jnp.sum(jnp.abs(x), axis=-2), axis=-1))
    s = jnp.clip(jnp.ceil(jnp.log2(jnp.where(norm > 0, norm, 1.0))), 0, _MAX_SQUARINGS)
    y = x * jnp.exp2(-s)[..., None, None]
    out = eye + y / _TAYLOR_DEGREE
    for k in range(_TAYLOR_DEGREE - 1, 0, -1):
        out = eye + (y @ out) / k

    def square(i, m):
        return jnp.where((i < s)[..., None, None], m @ m, m)

    return jax.lax.fori_loop(0, _MAX_SQUARINGS, square, out)


@jax.jit
def expm(x: Array) -> Array:
    """Matrix exponential ``exp X = sum_k X^k / k!``.

    Args:
      x: ``[..., n, n]`` real.
    Returns:
      ``[..., n, n]``; the 2x2 closed form for ``n = 2``; for ``n >= 3`` scaling and squaring
      with a degree-18 Taylor polynomial (relative accuracy ~``2^s eps``, ``s`` the number of
      squarings).
    Raises:
      ValueError / TypeError: ``x`` not a floating ``[..., n, n]`` array.
    """
    x = V.square(x, "x")
    if x.shape[-1] == 2:
        return assemble2(*_exp2(*entries2(x)))
    return _expm_ss(x)


@functools.partial(jax.jit, static_argnames=("num_roots", "iters"))
def logm(a: Array, *, num_roots: int = 6, iters: int = 16) -> Array:
    """Principal matrix logarithm of a real matrix with ``det a > 0``.

    ``log A`` is the unique real ``L`` with ``exp L = A`` whose eigenvalues have imaginary parts
    in ``(-pi, pi)``; it exists when ``A`` has no eigenvalue on ``(-inf, 0]``. For ``n = 2``
    closed form (module docstring); for ``n >= 3`` inverse scaling and squaring:
    ``log A = (1/n) log det A I + 2^k log(A0^{1/2^k})``, ``A0 = A / det(A)^{1/n}``, with
    ``k = num_roots`` Denman-Beavers square roots of ``iters`` steps each and an [8/8] Pade log.

    Args:
      a: ``[..., n, n]`` real.
      num_roots, iters: static iteration counts for ``n >= 3`` (defaults fit ``||log A|| < ~20``).
    Returns:
      ``[..., n, n]``; NaN where ``det a <= 0``, where an eigenvalue lies on ``(-inf, 0]``
      (2x2: ``tr(a) <= -2 sqrt(det a)``; n >= 3: the square-root iteration does not converge).
    Raises:
      ValueError / TypeError: ``a`` not a floating ``[..., n, n]`` array.
    """
    a = V.square(a, "a")
    n = a.shape[-1]
    if n == 2:
        return assemble2(*_log2(*entries2(a)))
    sign, logabs = jnp.linalg.slogdet(a)
    ok = sign > 0
    s = logabs / n
    x = a * jnp.exp(-s)[..., None, None]

    def root(_, carry):
        x, ok = carry
        x, m = _db_sqrt(x, iters)
        return x, ok & _db_converged(m)

    x, ok = jax.lax.fori_loop(0, num_roots, root, (x, ok))
    out = (2.0**num_roots) * _pade_log(x - _eye(n, a.dtype))
    out = out + s[..., None, None] * _eye(n, a.dtype)
    return V.nan_unless(ok, out, 2)


@functools.partial(jax.jit, static_argnames=("iters",))
def sqrtm(a: Array, *, iters: int = 16) -> Array:
    """Principal square root of a real matrix with no eigenvalue on ``(-inf, 0]``.

    2x2 symmetric positive definite input: ``(P + sqrt(d) I) / sqrt(tr P + 2 sqrt d)`` (for any
    2x2 with ``det > 0`` and ``tr + 2 sqrt(det) > 0`` this is the principal root). ``n >= 3``:
    scaled Denman-Beavers iteration (``iters`` steps).

    Returns:
      ``[..., n, n]``; NaN where the root does not exist (2x2: ``det <= 0`` or
      ``tr + 2 sqrt(det) <= 0``; n >= 3: no convergence).
    Raises:
      ValueError / TypeError: ``a`` not a floating ``[..., n, n]`` array.
    """
    a = V.square(a, "a")
    if a.shape[-1] == 2:
        g00, g01, g10, g11 = entries2(a)
        d = _det2(g00, g01, g10, g11)
        sd = jnp.sqrt(jnp.where(d > 0, d, 1.0))
        t = g00 + g11 + 2.0 * sd
        ok = (d > 0) & (t > 0)
        den = jnp.sqrt(jnp.where(ok, t, 1.0))
        out = assemble2((g00 + sd) / den, g01 / den, g10 / den, (g11 + sd) / den)
        return V.nan_unless(ok, out, 2)
    x, m = _db_sqrt(a, iters)
    return V.nan_unless(_db_converged(m), x, 2)


@jax.jit
def sym_exp(s: Array) -> Array:
    """``exp S`` of a symmetric matrix: symmetric positive definite.

    2x2: ``exp S = e^m (cosh r I + sinh r / r (S - m I))``, ``m = tr S / 2``,
    ``r^2 = -det(S - m I)``, via the entire functions of ``r^2`` (finite gradients of every order
    at ``S = 0``). ``n >= 3``: :func:`expm`, symmetrized.

    Args:
      s: ``[..., n, n]`` symmetric.
    Returns:
      ``[..., n, n]``; NaN where ``s`` is not symmetric within ``sqrt(eps)`` (relative).
    Raises:
      ValueError / TypeError: ``s`` not a floating ``[..., n, n]`` array.
    """
    s = V.square(s, "s")
    ok = V.is_symmetric(s, V.default_tol(s.dtype))
    s = _sym(s)
    out = assemble2(*_exp2(*entries2(s))) if s.shape[-1] == 2 else _sym(_expm_ss(s))
    return V.nan_unless(ok, out, 2)


@jax.jit
def spd_log(p: Array) -> Array:
    """``log P`` of a symmetric positive definite matrix: symmetric.

    2x2: ``(1/2) log d I + asinh(sqrt x)/sqrt(x d) (P - tr(P)/2 I)``, ``d = det P``,
    ``x = -det(P - tr(P)/2 I) / d`` (no eigendecomposition, smooth at ``P = I``).
    ``n >= 3``: :func:`logm`, symmetrized.

    Returns:
      ``[..., n, n]``; NaN where ``p`` is not symmetric within ``sqrt(eps)`` or not positive
      definite.
    Raises:
      ValueError / TypeError: ``p`` not a floating ``[..., n, n]`` array.
    """
    return _spd_map(p, _log_spd2, logm)


@jax.jit
def spd_sqrt(p: Array) -> Array:
    """Symmetric positive definite square root of ``P``.

    2x2: ``(P + sqrt(d) I) / sqrt(tr P + 2 sqrt d)``, ``d = det P``. ``n >= 3``: :func:`sqrtm`,
    symmetrized.

    Returns:
      ``[..., n, n]``; NaN where ``p`` is not symmetric within ``sqrt(eps)`` or not positive
      definite.
    Raises:
      ValueError / TypeError: ``p`` not a floating ``[..., n, n]`` array.
    """
    return _spd_map(p, _sqrt_spd2, sqrtm)


def _spd_map(p: Array, closed_form_2x2, general) -> Array:
    """A function of an SPD matrix: the 2x2 closed form on its entries, else ``general``
    symmetrized; NaN where ``p`` is not symmetric (within ``sqrt(eps)``) or not positive definite."""
    p = V.square(p, "p")
    ok = V.is_symmetric(p, V.default_tol(p.dtype))
    p = _sym(p)
    if p.shape[-1] == 2:
        out = assemble2(*closed_form_2x2(*entries2(p)))
    else:
        ok = ok & _is_pd(p)
        out = _sym(general(p))
    return V.nan_unless(ok, out, 2)


def _is_pd(p: Array) -> Array:
    """Positive definiteness of a symmetric matrix (Cholesky succeeds: JAX returns NaN if not)."""
    return V.all_finite(jnp.linalg.cholesky(_sym(p)), 2)


@functools.partial(jax.jit, static_argnames=("num_roots",))
def log_rotation(r: Array, *, num_roots: int = 4) -> Array:
    """Principal logarithm of a rotation: skew ``Omega`` with ``exp Omega = R``, angles in [0, pi).

    n = 2: ``theta [[0, -1], [1, 0]]`` with ``theta = atan2(r10 - r01, r00 + r11)`` in
    ``(-pi, pi]``. n >= 3: ``2^k log(R^{1/2^k})`` with ``R^{1/2} = orthogonal_factor(I + R)`` and an
    [8/8] Pade log, skew-symmetrized.

    Args:
      r: ``[..., n, n]`` in SO(n) (not checked here: see ``SO(n).log``).
    Returns:
      ``[..., n, n]`` skew; for n >= 3 NaN/inf at rotation angle exactly pi (no unique log),
      and reduced accuracy ``~eps / (pi - angle)`` next to it.
    Raises:
      ValueError / TypeError: ``r`` not a floating ``[..., n, n]`` array.
    """
    r = V.square(r, "r")
    n = r.shape[-1]
    if n == 2:
        r00, r01, r10, r11 = entries2(r)
        th = jnp.arctan2(r10 - r01, r00 + r11)
        z = jnp.zeros_like(th)
        return assemble2(z, -th, th, z)
    eye = _eye(n, r.dtype)
    x = jax.lax.fori_loop(0, num_roots, lambda _, x: orthogonal_factor(eye + x), r)
    return _skew((2.0**num_roots) * _pade_log(x - eye))
