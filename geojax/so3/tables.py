"""Exact coefficient tables for Gaunt products, in float64, built once per degree and cached.

"Exact" means float64 round-off: integrals over theta use Gauss-Legendre quadrature in cos(theta)
with enough nodes to be exact for the polynomial integrand, integrals over phi use uniform
quadrature exact for the trigonometric integrand, and the change of basis to 2D Fourier
coefficients uses the closed form of ``K(k) = int_0^pi e^{i k t} sin t dt``. No table is approximate.

Notation (see :mod:`geojax.so3.legendre`): ``Y_lm(t, p) = Theta_l^|m|(t) Phi_m(p)``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from fractions import Fraction

import numpy as np

from geojax.so3.legendre import fourier_phi, legendre_theta, sh_index

# Largest per-input degree of the dense reference: its sparse table grows like L^5.
DENSE_LMAX = 16


def _check_degree(name: str, value: int, low: int = 0) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``cos t_j`` and weights of ``n``-point Gauss-Legendre quadrature on ``[-1, 1]``."""
    return np.polynomial.legendre.leggauss(n)


# --------------------------------------------------------------------------------------------
# Gaunt coefficients and the Clebsch-Gordan ratio
# --------------------------------------------------------------------------------------------


def cg_gaunt_ratio(l1: int, l2: int, l3: int) -> float:
    """``r(l1, l2, l3)`` with ``G(l1 m1, l2 m2, l3 m3) = r * e3nn.clebsch_gordan(l1, l2, l3)[m1, m2, m3]``.

    ``r = sqrt((2 l1 + 1)(2 l2 + 1)(2 l3 + 1) / (4 pi)) * |(l1 l2 l3; 0 0 0)|``, where for
    ``2g = l1 + l2 + l3`` even
    ``(l1 l2 l3; 0 0 0)^2 = (2g-2l1)! (2g-2l2)! (2g-2l3)! / (2g+1)! * (g! / ((g-l1)! (g-l2)! (g-l3)!))^2``,
    evaluated exactly in rational arithmetic. ``r = 0`` for odd ``l1 + l2 + l3`` or outside the
    triangle ``|l1 - l2| <= l3 <= l1 + l2``.
    """
    for name, value in (("l1", l1), ("l2", l2), ("l3", l3)):
        _check_degree(name, value)
    if (l1 + l2 + l3) % 2 or not abs(l1 - l2) <= l3 <= l1 + l2:
        return 0.0
    g = (l1 + l2 + l3) // 2
    f = math.factorial
    w2 = Fraction(f(2 * g - 2 * l1) * f(2 * g - 2 * l2) * f(2 * g - 2 * l3), f(2 * g + 1)) * Fraction(
        f(g), f(g - l1) * f(g - l2) * f(g - l3)
    ) ** 2
    return math.sqrt((2 * l1 + 1) * (2 * l2 + 1) * (2 * l3 + 1) / (4.0 * math.pi) * float(w2))


@dataclasses.dataclass(frozen=True)
class SparseGaunt:
    """Non-zero Gaunt coefficients in COO form over e3nn's flat ``(l, m)`` indices.

    ``out[k[n]] += values[n] * x[i[n]] * y[j[n]]`` over ``n`` is the Gaunt product.
    """

    i: np.ndarray
    j: np.ndarray
    k: np.ndarray
    values: np.ndarray

    def dense(self, lmax1: int, lmax2: int, lmax3: int) -> np.ndarray:
        """The full ``[(lmax1+1)**2, (lmax2+1)**2, (lmax3+1)**2]`` float64 tensor."""
        out = np.zeros(((lmax1 + 1) ** 2, (lmax2 + 1) ** 2, (lmax3 + 1) ** 2))
        out[self.i, self.j, self.k] = self.values
        return out


