"""Matrix groups SO(n), SL(n), GL+(n), the symmetric space SPD(n) and affine groups R^n x| G.

Group objects are frozen dataclasses without state: hashable, comparable, usable as
``jax.jit`` static arguments. Elements are plain arrays ``[..., m, m]`` (``m = n`` for the
linear groups, ``m = n + 1`` homogeneous matrices ``[[A, t], [0, 1]]`` for :class:`Affine`);
leading axes broadcast.

Conventions shared by all groups:

- ``algebra_basis()`` is Frobenius-orthonormal (:mod:`geojax.lie.algebra`); ``hat``/``vee``
  convert coordinates ``[..., dim]`` to algebra matrices and back; ``exp``/``log`` take and
  return algebra *matrices*.
- ``to_chart``/``from_chart`` is the global chart of the polar decomposition, in the same
  coordinate order as ``algebra_basis()``: for ``g = exp(S) exp(Omega)`` (``S`` symmetric,
  ``Omega`` skew) the chart is ``(vee(S), vee(Omega))``. It covers the whole group (including
  elements that are not exponentials); the only cut is the rotation factor's angle pi (n = 2:
  angles in ``(-pi, pi]``; n >= 3: NaN exactly at angle pi, a null set).
- ``sample(key, shape, **params) -> (g, log_density)`` and ``log_density(g, **params)``: see
  :mod:`geojax.lie.sampling` for the Haar normalizations and the distributions.
- Value-level problems never raise: functions that need membership (``log``, ``to_chart``,
  ``inverse`` of SO, ``log_density``) return NaN for elements failing
  ``contains(g, tol=None)`` (default ``tol = sqrt(eps)`` of the dtype). ``compose``/``act`` are
  plain matrix products and do not check. ``project`` maps near-members back onto the group.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp

from geojax.lie import algebra, sampling
from geojax.lie import decompositions as dec
from geojax.lie import matrix_functions as mf
from geojax.lie import validation as V

Array = jax.Array


def _jit_method(*static_argnames: str):
    """``jax.jit`` for methods of the (hashable, stateless) group objects: ``self`` is static."""

    def deco(fn):
        return functools.wraps(fn)(jax.jit(fn, static_argnums=(0,), static_argnames=static_argnames))

    return deco


def _det(g: Array) -> Array:
    if g.shape[-1] == 2:
        return mf._det2(*mf.entries2(g))
    return jnp.linalg.det(g)


def _inv(g: Array) -> Array:
    if g.shape[-1] == 2:
        return mf.assemble2(*mf._inv2(*mf.entries2(g)))
    return jnp.linalg.inv(g)


def _spd_log_unchecked(p: Array) -> Array:
    if p.shape[-1] == 2:
        return mf.assemble2(*mf._log_spd2(*mf.entries2(p)))
    return mf._sym(mf.logm(p))


def _sym_exp_unchecked(s: Array) -> Array:
    if s.shape[-1] == 2:
        return mf.assemble2(*mf._exp2(*mf.entries2(s)))
    return mf._sym(mf.expm(s))


def _rot_exp(omega: Array) -> Array:
    """exp of a skew matrix (2x2: cos/sin of the angle ``omega_10``)."""
    if omega.shape[-1] == 2:
        th = 0.5 * (omega[..., 1, 0] - omega[..., 0, 1])
        return mf.rotation2(jnp.cos(th), jnp.sin(th))
    return mf.expm(mf._skew(omega))


class _AlgebraCoordinates:
    """``hat``/``vee`` between coordinates in ``algebra_basis()`` and algebra matrices.

    Needs ``dim``, ``algebra_basis(dtype)`` and ``_el(x, name)`` (the element-shape check).
    """

    def hat(self, coords: Array) -> Array:
        """``sum_k coords[..., k] B_k``: ``[..., dim] -> [..., m, m]`` (``m`` the matrix size).

        Raises:
          ValueError / TypeError: ``coords`` not floating ``[..., dim]``.
        """
        coords = V.vectors(coords, "coords", self.dim)
        return jnp.einsum("...k,kij->...ij", coords, self.algebra_basis(coords.dtype))

    def vee(self, xi: Array) -> Array:
        """Coordinates ``<xi, B_k>``: ``[..., m, m] -> [..., dim]`` (projects off-algebra parts).

        Raises:
          ValueError / TypeError: ``xi`` not floating ``[..., m, m]``.
        """
        xi = self._el(xi, "xi")
        return jnp.einsum("...ij,kij->...k", xi, self.algebra_basis(xi.dtype))


@dataclasses.dataclass(frozen=True)
class _MatrixGroup(_AlgebraCoordinates):
    """Shared machinery of the linear groups (elements ``[..., n, n]``)."""

    n: int

    _sym_kind = "sym"  # symmetric part of the chart / algebra: "sym0", "sym" or None (SO)

    def __post_init__(self):
        V.matrix_size(self.n, f"{type(self).__name__}(n)")

    # --------------------------------------------------------------------------- basic data
    @property
    def matrix_size(self) -> int:
        """Side ``m`` of the element matrices ``[..., m, m]``."""
        return self.n

    @property
    def dim(self) -> int:
        """Dimension of the group (= length of chart and algebra coordinates)."""
        sym = algebra.dimension(self._sym_kind, self.n) if self._sym_kind else 0
        return sym + algebra.dimension("skew", self.n)

    def _el(self, g: Any, name: str = "g") -> Array:
        return V.square(g, name, self.matrix_size)

    def identity(self, dtype: Any = None) -> Array:
        """Identity ``[m, m]`` in ``dtype`` (default: JAX's default float)."""
        return jnp.eye(self.matrix_size, dtype=V.sample_dtype(dtype))

    def compose(self, a: Array, b: Array) -> Array:
        """Group product ``a b`` (matrix product, leading axes broadcast): ``[..., m, m]``.

        Raises:
          ValueError / TypeError: ``a`` or ``b`` not floating ``[..., m, m]``.
        """
        return jnp.matmul(self._el(a, "a"), self._el(b, "b"))

    def act(self, g: Array, points: Array) -> Array:
        """Linear action ``g x``: ``g [..., n, n]``, ``points [..., n]`` -> ``[..., n]``.

        Raises:
          ValueError / TypeError: ``g`` not ``[..., n, n]`` or ``points`` not ``[..., n]``.
        """
        g = self._el(g)
        points = V.vectors(points, "points", self.n)
        return jnp.matmul(g, points[..., None])[..., 0]

    def algebra_basis(self, dtype: Any = None) -> Array:
        """Frobenius-orthonormal basis ``[dim, n, n]`` of the Lie algebra: the symmetric part
        (``"sym0"`` for SL, ``"sym"`` for GL+) followed by the skew part (so(n))."""
        parts = [algebra.basis(self._sym_kind, self.n, dtype)] if self._sym_kind else []
        parts.append(algebra.basis("skew", self.n, dtype))
        return jnp.concatenate(parts, axis=0)

    # ----------------------------------------------------------------------------- chart
    def _split_chart(self, c: Array) -> tuple[Array, Array]:
        d_sym = algebra.dimension(self._sym_kind, self.n) if self._sym_kind else 0
        return c[..., :d_sym], c[..., d_sym:]

    def _chart_unchecked(self, g: Array) -> Array:
        p, r = dec.polar(g)
        omega = mf.log_rotation(r)
        parts = [algebra.vee(_spd_log_unchecked(p), self._sym_kind, self.n)]
        parts.append(algebra.vee(omega, "skew", self.n))
        return jnp.concatenate(parts, axis=-1)

    @_jit_method()
    def to_chart(self, g: Array) -> Array:
        """Global chart from the polar decomposition: ``[..., n, n] -> [..., dim]``.

        ``g = P R`` (:func:`geojax.lie.polar`), ``S = log P``, ``Omega = log R``;
        returns ``(vee(S), vee(Omega))``. Inverse of :meth:`from_chart`.

        Returns:
          NaN where ``g`` fails ``contains`` (or, n >= 3, where ``R`` has angle pi).
        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n, n]``.
        """
        g = self._el(g)
        return V.nan_unless(self.contains(g), self._chart_unchecked(g), 1)

    @_jit_method()
    def from_chart(self, c: Array) -> Array:
        """``g = exp(hat(c_sym)) exp(hat(c_skew))``: ``[..., dim] -> [..., n, n]``.

        Defined for every ``c``; the image is the whole group.

        Raises:
          ValueError / TypeError: ``c`` not floating ``[..., dim]``.
        """
        c = V.vectors(c, "c", self.dim)
        c_sym, c_skew = self._split_chart(c)
        r = _rot_exp(algebra.hat(c_skew, "skew", self.n))
        if not self._sym_kind:
            return r
        p = _sym_exp_unchecked(algebra.hat(c_sym, self._sym_kind, self.n))
        return p @ r

    @_jit_method()
    def inverse(self, g: Array) -> Array:
        """``g^{-1}`` (2x2: adjugate / det; else ``jnp.linalg.inv``): ``[..., n, n]``.

        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n, n]``.
        """
        return _inv(self._el(g))


@dataclasses.dataclass(frozen=True)
class SO(_MatrixGroup):
    """Special orthogonal group ``SO(n) = {R : R^T R = I, det R = 1}``, ``n >= 2``.

    Haar measure: the probability measure. ``exp`` is surjective; ``log`` is the principal log
    (rotation angles in ``[0, pi)``; n = 2: angle in ``(-pi, pi]``). The chart is ``vee(log R)``
    (for n = 2 the coordinate is ``sqrt(2) theta``).
    """

    _sym_kind = None

    @_jit_method("tol")
    def contains(self, g: Array, tol: float | None = None) -> Array:
        """``max |g^T g - I| <= tol`` and ``det g > 0`` (``tol`` default ``sqrt(eps)``): ``[...]``.

        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n, n]``; ``tol`` negative.
        """
        g = self._el(g)
        tol = V.tolerance(tol, g.dtype)
        err = jnp.max(jnp.abs(mf._mT(g) @ g - jnp.eye(self.n, dtype=g.dtype)), axis=(-2, -1))
        return (err <= tol) & (_det(g) > 0)

    @_jit_method()
    def inverse(self, g: Array) -> Array:
        """``g^{-1} = g^T``; NaN where ``g`` fails ``contains``.

        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n, n]``.
        """
        g = self._el(g)
        return V.nan_unless(self.contains(g), mf._mT(g), 2)

    @_jit_method()
    def exp(self, xi: Array) -> Array:
        """``exp(xi)`` for skew ``xi [..., n, n]`` (2x2: cos/sin; else ``expm``).

        Returns:
          ``[..., n, n]``; NaN where ``xi`` is not skew within ``sqrt(eps)`` (relative).
        Raises:
          ValueError / TypeError: ``xi`` not floating ``[..., n, n]``.
        """
        xi = self._el(xi, "xi")
        ok = V.is_skew(xi, V.default_tol(xi.dtype))
        return V.nan_unless(ok, _rot_exp(xi), 2)

    @_jit_method()
    def log(self, g: Array) -> Array:
        """Principal log (skew): :func:`geojax.lie.matrix_functions.log_rotation`.

        Returns:
          ``[..., n, n]``; NaN where ``g`` fails ``contains`` (n >= 3: also at angle pi).
        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n, n]``.
        """
        g = self._el(g)
        return V.nan_unless(self.contains(g), mf.log_rotation(g), 2)

    def _chart_unchecked(self, g: Array) -> Array:
        return algebra.vee(mf.log_rotation(g), "skew", self.n)

    @_jit_method()
    def project(self, g: Array) -> Array:
        """Nearest rotation: the orthogonal polar factor of ``g`` (NaN if ``det g <= 0``).

        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n, n]``.
        """
        return dec.polar(self._el(g))[1]

    def sample(self, key: Array, shape: Any = (), *, dtype: Any = None) -> tuple[Array, Array]:
        """Haar-uniform rotations: ``(g [*shape, n, n], log_density [*shape] = 0)``.

        n = 2: a uniform angle; n >= 3: QR of a standard Gaussian matrix, columns
        times ``sign(diag R)``, first column negated where ``det < 0``. The law is invariant
        under left and right multiplication by any fixed rotation.

        Raises:
          ValueError: bad ``shape``. TypeError: non-floating ``dtype``.
        """
        shape, dt = V.sample_shape(shape), V.sample_dtype(dtype)
        return sampling.haar_so(key, shape, self.n, dt), jnp.zeros(shape, dt)

    def log_density(self, g: Array) -> Array:
        """Log density of :meth:`sample` w.r.t. the Haar probability: 0 (NaN off the group)."""
        return self._log_density(g)

    @_jit_method()
    def _log_density(self, g: Array) -> Array:
        g = self._el(g)
        return jnp.where(self.contains(g), jnp.zeros(g.shape[:-2], g.dtype), jnp.nan)


@dataclasses.dataclass(frozen=True)
class SL(_MatrixGroup):
    """Special linear group ``SL(n) = {g : det g = 1}``, ``n >= 2``.

    ``exp`` is not surjective (e.g. ``-[[2, 0], [0, 1/2]]`` is not an exponential); ``log`` is
    the principal log where it exists. The chart ``(vee(S), vee(Omega))`` of ``g = exp(S) R``
    covers the whole group. Haar measure ``J(S) dS dR`` (:mod:`geojax.lie.sampling`).
    """

    _sym_kind = "sym0"

    @_jit_method("tol")
    def contains(self, g: Array, tol: float | None = None) -> Array:
        """``|det g - 1| <= tol + n eps prod_i |g_i|`` (``tol`` default ``sqrt(eps)``; ``g_i`` the
        rows) and finite entries: ``[...]``.

        The second term is the rounding error of a computed determinant, which grows with the
        Hadamard bound ``prod_i |g_i| >= |det g|``: float32 elements of SL(3) far from the identity
        (``|g| ~ 40``) have computed determinants 6e-4 from 1, beyond ``sqrt(eps)``.

        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n, n]``; ``tol`` negative.
        """
        g = self._el(g)
        tol = V.tolerance(tol, g.dtype)
        rounding = self.n * jnp.finfo(g.dtype).eps * jnp.prod(jnp.linalg.norm(g, axis=-1), axis=-1)
        return (jnp.abs(_det(g) - 1.0) <= tol + rounding) & V.all_finite(g, 2)

    @_jit_method()
    def project(self, g: Array) -> Array:
        """``g / det(g)^{1/n}`` (NaN where ``det g <= 0``).

        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n, n]``.
        """
        return dec.split_scale(self._el(g))[1]

    @_jit_method()
    def exp(self, xi: Array) -> Array:
        """``exp(xi)`` for traceless ``xi [..., n, n]`` (2x2 closed form; else ``expm``).

        Returns:
          ``[..., n, n]``; NaN where ``|tr xi| > sqrt(eps) max(1, max|xi|)``.
        Raises:
          ValueError / TypeError: ``xi`` not floating ``[..., n, n]``.
        """
        xi = self._el(xi, "xi")
        ok = V.is_traceless(xi, V.default_tol(xi.dtype))
        return V.nan_unless(ok, mf.expm(xi), 2)

    @_jit_method()
    def log(self, g: Array) -> Array:
        """Principal log (traceless), :func:`geojax.lie.matrix_functions.logm`.

        Returns:
          ``[..., n, n]``; NaN where ``g`` fails ``contains`` or has no real principal log
          (an eigenvalue on ``(-inf, 0]``; 2x2: ``tr g <= -2``).
        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n, n]``.
        """
        g = self._el(g)
        out = mf.logm(g)
        out = out - (jnp.trace(out, axis1=-2, axis2=-1) / self.n)[..., None, None] * jnp.eye(
            self.n, dtype=g.dtype
        )
        return V.nan_unless(self.contains(g), out, 2)

    def sample(
        self, key: Array, shape: Any = (), *, sigma: float = 1.0, dtype: Any = None
    ) -> tuple[Array, Array]:
        """``g = exp(S) R``: ``S`` with i.i.d. ``N(0, sigma^2)`` coordinates, ``R`` Haar.

        Returns:
          ``(g [*shape, n, n], log_density [*shape])``, ``log_density`` w.r.t. ``J(S) dS dR``
          (exact: the sampling law is not Haar, the density makes importance weights exact).
          The law is invariant under ``g -> k1 g k2`` for rotations ``k1, k2`` (bi-SO(n)).
        Raises:
          ValueError: bad ``shape``; ``sigma <= 0``. TypeError: non-floating ``dtype``.
        """
        shape, dt = V.sample_shape(shape), V.sample_dtype(dtype)
        V.positive(sigma, "sigma")
        return sampling.sample_sl(key, shape, self.n, sigma, dt)

    def log_density(self, g: Array, *, sigma: float = 1.0) -> Array:
        """Log density of :meth:`sample` at ``g [..., n, n]`` w.r.t. the Haar measure: ``[...]``.

        NaN where ``g`` fails ``contains``.

        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n, n]``; ``sigma <= 0``.
        """
        V.positive(sigma, "sigma")
        return self._log_density(g, sigma)

    @_jit_method()
    def _log_density(self, g: Array, sigma: Any) -> Array:
        g = self._el(g)
        s = _spd_log_unchecked(dec.polar(g)[0])
        out = sampling.log_density_sym(s, self.n, sigma, 1.0, True, False)
        return jnp.where(self.contains(g), out, jnp.nan)


@dataclasses.dataclass(frozen=True)
class GLPlus(_MatrixGroup):
    """Matrices with positive determinant ``GL+(n)``, ``n >= 2``; ``GL+ = R_{>0} x SL(n)``.

    ``exp`` is not surjective; ``log`` is the principal log where it exists. The chart
    ``(vee(S), vee(Omega))`` uses the full symmetric basis (first coordinate
    ``tr(S)/sqrt(n) = sqrt(n) log det(g)^{1/n}``). Haar measure ``J(S) dS dR``.
    """

    _sym_kind = "sym"

    @_jit_method("tol")
    def contains(self, g: Array, tol: float | None = None) -> Array:
        """``det g > tol`` (default ``tol = 0``) and finite entries: ``[...]``.

        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n, n]``; ``tol`` negative.
        """
        g = self._el(g)
        tol = 0.0 if tol is None else V.tolerance(tol, g.dtype)
        return (_det(g) > tol) & V.all_finite(g, 2)

    @_jit_method()
    def project(self, g: Array) -> Array:
        """``g`` itself where ``det g > 0``, NaN elsewhere (GL+ is open).

        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n, n]``.
        """
        g = self._el(g)
        return V.nan_unless(self.contains(g), g, 2)

    @_jit_method()
    def exp(self, xi: Array) -> Array:
        """``exp(xi)`` for any real ``xi [..., n, n]`` (2x2 closed form; else ``expm``).

        Raises:
          ValueError / TypeError: ``xi`` not floating ``[..., n, n]``.
        """
        return mf.expm(self._el(xi, "xi"))

    @_jit_method()
    def log(self, g: Array) -> Array:
        """Principal log, :func:`geojax.lie.matrix_functions.logm`.

        Returns:
          ``[..., n, n]``; NaN where ``det g <= 0`` or no real principal log exists.
        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n, n]``.
        """
        g = self._el(g)
        return V.nan_unless(self.contains(g), mf.logm(g), 2)

    def sample(
        self,
        key: Array,
        shape: Any = (),
        *,
        sigma: float = 1.0,
        sigma_scale: float = 1.0,
        dtype: Any = None,
    ) -> tuple[Array, Array]:
        """``g = s exp(S0) R`` with ``log s ~ N(0, sigma_scale^2)``, ``S0`` traceless with
        ``N(0, sigma^2)`` coordinates, ``R`` Haar.

        Returns:
          ``(g [*shape, n, n], log_density [*shape])`` w.r.t. ``J(S) dS dR``. The law is
          invariant under ``g -> k1 g k2`` for rotations ``k1, k2`` (bi-SO(n)).
        Raises:
          ValueError: bad ``shape``; ``sigma`` or ``sigma_scale <= 0``. TypeError: bad ``dtype``.
        """
        shape, dt = V.sample_shape(shape), V.sample_dtype(dtype)
        V.positive(sigma, "sigma")
        V.positive(sigma_scale, "sigma_scale")
        return sampling.sample_glplus(key, shape, self.n, sigma, sigma_scale, dt)

    def log_density(self, g: Array, *, sigma: float = 1.0, sigma_scale: float = 1.0) -> Array:
        """Log density of :meth:`sample` at ``g`` w.r.t. the Haar measure: ``[...]``.

        NaN where ``det g <= 0``.

        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n, n]``; non-positive sigmas.
        """
        V.positive(sigma, "sigma")
        V.positive(sigma_scale, "sigma_scale")
        return self._log_density(g, sigma, sigma_scale)

    @_jit_method()
    def _log_density(self, g: Array, sigma: Any, sigma_scale: Any) -> Array:
        g = self._el(g)
        s = _spd_log_unchecked(dec.polar(g)[0])
        out = sampling.log_density_sym(s, self.n, sigma, sigma_scale, False, False)
        return jnp.where(self.contains(g), out, jnp.nan)


@dataclasses.dataclass(frozen=True)
class SPD(_MatrixGroup):
    """Symmetric positive definite matrices (``unit_det=True``: determinant 1), ``n >= 2``.

    Not a group under matrix products: the symmetric space ``GL+(n)/SO(n)`` (``SL(n)/SO(n)``),
    with the congruence action ``act(g, P) = g P g^T`` and the invariant measure
    ``nu = J_{1/2}(X) dX`` in the global chart ``P = exp(X)`` (:mod:`geojax.lie.sampling`).
    ``exp``/``log`` are the matrix exponential/logarithm (the Riemannian exponential at ``I``
    of the affine-invariant metric); ``to_chart = vee(log P)``. ``compose`` raises ``TypeError``.
    """

    unit_det: bool = False

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.unit_det, bool):
            raise TypeError(f"SPD(unit_det) must be a bool, got {self.unit_det!r}")

    @property
    def _sym_kind(self) -> str:  # type: ignore[override]
        return "sym0" if self.unit_det else "sym"

    @property
    def dim(self) -> int:
        """Dimension of the chart: n(n+1)/2 (minus 1 for ``unit_det``)."""
        return algebra.dimension(self._sym_kind, self.n)

    def algebra_basis(self, dtype: Any = None) -> Array:
        """Frobenius-orthonormal basis ``[dim, n, n]`` of the tangent space at ``I``
        (symmetric matrices, traceless for ``unit_det``)."""
        return algebra.basis(self._sym_kind, self.n, dtype)

    def compose(self, a: Array, b: Array) -> Array:
        """Not defined: raises ``TypeError`` (SPD is not closed under products; use ``act``)."""
        raise TypeError(
            "SPD(n) is not a group under matrix products (a b is not symmetric in general); "
            "use act(g, P) = g P g^T, or GLPlus(n)/SL(n) for the group"
        )

    @_jit_method("tol")
    def contains(self, p: Array, tol: float | None = None) -> Array:
        """Symmetric within ``tol * max(1, max|p|)``, positive definite (and ``|det - 1| <= tol``
        for ``unit_det``); ``tol`` default ``sqrt(eps)``: ``[...]``.

        Raises:
          ValueError / TypeError: ``p`` not floating ``[..., n, n]``; ``tol`` negative.
        """
        p = self._el(p, "p")
        tol = V.tolerance(tol, p.dtype)
        ok = V.is_symmetric(p, tol) & mf._is_pd(p)
        if self.unit_det:
            ok = ok & (jnp.abs(_det(p) - 1.0) <= tol)
        return ok

    @_jit_method()
    def project(self, p: Array) -> Array:
        """Symmetric part (divided by ``det^{1/n}`` for ``unit_det``); NaN if not positive
        definite.

        Raises:
          ValueError / TypeError: ``p`` not floating ``[..., n, n]``.
        """
        p = mf._sym(self._el(p, "p"))
        ok = mf._is_pd(p)
        if self.unit_det:
            p = dec.split_scale(p)[1]
        return V.nan_unless(ok, p, 2)

    @_jit_method()
    def inverse(self, p: Array) -> Array:
        """``P^{-1}`` (symmetrized); NaN where ``p`` fails ``contains``.

        Raises:
          ValueError / TypeError: ``p`` not floating ``[..., n, n]``.
        """
        p = self._el(p, "p")
        return V.nan_unless(self.contains(p), mf._sym(_inv(p)), 2)

    def act(self, g: Array, points: Array) -> Array:
        """Congruence ``g P g^T``: ``g [..., n, n]`` (in GL+(n)), ``points [..., n, n]`` SPD.

        Raises:
          ValueError / TypeError: ``g`` or ``points`` not floating ``[..., n, n]``.
        """
        g = self._el(g)
        p = self._el(points, "points")
        return mf._sym(g @ p @ mf._mT(g))

    @_jit_method()
    def exp(self, xi: Array) -> Array:
        """``exp(X)`` of symmetric ``X`` (traceless for ``unit_det``): SPD ``[..., n, n]``.

        Returns:
          NaN where ``xi`` is not symmetric (traceless) within ``sqrt(eps)`` (relative).
        Raises:
          ValueError / TypeError: ``xi`` not floating ``[..., n, n]``.
        """
        xi = self._el(xi, "xi")
        tol = V.default_tol(xi.dtype)
        ok = V.is_symmetric(xi, tol)
        if self.unit_det:
            ok = ok & V.is_traceless(xi, tol)
        return V.nan_unless(ok, _sym_exp_unchecked(mf._sym(xi)), 2)

    @_jit_method()
    def log(self, p: Array) -> Array:
        """``log P`` (symmetric; 2x2 closed form, else inverse scaling and squaring).

        Returns:
          ``[..., n, n]``; NaN where ``p`` fails ``contains``.
        Raises:
          ValueError / TypeError: ``p`` not floating ``[..., n, n]``.
        """
        p = self._el(p, "p")
        return V.nan_unless(self.contains(p), _spd_log_unchecked(mf._sym(p)), 2)

    def _chart_unchecked(self, p: Array) -> Array:
        return algebra.vee(_spd_log_unchecked(mf._sym(p)), self._sym_kind, self.n)

    @_jit_method()
    def from_chart(self, c: Array) -> Array:
        """``P = exp(hat(c))``: ``[..., dim] -> [..., n, n]`` (global chart).

        Raises:
          ValueError / TypeError: ``c`` not floating ``[..., dim]``.
        """
        c = V.vectors(c, "c", self.dim)
        return _sym_exp_unchecked(algebra.hat(c, self._sym_kind, self.n))

    def sample(
        self,
        key: Array,
        shape: Any = (),
        *,
        sigma: float = 1.0,
        sigma_scale: float | None = None,
        dtype: Any = None,
    ) -> tuple[Array, Array]:
        """``P = exp(X)``: traceless part of ``X`` with ``N(0, sigma^2)`` coordinates,
        ``log det(P)^{1/n} ~ N(0, sigma_scale^2)`` (default 1.0; not allowed for ``unit_det``).

        Returns:
          ``(P [*shape, n, n], log_density [*shape])`` w.r.t. ``nu = J_{1/2}(X) dX``. The law is
          invariant under ``P -> k P k^T`` for rotations ``k``.
        Raises:
          ValueError: bad ``shape``; non-positive sigmas; ``sigma_scale`` given with
          ``unit_det``. TypeError: non-floating ``dtype``.
        """
        shape, dt = V.sample_shape(shape), V.sample_dtype(dtype)
        sigma_scale = self._sigma_scale(sigma_scale)
        V.positive(sigma, "sigma")
        return sampling.sample_spd(key, shape, self.n, self.unit_det, sigma, sigma_scale, dt)

    def _sigma_scale(self, sigma_scale):
        if self.unit_det and sigma_scale is not None:
            raise ValueError(
                f"sigma_scale must be None for SPD({self.n}, unit_det=True), got {sigma_scale!r}"
            )
        return V.positive(1.0 if sigma_scale is None else sigma_scale, "sigma_scale")

    def log_density(
        self, p: Array, *, sigma: float = 1.0, sigma_scale: float | None = None
    ) -> Array:
        """Log density of :meth:`sample` at ``p`` w.r.t. ``nu``: ``[...]`` (NaN off the set).

        Raises:
          ValueError / TypeError: ``p`` not floating ``[..., n, n]``; bad sigmas.
        """
        sigma_scale = self._sigma_scale(sigma_scale)
        V.positive(sigma, "sigma")
        return self._log_density(p, sigma, sigma_scale)

    @_jit_method()
    def _log_density(self, p: Array, sigma: Any, sigma_scale: Any) -> Array:
        p = self._el(p, "p")
        x = _spd_log_unchecked(mf._sym(p))
        out = sampling.log_density_sym(x, self.n, sigma, sigma_scale, self.unit_det, True)
        return jnp.where(self.contains(p), out, jnp.nan)


