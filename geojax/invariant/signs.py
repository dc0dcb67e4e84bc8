"""Canonical signs of principal coordinates: third moment, pairwise fourth moment, triple product, largest entry."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

HIGHEST = jax.lax.Precision.HIGHEST

SKEW, PAIR, LARGEST, ORIENTATION, TRIPLE = 0, 1, 2, 3, 4
"""Values of ``info.sign_source``: which rule fixed each column's sign."""


def largest_entry_signs(p: jnp.ndarray, keep: jnp.ndarray, tie: float) -> jnp.ndarray:
    """Signs ``[..., k]`` making each column's largest-magnitude entry positive.

    Per column ``j``: ``s_j = sign(p[i*, j])`` (+1 if 0), where ``i*`` is the lowest-index kept row
    with ``|p[i, j]| >= (1 - tie) max_i |p[i, j]|``. Label-free when the largest entry is unique;
    exact ties (a centrally symmetric cloud has ``|p_i| = |p_sigma(i)|``) are broken by the index,
    not by rounding noise, so the result is rotation invariant for fixed labels.

    Args:
      p: ``[..., n, k]``; ``keep``: ``[..., n]`` bool rows to consider; ``tie``: relative tolerance.

    Raises:
      Nothing: inputs are not validated (internal; callers validate).
    """
    a = jnp.where(keep[..., None], jnp.abs(p), -1.0)
    top = jnp.max(a, axis=-2, keepdims=True)
    tied = keep[..., None] & (a >= top * (1.0 - tie))
    rows = jnp.arange(p.shape[-2])[:, None]
    first = jnp.min(jnp.where(tied, rows, p.shape[-2]), axis=-2, keepdims=True)  # the first tied row
    value = jnp.sum(jnp.where(rows == first, p, 0.0), axis=-2)
    return jnp.where(value < 0, -1.0, 1.0).astype(p.dtype)


