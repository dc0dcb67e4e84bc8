"""Radial bases of interatomic distances with a smooth cutoff."""

from __future__ import annotations

import e3nn_jax as e3nn
import jax.numpy as jnp


def cutoff_envelope(dist: jnp.ndarray, cutoff: float, power: int = 6) -> jnp.ndarray:
    """The smooth cutoff ``u(d / c)`` of :func:`radial_basis`: ``[...] -> [...]``, zero for ``d >= c``.

    ``u(x) = 1 - (p+1)(p+2)/2 x^p + p(p+2) x^(p+1) - p(p+1)/2 x^(p+2)`` (``e3nn.poly_envelope(p - 1, 2)``),
    ``p = power``: ``u(0) = 1``, and ``u`` and its first two derivatives vanish at ``x = 1``.

    Raises:
      ValueError: ``cutoff <= 0``.
    """
    if not cutoff > 0:
        raise ValueError(f"cutoff must be > 0, got {cutoff}")
    x = dist / cutoff
    inside = x < 1.0
    return jnp.where(inside, e3nn.poly_envelope(power - 1, 2)(jnp.where(inside, x, 0.5)), 0.0)


def radial_basis(dist: jnp.ndarray, num: int, cutoff: float, envelope_power: int = 6) -> jnp.ndarray:
    """Bessel functions times a polynomial envelope: ``[...] -> [..., num]``, zero for ``dist >= cutoff``.

    ``b_k(d) = sqrt(2 / c) sin(k pi d / c) / d * u(d / c)`` (``e3nn.bessel``) with ``u`` the
    envelope of :func:`cutoff_envelope` of power ``envelope_power``: ``u`` and its first two
    derivatives vanish at the cutoff, so energies and forces stay smooth when atoms cross it.

    Raises:
      ValueError: ``num < 1`` or ``cutoff <= 0``.
    """
    if num < 1 or not cutoff > 0:
        raise ValueError(f"radial_basis needs num >= 1 and cutoff > 0, got num={num}, cutoff={cutoff}")
    inside = dist < cutoff
    safe = jnp.where(inside, dist, 0.5 * cutoff)  # keep the masked branch's gradient finite
    envelope = cutoff_envelope(dist, cutoff, envelope_power)
    return jnp.where(inside[..., None], e3nn.bessel(safe, num, x_max=cutoff) * envelope[..., None], 0.0)