_LINEAR = (SO, SL, GLPlus)


@dataclasses.dataclass(frozen=True)
class Affine(_AlgebraCoordinates):
    """Affine group ``R^n x| G`` for ``G`` one of ``SO(n)``, ``SL(n)``, ``GLPlus(n)``.

    Elements are homogeneous matrices ``[..., n+1, n+1] = [[A, t], [0, 1]]`` (``A`` in ``G``,
    ``t`` in ``R^n``), acting by ``x -> A x + t``; ``compose`` is the matrix product
    ``(t1, A1)(t2, A2) = (t1 + A1 t2, A1 A2)``. Use :meth:`parts`/:meth:`from_parts` to convert.
    Chart: ``(t, G.to_chart(A))`` (``n + G.dim`` coordinates, global). Haar measure (left):
    ``|det A|^{-1} dt dmu_G(A)``; the right Haar measure is ``dt dmu_G(A)`` (they agree for SO,
    SL; ``R^n x| GL+`` is not unimodular).
    """

    group: Any

    def __post_init__(self):
        if not isinstance(self.group, _LINEAR):
            raise TypeError(
                "Affine(G) needs G = SO(n), SL(n) or GLPlus(n), got "
                f"{self.group!r} (SPD is not a group)"
            )

    @property
    def n(self) -> int:
        """Dimension of the translations (``G`` acts on ``R^n``)."""
        return self.group.n

    @property
    def matrix_size(self) -> int:
        """``n + 1``."""
        return self.group.n + 1

    @property
    def dim(self) -> int:
        """``n + G.dim``."""
        return self.group.n + self.group.dim

    def _el(self, g: Any, name: str = "g") -> Array:
        return V.square(g, name, self.matrix_size)

    def parts(self, g: Array) -> tuple[Array, Array]:
        """``(A [..., n, n], t [..., n])`` of ``g = [[A, t], [0, 1]]``.

        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n+1, n+1]``.
        """
        g = self._el(g)
        n = self.n
        return g[..., :n, :n], g[..., :n, n]

    def from_parts(self, a: Array, t: Array) -> Array:
        """``[[A, t], [0, 1]]``: ``a [..., n, n]``, ``t [..., n]`` -> ``[..., n+1, n+1]``.

        Raises:
          ValueError / TypeError: ``a`` not ``[..., n, n]`` or ``t`` not ``[..., n]``.
        """
        a = V.square(a, "a", self.n)
        t = V.vectors(t, "t", self.n)
        batch = jnp.broadcast_shapes(a.shape[:-2], t.shape[:-1])
        dt = jnp.result_type(a.dtype, t.dtype)
        a = jnp.broadcast_to(a, batch + a.shape[-2:]).astype(dt)
        t = jnp.broadcast_to(t, batch + t.shape[-1:]).astype(dt)
        top = jnp.concatenate([a, t[..., None]], axis=-1)
        last = jnp.broadcast_to(
            jnp.eye(self.matrix_size, dtype=dt)[-1], batch + (1, self.matrix_size)
        )
        return jnp.concatenate([top, last], axis=-2)

    def identity(self, dtype: Any = None) -> Array:
        """Identity ``[n+1, n+1]``."""
        return jnp.eye(self.matrix_size, dtype=V.sample_dtype(dtype))

    def compose(self, a: Array, b: Array) -> Array:
        """``a b`` (homogeneous matrix product): ``[..., n+1, n+1]``.

        Raises:
          ValueError / TypeError: ``a`` or ``b`` not floating ``[..., n+1, n+1]``.
        """
        return jnp.matmul(self._el(a, "a"), self._el(b, "b"))

    @_jit_method()
    def inverse(self, g: Array) -> Array:
        """``(t, A)^{-1} = (-A^{-1} t, A^{-1})``: ``[..., n+1, n+1]``.

        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n+1, n+1]``.
        """
        a, t = self.parts(g)
        ai = self.group.inverse(a)
        return self.from_parts(ai, -jnp.matmul(ai, t[..., None])[..., 0])

    def act(self, g: Array, points: Array) -> Array:
        """``A x + t``: ``g [..., n+1, n+1]``, ``points [..., n]`` -> ``[..., n]``.

        Raises:
          ValueError / TypeError: bad shapes (``points`` must be ``[..., n]``).
        """
        a, t = self.parts(g)
        points = V.vectors(points, "points", self.n)
        return jnp.matmul(a, points[..., None])[..., 0] + t

    @_jit_method("tol")
    def contains(self, g: Array, tol: float | None = None) -> Array:
        """Last row ``(0, ..., 0, 1)`` within ``tol`` and ``A`` in ``G`` (``G.contains``): ``[...]``.

        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n+1, n+1]``; ``tol`` negative.
        """
        g = self._el(g)
        t = V.tolerance(tol, g.dtype)
        last = jnp.eye(self.matrix_size, dtype=g.dtype)[-1]
        ok = jnp.max(jnp.abs(g[..., -1, :] - last), axis=-1) <= t
        return ok & self.group.contains(g[..., : self.n, : self.n], tol) & V.all_finite(g, 2)

    @_jit_method()
    def project(self, g: Array) -> Array:
        """Resets the last row and projects ``A`` with ``G.project``.

        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n+1, n+1]``.
        """
        a, t = self.parts(g)
        return self.from_parts(self.group.project(a), t)

    def algebra_basis(self, dtype: Any = None) -> Array:
        """Orthonormal basis ``[n + G.dim, n+1, n+1]``: translations ``E_{i,n}`` first, then
        ``G.algebra_basis()`` in the top-left block."""
        dt = V.sample_dtype(dtype)
        m = self.matrix_size
        trans = jnp.zeros((self.n, m, m), dt).at[jnp.arange(self.n), jnp.arange(self.n), -1].set(1)
        lin = jnp.zeros((self.group.dim, m, m), dt).at[:, : self.n, : self.n].set(
            self.group.algebra_basis(dt)
        )
        return jnp.concatenate([trans, lin], axis=0)

    @_jit_method()
    def exp(self, xi: Array) -> Array:
        """``exp [[X, v], [0, 0]] = [[exp X, phi1(X) v], [0, 1]]``, ``phi1(X) = sum X^k/(k+1)!``.

        ``exp X`` from ``G.exp`` (NaN where ``X`` is not in G's algebra), ``phi1(X) v`` from
        ``expm`` of the homogeneous matrix. NaN where the last row of ``xi`` is not zero within
        ``sqrt(eps)``.

        Raises:
          ValueError / TypeError: ``xi`` not floating ``[..., n+1, n+1]``.
        """
        xi = self._el(xi, "xi")
        n = self.n
        ok = jnp.max(jnp.abs(xi[..., -1, :]), axis=-1) <= V.default_tol(xi.dtype) * jnp.maximum(
            1.0, jnp.max(jnp.abs(xi), axis=(-2, -1))
        )
        xi = xi.at[..., -1, :].set(0.0)
        t = mf.expm(xi)[..., :n, n]
        out = self.from_parts(self.group.exp(xi[..., :n, :n]), t)
        return V.nan_unless(ok, out, 2)

    @_jit_method()
    def log(self, g: Array) -> Array:
        """``[[X, phi1(X)^{-1} t], [0, 0]]`` with ``X = G.log(A)``.

        Returns:
          ``[..., n+1, n+1]``; NaN where ``g`` fails ``contains`` or ``A`` has no principal log.
        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n+1, n+1]``.
        """
        g = self._el(g)
        a, t = self.parts(g)
        n = self.n
        x = self.group.log(a)
        block = jnp.zeros(x.shape[:-2] + (2 * n, 2 * n), x.dtype)
        block = block.at[..., :n, :n].set(x).at[..., :n, n:].set(jnp.eye(n, dtype=x.dtype))
        phi1 = mf.expm(block)[..., :n, n:]
        v = jnp.linalg.solve(phi1, t[..., None])[..., 0]
        out = self.from_parts(x, v).at[..., -1, -1].set(0.0)
        return V.nan_unless(self.contains(g) & V.all_finite(x, 2), out, 2)

    @_jit_method()
    def to_chart(self, g: Array) -> Array:
        """``(t, G.to_chart(A))``: ``[..., n+1, n+1] -> [..., n + G.dim]`` (global chart).

        Returns:
          NaN where ``g`` fails ``contains``.
        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n+1, n+1]``.
        """
        g = self._el(g)
        a, t = self.parts(g)
        out = jnp.concatenate([t, self.group._chart_unchecked(a)], axis=-1)
        return V.nan_unless(self.contains(g), out, 1)

    @_jit_method()
    def from_chart(self, c: Array) -> Array:
        """Inverse of :meth:`to_chart`: ``[..., n + G.dim] -> [..., n+1, n+1]``.

        Raises:
          ValueError / TypeError: ``c`` not floating ``[..., n + G.dim]``.
        """
        c = V.vectors(c, "c", self.dim)
        return self.from_parts(self.group.from_chart(c[..., self.n :]), c[..., : self.n])

    def sample(
        self,
        key: Array,
        shape: Any = (),
        *,
        sigma_translation: float = 1.0,
        dtype: Any = None,
        **group_params: Any,
    ) -> tuple[Array, Array]:
        """``t ~ N(0, sigma_translation^2 I_n)``, ``A ~ G.sample(**group_params)``.

        Returns:
          ``(g [*shape, n+1, n+1], log_density [*shape])`` w.r.t. the left Haar measure
          ``|det A|^{-1} dt dmu_G``: ``log N(t) + log q_G(A) + log |det A|``.
        Raises:
          ValueError: bad ``shape``; non-positive sigmas. TypeError: unknown ``group_params``.
        """
        shape, dt = V.sample_shape(shape), V.sample_dtype(dtype)
        V.positive(sigma_translation, "sigma_translation")
        k_a, k_t = jax.random.split(key)
        a, logq = self.group.sample(k_a, shape, dtype=dt, **group_params)
        t = jax.random.normal(k_t, shape + (self.n,), dt) * jnp.asarray(sigma_translation, dt)
        logq = logq + sampling._log_normal(t, sigma_translation)
        if isinstance(self.group, GLPlus):
            logq = logq + jnp.log(_det(a))
        return self.from_parts(a, t), logq

    def log_density(self, g: Array, *, sigma_translation: float = 1.0, **group_params) -> Array:
        """Log density of :meth:`sample` at ``g`` w.r.t. the left Haar measure: ``[...]``.

        Raises:
          ValueError / TypeError: ``g`` not floating ``[..., n+1, n+1]``; bad parameters.
        """
        V.positive(sigma_translation, "sigma_translation")
        a, t = self.parts(g)
        out = self.group.log_density(a, **group_params) + sampling._log_normal(
            t, sigma_translation
        )
        if isinstance(self.group, GLPlus):
            out = out + jnp.log(_det(a))
        return jnp.where(self.contains(g), out, jnp.nan)


def unimodular(group: Any) -> bool:
    """Whether left and right Haar measures agree (true for SO, SL, GL+, Affine(SO/SL))."""
    if isinstance(group, Affine):
        return not isinstance(group.group, GLPlus)
    return isinstance(group, _LINEAR)


__all__ = ["SO", "SL", "GLPlus", "SPD", "Affine", "unimodular"]
