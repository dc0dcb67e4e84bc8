"""Dense neighbour graphs of small point sets (molecules, particle systems): all pairs with a mask."""

from __future__ import annotations

import jax.numpy as jnp

# Pairs closer than this have no direction: they are left out of the graph.
COINCIDENT = 1e-6


def check_points(positions: jnp.ndarray, name: str = "positions") -> tuple[int, ...]:
    """Validate ``positions [..., n, 3]`` at trace time; return the batch shape."""
    if positions.ndim < 2 or positions.shape[-1] != 3:
        raise ValueError(f"{name}: expected shape [..., n, 3], got {positions.shape}")
    if not jnp.issubdtype(positions.dtype, jnp.floating):
        raise TypeError(f"{name}: expected floating point, got {positions.dtype}")
    return positions.shape[:-2]


def dense_pairs(positions: jnp.ndarray, atom_mask: jnp.ndarray | None = None, cutoff: float | None = None
                ) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """All ordered pairs ``(i, j)``, ``i != j``, of each point set, with their geometry.

    Args:
      positions: ``[..., n, 3]``.
      atom_mask: ``[..., n]`` (bool or 0/1), ``True`` for real points; default all real.
      cutoff: keep pairs with ``|r_ij| < cutoff`` (default: every pair).

    Returns:
      ``(rel, dist, pair_mask)``: ``rel[..., i, j] = r_j - r_i`` ``[..., n, n, 3]``, ``dist`` ``[..., n, n]``,
      ``pair_mask`` bool ``[..., n, n]``: both points real, ``i != j``, within the cutoff and not
      coincident (closer than :data:`COINCIDENT`, where the direction is undefined). Masked pairs get
      ``rel = (d, 0, 0)`` with a safe ``d`` so that no gradient through them is NaN.

    Raises:
      ValueError: ``positions`` not ``[..., n, 3]``; ``atom_mask`` not ``positions.shape[:-1]``.
    """
    check_points(positions)
    n = positions.shape[-2]
    if atom_mask is None:
        atom_mask = jnp.ones(positions.shape[:-1], bool)
    elif atom_mask.shape != positions.shape[:-1]:
        raise ValueError(f"atom_mask: expected shape {positions.shape[:-1]} (positions without the last axis), got {atom_mask.shape}")
    atom_mask = atom_mask.astype(bool)
    rel = positions[..., None, :, :] - positions[..., :, None, :]
    sq = jnp.sum(rel * rel, axis=-1)
    pair_mask = atom_mask[..., :, None] & atom_mask[..., None, :] & ~jnp.eye(n, dtype=bool)
    pair_mask &= sq > COINCIDENT**2
    if cutoff is not None:
        pair_mask &= sq < cutoff**2
    fill = 1.0 if cutoff is None else 0.5 * cutoff
    rel = jnp.where(pair_mask[..., None], rel, jnp.array([fill, 0.0, 0.0], positions.dtype))
    dist = jnp.sqrt(jnp.sum(rel * rel, axis=-1))
    return rel, dist, pair_mask