@functools.lru_cache(maxsize=32)
def gaunt_coefficients(lmax1: int, lmax2: int, lmax3: int) -> SparseGaunt:
    """Gaunt coefficients ``G = int_{S^2} Y_{l1m1} Y_{l2m2} Y_{l3m3}`` for all degrees up to the maxima.

    The integral factorizes into ``int_{-1}^{1} Theta Theta Theta d(cos t)`` (Gauss-Legendre, exact
    for the degree-``l1+l2+l3`` polynomial) times ``int_0^{2 pi} Phi Phi Phi dp`` (uniform
    quadrature, exact). Selection rules (``l1 + l2 + l3`` even, triangle) are imposed exactly.

    Raises:
      ValueError: for negative degrees, or ``lmax1`` / ``lmax2`` above ``DENSE_LMAX`` (the table has
        O(L^5) entries; use the ``fourier`` or ``s2grid`` method there).
    """
    for name, value in (("lmax1", lmax1), ("lmax2", lmax2), ("lmax3", lmax3)):
        _check_degree(name, value)
    if max(lmax1, lmax2) > DENSE_LMAX:
        raise ValueError(
            f"the dense Gaunt table supports input degrees up to {DENSE_LMAX} (its size grows like "
            f"L^5), got lmax1={lmax1}, lmax2={lmax2}; use method='fourier' or 's2grid'"
        )
    lmax3 = min(lmax3, lmax1 + lmax2)
    lt = max(lmax1, lmax2, lmax3)
    nodes, weights = gauss_legendre((lmax1 + lmax2 + lmax3) // 2 + 1)
    theta = legendre_theta(lt, nodes, np.sqrt(1.0 - nodes**2))  # [mu, l, q]

    nphi = lmax1 + lmax2 + lmax3 + 1
    phis = fourier_phi(lt, 2.0 * np.pi * np.arange(nphi) / nphi)  # [m + lt, q]
    l1s, l2s, l3s = np.arange(lmax1 + 1), np.arange(lmax2 + 1), np.arange(lmax3 + 1)
    allowed = ((l1s[:, None, None] + l2s[None, :, None] + l3s[None, None, :]) % 2 == 0) & (
        np.abs(l1s[:, None, None] - l2s[None, :, None]) <= l3s[None, None, :]
    ) & (l3s[None, None, :] <= l1s[:, None, None] + l2s[None, :, None])

    theta_cache: dict[tuple[int, int, int], np.ndarray] = {}
    rows_i, rows_j, rows_k, rows_v = [], [], [], []
    for m1 in range(-lmax1, lmax1 + 1):
        for m2 in range(-lmax2, lmax2 + 1):
            for m3 in {m1 + m2, m1 - m2, -m1 + m2, -m1 - m2}:
                if abs(m3) > lmax3:
                    continue
                phi_int = 2.0 * np.pi / nphi * np.sum(phis[m1 + lt] * phis[m2 + lt] * phis[m3 + lt])
                if abs(phi_int) < 1e-9:  # non-zero values are multiples of pi / sqrt(2)
                    continue
                mus = (abs(m1), abs(m2), abs(m3))
                if mus not in theta_cache:
                    t = np.einsum(
                        "aq,bq,cq,q->abc",
                        theta[mus[0], : lmax1 + 1],
                        theta[mus[1], : lmax2 + 1],
                        theta[mus[2], : lmax3 + 1],
                        weights,
                    )
                    valid = allowed.copy()
                    valid[: mus[0]] = False
                    valid[:, : mus[1]] = False
                    valid[:, :, : mus[2]] = False
                    theta_cache[mus] = np.where(valid, t, 0.0)
                # accidental zeros of 3j symbols come out as ~1e-17: drop them
                a, b, c = np.nonzero(np.abs(theta_cache[mus]) > 1e-13)
                rows_i.append(a * a + a + m1)
                rows_j.append(b * b + b + m2)
                rows_k.append(c * c + c + m3)
                rows_v.append(phi_int * theta_cache[mus][a, b, c])
    cat = lambda rows, dtype: np.concatenate(rows).astype(dtype) if rows else np.zeros(0, dtype)
    return SparseGaunt(cat(rows_i, np.int32), cat(rows_j, np.int32), cat(rows_k, np.int32), cat(rows_v, np.float64))


# --------------------------------------------------------------------------------------------
# Spherical harmonics <-> 2D Fourier basis
# --------------------------------------------------------------------------------------------


def _signed_m_gather(lmax: int) -> tuple[np.ndarray, np.ndarray]:
    """Index map from the flat ``(L+1)^2`` vector (plus one zero slot at the end) to ``[m, l]``.

    Returns ``(index [2L+1, L+1], valid [2L+1, L+1])``; invalid entries (``l < |m|``) point at the
    zero slot ``(L+1)^2``.
    """
    m = np.arange(-lmax, lmax + 1)[:, None]
    l = np.arange(lmax + 1)[None, :]
    valid = l >= np.abs(m)
    index = np.where(valid, l * l + l + m, (lmax + 1) ** 2)
    return index.astype(np.int32), valid


@functools.lru_cache(maxsize=64)
def sh_to_m_layout(lmax: int) -> tuple[np.ndarray, np.ndarray]:
    """Cached ``(gather [2L+1, L+1], scatter [(L+1)^2])`` between flat and ``[m, l]`` layouts.

    ``scatter[sh_index(l, m)] = (m + L) * (L + 1) + l`` indexes the flattened ``[m, l]`` array.
    """
    gather, _ = _signed_m_gather(lmax)
    scatter = np.zeros((lmax + 1) ** 2, dtype=np.int32)
    for l in range(lmax + 1):
        for m in range(-l, l + 1):
            scatter[sh_index(l, m)] = (m + lmax) * (lmax + 1) + l
    return gather, scatter


@functools.lru_cache(maxsize=64)
def theta_fourier_coefficients(lmax: int) -> np.ndarray:
    """``t[mu, l, u]`` with ``Theta_l^mu(t) = sum_{u=-L..L} t[mu, l, u + L] e^{i u t}``, complex128.

    Exact: ``Theta_l^mu`` extended to ``t in [0, 2 pi)`` is a trigonometric polynomial of degree
    ``l``, so the FFT of ``N >= 2L + 1`` uniform samples divided by ``N`` gives its coefficients.
    Real (cosine series) for even ``mu``, imaginary (sine series) for odd ``mu``.
    """
    n = 2 * lmax + 2
    t = 2.0 * np.pi * np.arange(n) / n
    samples = legendre_theta(lmax, np.cos(t), np.sin(t))  # [mu, l, n]
    coeffs = np.fft.fft(samples, axis=-1) / n
    coeffs = np.concatenate([coeffs[..., n - lmax :], coeffs[..., : lmax + 1]], axis=-1)
    mu = np.arange(lmax + 1)[:, None, None]
    # Drop round-off in the part that is zero by parity.
    return np.where(mu % 2 == 0, coeffs.real + 0j, 1j * coeffs.imag)


def sin_moment(k: np.ndarray) -> np.ndarray:
    """``K(k) = int_0^pi e^{i k t} sin t dt``: ``2 / (1 - k^2)`` for even k, ``+-i pi / 2`` at ``k = +-1``, else 0."""
    k = np.asarray(k)
    with np.errstate(divide="ignore"):
        even = 2.0 / (1.0 - k.astype(np.float64) ** 2)
    out = np.where(k % 2 == 0, even + 0j, 0j)
    out = np.where(k == 1, 0.5j * np.pi, out)
    return np.where(k == -1, -0.5j * np.pi, out)


@dataclasses.dataclass(frozen=True)
class ToFourierTable:
    """Real tables for ``x [..., (L+1)^2] -> c [..., 2L+1 (u), L+1 (v >= 0)]`` (complex).

    ``a[..., m, u] = sum_l X[..., m, l] theta[m, l, u]`` then ``Re c[u, v] = sign_re[v] a[row_re[v], u]``
    and ``Im c[u, v] = sign_im[v] a[row_im[v], u]`` (rows index the signed ``m + L``).
    """

    gather: np.ndarray  # [2L+1, L+1] into the flat vector with a zero slot
    theta: np.ndarray  # [2L+1, L+1, 2L+1] float64
    row_re: np.ndarray
    sign_re: np.ndarray
    row_im: np.ndarray
    sign_im: np.ndarray


@functools.lru_cache(maxsize=64)
def to_fourier_table(lmax: int) -> ToFourierTable:
    """Tables of the change of basis from spherical harmonics to 2D Fourier coefficients.

    A signal ``f = sum x_lm Y_lm`` extended to the torus ``(t, p) in [0, 2 pi)^2`` equals
    ``sum_{u, v} c[u, v] e^{i (u t + v p)}``; since f is real, ``c[-u, -v] = conj(c[u, v])`` and only
    ``v >= 0`` is kept. With ``A[m, u] = sum_l x_lm t[|m|, l, u]``:
    ``c[u, 0] = A[0, u]`` and ``c[u, v] = (A[v, u] - i A[-v, u]) / sqrt 2`` for ``v > 0``.
    """
    _check_degree("lmax", lmax)
    gather, valid = _signed_m_gather(lmax)
    t = theta_fourier_coefficients(lmax)  # [mu, l, u]
    mus = np.abs(np.arange(-lmax, lmax + 1))
    # A is real for even mu and i * real for odd mu: keep the real factor.
    theta = np.where(mus[:, None, None] % 2 == 0, t[mus].real, t[mus].imag) * valid[:, :, None]
    v = np.arange(lmax + 1)
    s = np.where(v == 0, 1.0, 1.0 / np.sqrt(2.0))
    even = v % 2 == 0
    row_re = np.where(even, v, -v) + lmax
    sign_re = s
    row_im = np.where(even, -v, v) + lmax
    sign_im = np.where(v == 0, 0.0, np.where(even, -s, s))
    return ToFourierTable(gather, theta, row_re.astype(np.int32), sign_re, row_im.astype(np.int32), sign_im)


@dataclasses.dataclass(frozen=True)
class FromFourierTable:
    """Real table for ``c [..., 2U+1 (u), V+1 (v >= 0)] -> out [..., (lmax+1)^2]``.

    ``out[m, l] = sum_u Re c[u, |m|] table[m, u, l] + Im c[u, |m|] table[m, 2U+1 + u, l]``, then
    ``out_flat = out.reshape(-1)[scatter]``.
    """

    table: np.ndarray  # [2 lmax + 1, 2 (2U + 1), lmax + 1]
    vcol: np.ndarray  # [2 lmax + 1] column |m| of c read by each signed m
    scatter: np.ndarray  # [(lmax + 1)^2]


@functools.lru_cache(maxsize=64)
def from_fourier_table(umax: int, lmax: int) -> FromFourierTable:
    """Tables of the projection from 2D Fourier coefficients back to spherical harmonics.

    ``out_lm = int_{S^2} f Y_lm = sum_{u, v} c[u, v] z^{lm}_{uv}`` with
    ``z^{lm}_{uv} = int_0^{2pi} int_0^pi e^{i(u t + v p)} Y_lm sin t dt dp``. The p-integral selects
    ``v = +-m``; the t-integral is ``W_l^mu[u] = sum_{u'} t[mu, l, u'] K(u + u')`` (closed form).
    Writing ``Z[u] = W[u] + conj(W[-u])`` and using ``c[-u, -v] = conj(c[u, v])``:
    ``m = 0: out = 2 pi Re sum_u c[u, 0] W[u]``; ``m > 0: out = sqrt2 pi Re sum_u c[u, m] Z[u]``;
    ``m < 0: out = -sqrt2 pi Im sum_u c[u, |m|] Z[u]``.
    """
    _check_degree("umax", umax)
    _check_degree("lmax", lmax)
    t = theta_fourier_coefficients(lmax)  # [mu, l, u'] with u' in -lmax..lmax
    u = np.arange(-umax, umax + 1)
    up = np.arange(-lmax, lmax + 1)
    kmat = sin_moment(up[:, None] + u[None, :])  # [u', u]
    w = np.einsum("alp,pu->aul", t, kmat)  # [mu, u, l]
    z = w + np.conj(w[:, ::-1, :])
    table = np.zeros((2 * lmax + 1, 2 * (2 * umax + 1), lmax + 1))
    nu = 2 * umax + 1
    for m in range(-lmax, lmax + 1):
        mu = abs(m)
        valid = (np.arange(lmax + 1) >= mu)[None, :]
        if m == 0:
            re, im = 2 * np.pi * w[0].real, -2 * np.pi * w[0].imag
        elif m > 0:
            re, im = np.sqrt(2) * np.pi * z[mu].real, -np.sqrt(2) * np.pi * z[mu].imag
        else:
            re, im = -np.sqrt(2) * np.pi * z[mu].imag, -np.sqrt(2) * np.pi * z[mu].real
        table[m + lmax, :nu] = re * valid
        table[m + lmax, nu:] = im * valid
    _, scatter = sh_to_m_layout(lmax)
    return FromFourierTable(table, np.abs(np.arange(-lmax, lmax + 1)).astype(np.int32), scatter)


# --------------------------------------------------------------------------------------------
# Exact S^2 quadrature grid
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GridTable:
    """Values of ``Y_lm`` on a Gauss-Legendre x uniform grid, split by ``m``.

    ``f[j, k] = sum_m phi[m, k] sum_l theta[m, l, j] X[m, l]`` with ``X[m, l] = x_lm`` (zero
    where ``l < |m|``; ``gather`` maps the flat e3nn vector to that layout). The projection back
    is :func:`s2_projection_table`.
    """

    gather: np.ndarray  # [2L+1, L+1]
    theta: np.ndarray  # [2L+1, L+1, n_theta]
    phi: np.ndarray  # [2L+1, n_phi]
    n_theta: int
    n_phi: int


def s2_grid_shape(bandwidth: int) -> tuple[int, int]:
    """Smallest grid exact for integrating a band-limited integrand of total degree ``bandwidth``:
    ``(bandwidth // 2 + 1)`` Gauss-Legendre nodes and ``bandwidth + 1`` uniform azimuths."""
    return bandwidth // 2 + 1, bandwidth + 1


@functools.lru_cache(maxsize=64)
def s2_grid_table(lmax: int, n_theta: int, n_phi: int) -> GridTable:
    """Spherical-harmonic values of degree ``<= lmax`` on the ``n_theta x n_phi`` exact grid."""
    _check_degree("lmax", lmax)
    _check_degree("n_theta", n_theta, 1)
    _check_degree("n_phi", n_phi, 1)
    nodes, _ = gauss_legendre(n_theta)
    theta = legendre_theta(lmax, nodes, np.sqrt(1.0 - nodes**2))  # [mu, l, j]
    gather, valid = _signed_m_gather(lmax)
    mus = np.abs(np.arange(-lmax, lmax + 1))
    phi = fourier_phi(lmax, 2.0 * np.pi * np.arange(n_phi) / n_phi)
    return GridTable(gather, theta[mus] * valid[:, :, None], phi, n_theta, n_phi)


@functools.lru_cache(maxsize=64)
def s2_projection_table(lmax: int, n_theta: int, n_phi: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature-weighted tables for grid -> coefficients, float64:
    ``(phi_w [2L+1, n_phi], theta_w [2L+1 (m), L+1 (l), n_theta])`` with
    ``out[m, l] = sum_j theta_w[m, l, j] sum_k phi_w[m, k] f(t_j, p_k)``."""
    grid = s2_grid_table(lmax, n_theta, n_phi)
    _, weights = gauss_legendre(n_theta)
    phi_w = (2.0 * np.pi / n_phi) * grid.phi
    theta_w = grid.theta * weights[None, None, :]
    return phi_w, theta_w
