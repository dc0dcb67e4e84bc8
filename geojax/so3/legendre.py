"""Real spherical harmonics in e3nn-jax's convention, evaluated in float64 with NumPy.

These are the host-side building blocks of every coefficient table in :mod:`geojax.so3`.
They are never called inside a jitted kernel.

Convention (identical to ``e3nn.spherical_harmonics(..., normalization="integral")``):
the polar axis is y, a unit vector is ``(x, y, z) = (sin t sin p, cos t, sin t cos p)``, and

    Y_lm(t, p) = Theta_l^|m|(t) * Phi_m(p),
    Theta_l^mu(t) = sqrt((2l+1)/(4 pi) (l-mu)!/(l+mu)!) P_l^mu(cos t),
    Phi_m(p) = sqrt(2) cos(m p) (m > 0),  1 (m = 0),  sqrt(2) sin(|m| p) (m < 0),

with ``P_l^mu(x) = (1 - x^2)^(mu/2) d^mu/dx^mu P_l(x)`` (no Condon-Shortley phase), so that
the integral of ``Y_lm^2`` over the sphere is 1.
"""

from __future__ import annotations

import numpy as np


def legendre_theta(lmax: int, cos_t: np.ndarray, sin_t: np.ndarray) -> np.ndarray:
    """Normalized associated Legendre functions ``Theta_l^mu`` by a stable three-term recurrence.

    ``sin_t`` is used with its sign (not ``sqrt(1 - cos_t^2)``), so the functions extend to
    ``t`` in ``[0, 2 pi)`` as trigonometric polynomials of degree l, which the 2D Fourier tables use.

    Args:
      lmax: largest degree, ``>= 0``.
      cos_t, sin_t: float64 arrays of one shape ``[n]``.

    Returns:
      ``[lmax + 1 (mu), lmax + 1 (l), n]`` float64, zero where ``l < mu``.

    Raises:
      ValueError: if ``lmax < 0`` or the two arrays differ in shape.
    """
    if lmax < 0:
        raise ValueError(f"lmax must be >= 0, got {lmax}")
    cos_t = np.asarray(cos_t, dtype=np.float64)
    sin_t = np.asarray(sin_t, dtype=np.float64)
    if cos_t.shape != sin_t.shape:
        raise ValueError(f"cos_t and sin_t must have one shape, got {cos_t.shape} and {sin_t.shape}")
    out = np.zeros((lmax + 1, lmax + 1) + cos_t.shape, dtype=np.float64)
    diag = np.full(cos_t.shape, np.sqrt(1.0 / (4.0 * np.pi)))
    for mu in range(lmax + 1):
        if mu > 0:
            diag = np.sqrt((2.0 * mu + 1.0) / (2.0 * mu)) * sin_t * diag
        out[mu, mu] = diag
        if mu + 1 <= lmax:
            out[mu, mu + 1] = np.sqrt(2.0 * mu + 3.0) * cos_t * diag
        for l in range(mu + 2, lmax + 1):
            a = np.sqrt((4.0 * l * l - 1.0) / (l * l - mu * mu))
            b = np.sqrt(((l - 1.0) ** 2 - mu * mu) / (4.0 * (l - 1.0) ** 2 - 1.0))
            out[mu, l] = a * (cos_t * out[mu, l - 1] - b * out[mu, l - 2])
    return out


def fourier_phi(lmax: int, phi: np.ndarray) -> np.ndarray:
    """Azimuthal factors ``Phi_m(p)`` for ``m = -lmax..lmax``: ``[2 lmax + 1, n]`` float64."""
    phi = np.asarray(phi, dtype=np.float64)
    m = np.arange(-lmax, lmax + 1)[:, None]
    return np.where(
        m > 0,
        np.sqrt(2.0) * np.cos(m * phi),
        np.where(m < 0, np.sqrt(2.0) * np.sin(-m * phi), 1.0),
    )


def spherical_harmonics_np(lmax: int, vectors: np.ndarray) -> np.ndarray:
    """Real spherical harmonics of unit vectors, e3nn ordering, float64.

    Args:
      lmax: largest degree.
      vectors: ``[..., 3]`` (normalized inside; the zero vector gives NaN).

    Returns:
      ``[..., (lmax + 1)**2]`` with index ``l**2 + l + m``.
    """
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    x, y, z = v[..., 0].ravel(), v[..., 1].ravel(), v[..., 2].ravel()
    theta = legendre_theta(lmax, y, np.hypot(x, z))
    phis = fourier_phi(lmax, np.arctan2(x, z))
    cols = []
    for l in range(lmax + 1):
        for m in range(-l, l + 1):
            cols.append(theta[abs(m), l] * phis[m + lmax])
    return np.stack(cols, axis=-1).reshape(v.shape[:-1] + ((lmax + 1) ** 2,))


def sh_index(l: int, m: int) -> int:
    """Position of ``(l, m)`` in e3nn's flat ordering: ``l**2 + l + m``."""
    return l * l + l + m