def canonical_signs(
    p: jnp.ndarray, weights: jnp.ndarray, keep: jnp.ndarray, *, rule: str
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Signs ``s`` (+-1) making the columns of ``p * s`` canonical, and the rule that fixed each.

    With ``z_j = p_j / sigma_j`` (``sigma_j^2 = sum_i w_i p_ij^2``; ``z_j = 0`` for a numerically
    null column, ``sigma_j <= sqrt(eps) max_l sigma_l``) and ``tau = sqrt(eps)`` (1.5e-8 in
    float64, 3.5e-4 in float32), ``rule="skew"`` fixes column ``j`` by the first decisive rule:

    0. skewness ``g_j = sum_i w_i z_ij^3``: ``s_j = sign(g_j)`` if ``|g_j| >= tau``;
    1. a fourth moment against an anchor column ``a``, ``m_ja = sum_i w_i z_ij z_ia^3`` or
       ``sum_i w_i z_ij^3 z_ia`` (the larger in magnitude), with the anchor of largest ``|m_ja|``:
       ``s_j = sign(m_ja) s_a`` if ``|m_ja| >= tau``. Anchors are the skew-fixed columns; failing
       those, also the first column still free (the *root*, whose own sign comes from rule 2).
       A centrally symmetric cloud has no odd moments at all; this keeps its relative signs;
    2. the largest entry (:func:`largest_entry_signs`);
    3. then, in column order, each column left to rule 2 other than the root is fixed, if it can
       be, by a triple product ``t_jab = sum_i w_i z_ij z_ia z_ib`` with two other columns whose
       signs are settled (not ones still waiting for this rule): the pair of largest ``|t_jab|``,
       ``s_j = sign(t_jab) s_a s_b`` if ``|t_jab| >= tau``. A cloud whose symmetries are the three
       half-turns about its principal axes (D2) has no single or pairwise odd moment, and without
       this rule the largest entries of two relabelings could pick mirror images.

    ``rule="max"`` uses rule 2 only (scikit-learn's ``svd_flip`` convention). Rules 0, 1 and 3 are
    functions of the cloud, hence invariant to rotations, reflections, translations and
    permutations; rule 2 is too unless its largest entry is tied, when the lowest index wins.
    Rule 2 keeps a sign only when no moment decides, which for an exactly symmetric cloud in up to
    3 dimensions is a sign the symmetry leaves open (any choice gives the same set of
    coordinates); in 4 or more dimensions a symmetry whose only odd invariants involve four or more
    columns is not resolved. Since rotations change the statistics by rounding only
    (``<< tau``), decisions are stable. No derivative flows through the signs.

    Args:
      p: ``[..., n, k]`` centred principal coordinates, columns by descending variance, rows not
        kept 0.
      weights: ``[..., n]`` summing to 1 over ``keep`` (0 elsewhere).
      keep: ``[..., n]`` bool.
      rule: ``"skew"`` or ``"max"``.

    Returns:
      ``(signs, source)``: ``[..., k]`` in ``p.dtype`` and ``[..., k]`` int32 (0 skewness, 1 fourth
      moment, 2 largest entry, 4 triple product).

    Raises:
      Nothing: inputs are not validated (internal; :func:`mds_coords` and friends validate).
    """
    p = jax.lax.stop_gradient(p)
    k = p.shape[-1]
    eps = float(jnp.finfo(p.dtype).eps)
    tau = tie = eps**0.5
    largest = largest_entry_signs(p, keep, tie)
    if rule == "max":
        return largest, jnp.full(largest.shape, LARGEST, jnp.int32)
    var = jnp.einsum("...n,...nk->...k", weights, p * p, precision=HIGHEST)
    sigma = jnp.sqrt(jnp.maximum(var, 0.0))
    live = sigma > tie * jnp.max(sigma, axis=-1, keepdims=True)
    z = jnp.where(live[..., None, :], p / jnp.where(live, sigma, 1.0)[..., None, :], 0.0)
    ones = jnp.ones(z.shape[:-1] + (1,), z.dtype)
    moments = jnp.einsum("...n,...ni,...na->...ia", weights, jnp.concatenate([ones, z], -1), z**3, precision=HIGHEST)
    skew, m1 = moments[..., 0, :], moments[..., 1:, :]  # sum_i w_i z_ia^3 and sum_i w_i z_ij z_ia^3
    m2 = jnp.swapaxes(m1, -1, -2)  # sum_i w_i z_ij^3 z_ia
    pair = jnp.where(jnp.abs(m1) >= jnp.abs(m2), m1, m2)  # [..., j, a]
    by_skew = live & (jnp.abs(skew) >= tau)
    signs = jnp.where(by_skew, jnp.where(skew < 0, -1.0, 1.0), 0.0).astype(p.dtype)
    off_diagonal = ~jnp.eye(k, dtype=bool)

    def anchored(anchor, anchor_signs):
        """Per column j: the sign implied by the anchor a with the largest |pair[j, a]|, i.e. the sign of
        the largest-magnitude entry of pair[j, a] s_a, and whether that magnitude reaches tau."""
        implied = jnp.where(anchor[..., None, :] & off_diagonal, pair * anchor_signs[..., None, :], 0.0)
        high, low = jnp.max(implied, axis=-1), -jnp.min(implied, axis=-1)
        return jnp.where(high >= low, 1.0, -1.0).astype(p.dtype), jnp.maximum(high, low) >= tau

    # stage 1: columns anchored to skew-fixed columns
    first_signs, first_ok = anchored(by_skew, signs)
    stage1 = live & ~by_skew & first_ok
    signs = jnp.where(stage1, first_signs, signs)
    fixed = by_skew | stage1
    # stage 2: the root (first live column still free) takes its largest-entry sign and joins the anchors
    free = live & ~fixed
    root = free & (jnp.cumsum(free, axis=-1) == 1)
    signs = jnp.where(root, largest, signs)
    second_signs, second_ok = anchored(fixed | root, signs)
    stage2 = free & ~root & second_ok
    signs = jnp.where(stage2 | ~(fixed | stage2), jnp.where(stage2, second_signs, largest), signs)
    source = jnp.where(by_skew, SKEW, jnp.where(stage1 | stage2, PAIR, LARGEST)).astype(jnp.int32)
    # stage 3: triple products, column by column, each against already settled columns
    waiting = live & (source == LARGEST) & ~root
    if k >= 3:
        triple = jnp.einsum("...n,...nj,...na,...nb->...jab", weights, z, z, z, precision=HIGHEST)
        upper = np.triu(np.ones((k, k), dtype=bool), 1)  # a < b: each pair once
        for j in range(k):
            settled = live & ~waiting
            usable = settled[..., :, None] & settled[..., None, :] & upper
            implied = jnp.where(usable, triple[..., j, :, :] * signs[..., :, None] * signs[..., None, :], 0.0)
            high = jnp.max(implied, axis=(-2, -1))
            low = -jnp.min(implied, axis=(-2, -1))
            decided = waiting[..., j] & (jnp.maximum(high, low) >= tau)
            signs = signs.at[..., j].set(jnp.where(decided, jnp.where(high >= low, 1.0, -1.0), signs[..., j]))
            source = source.at[..., j].set(jnp.where(decided, TRIPLE, source[..., j]))
            waiting = waiting.at[..., j].set(False)
    return signs, source
