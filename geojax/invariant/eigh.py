"""Symmetric eigendecomposition in descending order, with a frozen or a guarded derivative."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def _swap(a: jnp.ndarray) -> jnp.ndarray:
    return jnp.swapaxes(a, -1, -2)


def _eigh_descending(c: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    lam, vec = jnp.linalg.eigh(c, symmetrize_input=True)
    return lam[..., ::-1], vec[..., ::-1]


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def guarded_eigh(c: jnp.ndarray, broadening: float) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Eigenvalues (descending) and eigenvectors (columns) of symmetric ``c`` ``[..., m, m]``.

    The derivative is the textbook one, ``dlam_i = v_i^T dC v_i`` and ``dV = V (F o V^T dC V)``,
    except that ``F_ij = 1 / (lam_j - lam_i)`` is replaced by the Lorentzian-broadened
    ``(lam_j - lam_i) / ((lam_j - lam_i)^2 + e^2)`` with ``e = broadening * max_i |lam_i|``: exact to
    relative order ``(e / gap)^2`` where eigenvalues are separated, finite (at most ``1 / (2e)``)
    where they coincide, so gradients are never NaN or inf. Differentiable any number of times;
    second derivatives are exact at simple spectra and finite (of order ``1 / e^2``) at degenerate
    ones.

    Raises:
      Nothing: ``c`` is not validated (internal; it is symmetrized, as by ``jnp.linalg.eigh``).
    """
    return _eigh_descending(c)


@guarded_eigh.defjvp
def _guarded_eigh_jvp(broadening, primals, tangents):
    (c,), (dc,) = primals, tangents
    lam, vec = guarded_eigh(c, broadening)
    dc = 0.5 * (dc + _swap(dc))
    a = jnp.einsum("...ki,...kl,...lj->...ij", vec, dc, vec, precision=jax.lax.Precision.HIGHEST)
    dlam = jnp.diagonal(a, axis1=-2, axis2=-1)
    diff = lam[..., None, :] - lam[..., :, None]  # lam_j - lam_i
    e = broadening * jnp.max(jnp.abs(lam), axis=-1)[..., None, None]
    denom = diff * diff + e * e
    # the diagonal is masked, not computed as 0 / e^2: its derivative 1 / e^2 would cancel only
    # up to rounding in reverse-over-reverse differentiation
    use = (denom > 0) & ~jnp.eye(lam.shape[-1], dtype=bool)
    f = jnp.where(use, diff / jnp.where(use, denom, 1.0), 0.0)
    dvec = jnp.einsum("...ik,...kj->...ij", vec, f * a, precision=jax.lax.Precision.HIGHEST)
    return (lam, vec), (dlam, dvec)


def eigh_descending(c: jnp.ndarray, *, differentiable: bool) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``(lam, V)`` of symmetric ``c``, descending: no derivative at all (``stop_gradient``) unless
    ``differentiable``, in which case the guarded derivative of :func:`guarded_eigh` with broadening
    ``sqrt(eps)`` of the dtype (1.5e-8 in float64, 3.5e-4 in float32)."""
    if not differentiable:
        return _eigh_descending(jax.lax.stop_gradient(c))
    return guarded_eigh(c, float(jnp.finfo(c.dtype).eps) ** 0.5)
