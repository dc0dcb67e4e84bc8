"""Gaunt convolutions and many-body products over dense graphs, each with a Clebsch-Gordan twin.

Features are spherical channels ``h[..., n, C, (L+1)**2]`` (:mod:`geojax.nn.spherical`). A message
from ``j`` to ``i`` is the channel-wise product of ``h_j`` with an edge filter
``F_ij,c = sum_l R_cl(e_ij) Y_l(r_ij)`` (learned radial weights per channel and degree times the
spherical harmonics of the edge). The Gaunt version moves every factor to a product grid once
(nodes once per node, the harmonics once per edge and degree, shared by all channels), multiplies
and sums over neighbours there, and projects once per node. The CG version computes each edge's
product with e3nn-jax (:func:`geojax.tp.cg_product`) with one learned weight per path, initialised
to the Gaunt values, so the two models are equal at initialisation and differ only in the product.

Signals are scaled so the constant function is the identity of the product: edge harmonics use
e3nn's ``"component"`` normalization (``Y_0 = 1``), and the ``k``-th power carries
``(4 pi)^((k - 1) / 2)``.
"""

from __future__ import annotations

import math
from typing import Literal

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from geojax.nn.linear import MLP
from geojax.nn.spherical import Gate, SphericalLinear, check_spherical, degree_index
from geojax.so3.irreps import lmax_from_dim
from geojax.tp.cg import cg_product, check_path_factors, gaunt_path_weights
from geojax.tp.gaunt import gaunt_tensor_product
from geojax.tp.grid import product_grid

Product = Literal["gaunt", "cg"]
PRODUCTS = ("gaunt", "cg")
UNIT = math.sqrt(4 * math.pi)  # x_00 = UNIT is the constant function 1


def edge_harmonics(rel: jnp.ndarray, lmax: int) -> jnp.ndarray:
    """``[..., 3] -> [..., (lmax+1)**2]``: ``Y(r / |r|)`` in the convention of this module (``Y_0 = 1``)."""
    return e3nn.spherical_harmonics(e3nn.s2_irreps(lmax), rel, normalize=True, normalization="component").array


def _check_pairs(h, sh, radial, pair_mask) -> tuple[int, int]:
    lh = check_spherical(h, "h")
    ly = lmax_from_dim(sh.shape[-1], "sh")
    n, channels = h.shape[-3], h.shape[-2]
    if sh.shape[-3:-1] != (n, n):
        raise ValueError(f"sh: expected [..., {n}, {n}, (L+1)**2] for {n} nodes, got {sh.shape}")
    if radial.shape[-4:] != (n, n, channels, ly + 1):
        raise ValueError(f"radial: expected [..., {n}, {n}, {channels}, {ly + 1}] (pairs, channels, degrees of sh), got {radial.shape}")
    if pair_mask.shape[-2:] != (n, n):
        raise ValueError(f"pair_mask: expected [..., {n}, {n}], got {pair_mask.shape}")
    return lh, ly


def gaunt_aggregate(h: jnp.ndarray, sh: jnp.ndarray, radial: jnp.ndarray, pair_mask: jnp.ndarray, *, lmax_out: int, method: str = "auto",
                    path_factors: tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray] | None = None) -> jnp.ndarray:
    """``out_i,c = sum_j mask_ij Gaunt(h_j,c, sum_l R_ij,c,l sh_ij,l)`` truncated at ``lmax_out``.

    Args:
      h: ``[..., n, C, (Lh+1)**2]`` node features; sh: ``[..., n, n, (Ly+1)**2]`` edge harmonics
        (``[i, j]`` for the edge ``j -> i``); radial: ``[..., n, n, C, Ly+1]`` weights per edge,
        channel and degree; pair_mask: ``[..., n, n]``.
      lmax_out: output degree; method: ``"auto"``, ``"s2grid"`` or ``"fourier"``.
      path_factors: optional ``(u [K, Lh+1], v [K, Ly+1], w [K, lmax_out+1])``: the product becomes
        the rank-``K`` sum ``sum_k w_k o Gaunt(u_k o h_j, v_k o F_ij)`` (``o`` scales each degree),
        the CG product with path weights :func:`geojax.tp.separable_path_weights`; ``None`` is ``K = 1``
        with unit factors.

    Returns:
      ``[..., n, C, (lmax_out+1)**2]``. Cost: ``O(K E C G)`` pointwise work on grids of ``G`` points
      plus ``O(K n C)`` and ``O(E (Ly+1))`` transforms, instead of one tensor product per edge and channel.

    Raises:
      ValueError: inconsistent shapes (naming the argument), an unknown method.
    """
    lh, ly = _check_pairs(h, sh, radial, pair_mask)
    grid = product_grid((lh, ly), lmax_out, method)
    split = np.eye(ly + 1)[:, degree_index(ly)]  # [Ly+1, (Ly+1)^2]: the degree-l part of sh
    sh_values = grid.values(sh[..., None, :] * jnp.asarray(split, sh.dtype), ly)  # [*G, ..., n, n, Ly+1] (grid-major)
    weights = radial * pair_mask[..., None, None].astype(radial.dtype)
    if path_factors is None:
        h_values = grid.values(h, lh)  # [*G, ..., n, C]
        summed = jnp.einsum("...ijcl,xy...ijl,xy...jc->xy...ic", weights, sh_values, h_values)
        return grid.project(summed)
    u, v, w = check_path_factors(tuple(map(jnp.asarray, path_factors)), (lh, ly, lmax_out))
    # the K terms as K * C channels of the plain aggregation (an ad hoc benchmark: 1.4x faster than a K axis in the einsum)
    rank, channels = u.shape[0], h.shape[-2]
    h_terms = _degree_scaled_terms(h, u, lh).reshape(h.shape[:-2] + (rank * channels, h.shape[-1]))
    weight_terms = (weights[..., None, :, :] * v[:, None, :].astype(weights.dtype)).reshape(weights.shape[:-2] + (rank * channels, ly + 1))
    summed = jnp.einsum("...ijcl,xy...ijl,xy...jc->xy...ic", weight_terms, sh_values, grid.values(h_terms, lh))
    terms = grid.project(summed).reshape(h.shape[:-2] + (rank, channels, (lmax_out + 1) ** 2))
    return _sum_degree_scaled_terms(terms, w, lmax_out)


def _degree_scaled_terms(x: jnp.ndarray, factors: jnp.ndarray, lmax: int) -> jnp.ndarray:
    """``x [..., C, (lmax+1)**2] -> [..., K, C, (lmax+1)**2]``: the terms ``factors_k o x``.

    ``factors [K, lmax+1]`` scale each degree (``o``); with :func:`_sum_degree_scaled_terms` this is
    how a rank-``K`` path weight acts on both sides of a product.
    """
    per_coefficient = factors[:, degree_index(lmax)].astype(x.dtype)  # [K, (lmax+1)^2]
    return x[..., None, :, :] * per_coefficient[:, None, :]


def _sum_degree_scaled_terms(terms: jnp.ndarray, factors: jnp.ndarray, lmax: int) -> jnp.ndarray:
    """``terms [..., K, C, (lmax+1)**2] -> [..., C, (lmax+1)**2]``: ``sum_k factors_k o terms_k``."""
    return jnp.einsum("...kcd,kd->...cd", terms, factors[:, degree_index(lmax)].astype(terms.dtype))


def cg_aggregate(h: jnp.ndarray, sh: jnp.ndarray, radial: jnp.ndarray, pair_mask: jnp.ndarray, path_weights: jnp.ndarray, *,
                 lmax_out: int) -> jnp.ndarray:
    """The CG twin of :func:`gaunt_aggregate`: one e3nn-jax tensor product per edge and channel.

    ``path_weights [P]`` weight the paths of :func:`geojax.tp.gaunt_paths` ``(Lh, Ly, lmax_out)``;
    with :func:`geojax.tp.gaunt_path_weights` the result equals :func:`gaunt_aggregate`.
    """
    lh, ly = _check_pairs(h, sh, radial, pair_mask)
    filters = radial[..., degree_index(ly)] * sh[..., None, :]  # [..., n, n, C, (Ly+1)^2]
    senders = jnp.broadcast_to(h[..., None, :, :, :], filters.shape[:-1] + h.shape[-1:])
    messages = cg_product(senders, lh, filters, ly, lmax_out, path_weights)
    return jnp.sum(messages * pair_mask[..., None, None].astype(messages.dtype), axis=-3)


def gaunt_powers(a: jnp.ndarray, nu: int, *, method: str = "auto") -> list[jnp.ndarray]:
    """``[a, a^2, ..., a^nu]`` channel-wise, each truncated at the degree of ``a``, scaled by ``UNIT^(k-1)``.

    One transform to the grid exact for ``a^nu`` (it is also exact for every lower power), pointwise
    powers, one projection per power: no intermediate truncation. :func:`gaunt_chain` with every
    factor equal to ``a``.
    """
    return gaunt_chain(a, [a] * (nu - 1), method=method)


def gaunt_chain(a: jnp.ndarray, factors: list[jnp.ndarray], *, method: str = "auto",
                path_factors: tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray] | None = None) -> list[jnp.ndarray]:
    """``[p_1, ..., p_nu]`` with ``p_1 = a`` and ``p_k = UNIT^(k-1) a b_2 ... b_k`` (pointwise on S^2).

    Args:
      a: ``[..., C, (L+1)**2]``; factors: ``nu - 1`` arrays ``b_2 .. b_nu`` of the same shape.
      method: ``"auto"``, ``"s2grid"`` or ``"fourier"``.
      path_factors: optional ``(u, v, w)``, each ``[K, L+1]``, for ``nu = 2`` only:
        ``p_2 = UNIT sum_k w_k o Gaunt(u_k o a, v_k o b_2)``, the CG product with path weights
        :func:`geojax.tp.separable_path_weights` (as in :func:`gaunt_aggregate`).

    Returns:
      ``nu`` arrays of ``a``'s shape, each product truncated at ``L`` once, at the end (the grid is
      exact for the ``nu``-fold product, so no intermediate degree is lost). A factor that *is*
      ``a`` reuses ``a``'s transform.

    Raises:
      ValueError: ``a`` is not spherical channels, a factor's shape differs from ``a``'s, or
        ``path_factors`` with ``nu != 2`` or of the wrong shapes.
    """
    lmax = _check_factors(a, factors)
    if not factors:
        return [a]
    grid = product_grid((lmax,) * (len(factors) + 1), lmax, method)
    if path_factors is not None:
        if len(factors) != 1:
            raise ValueError(f"path_factors: supported for one product (nu = 2), got nu = {len(factors) + 1}")
        u, v, w = check_path_factors(tuple(map(jnp.asarray, path_factors)), (lmax,) * 3)
        product = grid.values(_degree_scaled_terms(a, u, lmax), lmax) * grid.values(_degree_scaled_terms(factors[0], v, lmax), lmax)
        return [a, UNIT * _sum_degree_scaled_terms(grid.project(product), w, lmax)]
    a_values = grid.values(a, lmax)
    powers, current = [a], a_values
    for k, b in enumerate(factors, start=2):
        current = current * (a_values if b is a else grid.values(b, lmax))
        powers.append(UNIT ** (k - 1) * grid.project(current))
    return powers


def cg_powers(a: jnp.ndarray, path_weights: list[jnp.ndarray]) -> list[jnp.ndarray]:
    """The CG twin of :func:`gaunt_powers`: ``a^k = CG(a^(k-1), a)`` with exact intermediate degrees.

    ``path_weights[k - 2]`` weights the paths ``((k-1) L, L) -> (k L if k < nu else L)``.
    """
    return cg_chain(a, [a] * len(path_weights), path_weights)


def cg_chain(a: jnp.ndarray, factors: list[jnp.ndarray], path_weights: list[jnp.ndarray]) -> list[jnp.ndarray]:
    """The CG twin of :func:`gaunt_chain`: ``p_k = UNIT CG(p_(k-1), b_k)`` with exact intermediate degrees.

    ``path_weights[k - 2]`` weights the paths ``((k-1) L, L) -> (k L if k < nu else L)``; with
    :func:`geojax.tp.gaunt_path_weights` of those paths the result equals :func:`gaunt_chain`.

    Raises:
      ValueError: as :func:`gaunt_chain`, or ``len(path_weights) != len(factors)``.
    """
    lmax = _check_factors(a, factors)
    if len(path_weights) != len(factors):
        raise ValueError(f"path_weights: expected one array per factor ({len(factors)}), got {len(path_weights)}")
    powers, current = [a], a
    for b, weights, (degree, _, out_degree) in zip(factors, path_weights, _cg_power_paths(lmax, len(factors) + 1)):
        current = UNIT * cg_product(current, degree, b, lmax, out_degree, weights)
        powers.append(current[..., : (lmax + 1) ** 2])
    return powers


def _check_factors(a: jnp.ndarray, factors: list[jnp.ndarray]) -> int:
    lmax = check_spherical(a, "a")
    for k, b in enumerate(factors, start=2):
        if b.shape != a.shape:
            raise ValueError(f"factors[{k - 2}] (b_{k}): expected the shape of a {a.shape}, got {b.shape}")
    return lmax


def _cg_power_paths(lmax: int, nu: int) -> list[tuple[int, int, int]]:
    return [((k - 1) * lmax, lmax, lmax if k == nu else k * lmax) for k in range(2, nu + 1)]


def check_product(product: str) -> None:
    if product not in PRODUCTS:
        raise ValueError(f"product must be one of {PRODUCTS}, got {product!r}")


def check_path_rank(path_rank) -> None:
    if isinstance(path_rank, bool) or not isinstance(path_rank, (int, np.integer)) or path_rank < 1:
        raise ValueError(f"path_rank must be an int >= 1, got {path_rank!r}")


class PathFactors(nnx.Module):
    """Learned rank-``K`` path weights of one Gaunt product: ``(u [K, l1+1], v [K, l2+1], w [K, l3+1])``.

    The product ``sum_k w_k o Gaunt(u_k o x, v_k o y)`` has the CG path weights
    ``r(l1, l2, l3) sum_k u_k[l1] v_k[l2] w_k[l3]`` (:func:`geojax.tp.separable_path_weights`), so
    ``K`` terms give the Gaunt model part or all of the per-path freedom of its CG twin at ``K``
    times the pointwise cost. Initialisation: the first term is all ones (the Gaunt product), the
    others have ``u, v ~ N(0, 1)`` and ``w = 0`` (as LoRA starts), so the product starts as the
    plain Gaunt product, the extra ``w`` get a gradient at once and their ``u, v`` once ``w != 0``.
    """

    def __init__(self, rank: int, degrees: tuple[int, int, int], *, rngs: nnx.Rngs):
        check_path_rank(rank)
        l1, l2, l3 = degrees
        extra = rank - 1
        self.u = nnx.Param(jnp.concatenate([jnp.ones((1, l1 + 1)), jax.random.normal(rngs.params(), (extra, l1 + 1))]))
        self.v = nnx.Param(jnp.concatenate([jnp.ones((1, l2 + 1)), jax.random.normal(rngs.params(), (extra, l2 + 1))]))
        self.w = nnx.Param(jnp.concatenate([jnp.ones((1, l3 + 1)), jnp.zeros((extra, l3 + 1))]))

    def __call__(self) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
        return self.u[...], self.v[...], self.w[...]


def _path_factors(rank: int, degrees: tuple[int, int, int], product: str, rngs: nnx.Rngs) -> PathFactors | None:
    """Factors for a Gaunt product of rank > 1; none for rank 1 (the plain product) or the CG twin,
    whose learned per-path weights already hold every rank."""
    check_path_rank(rank)
    return PathFactors(rank, degrees, rngs=rngs) if product == "gaunt" and rank > 1 else None


class GauntConv(nnx.Module):
    """Messages ``sum_j h_j (x) F_ij`` with radial weights from an MLP of the edge features.

    ``product="gaunt"`` uses :func:`gaunt_aggregate`, ``"cg"`` :func:`cg_aggregate` with learned
    path weights (initialised to the Gaunt values). Degrees: node, edge and output all ``lmax``.
    ``path_rank > 1`` gives the Gaunt product learned rank-``K`` path weights (:class:`PathFactors`).
    The radial MLP has no biases, so zero edge features give zero weights: with the radial basis
    alone as edge features (:class:`GauntPotential`) every message vanishes smoothly, with two
    derivatives, when an atom crosses the cutoff (a bias would leave ``MLP(0) != 0`` just inside
    it and make the energy jump there once trained).
    """

    def __init__(self, channels: int, lmax: int, edge_features: int, *, radial_hidden: int = 64, product: Product = "gaunt", method: str = "auto", path_rank: int = 1, rngs: nnx.Rngs):
        check_product(product)
        self.channels, self.lmax, self.product, self.method = channels, lmax, product, method
        self.radial = MLP((edge_features, radial_hidden, channels * (lmax + 1)), use_bias=False, rngs=rngs)
        if product == "cg":
            self.path_weights = nnx.Param(jnp.asarray(gaunt_path_weights(lmax, lmax, lmax), float))
        self.path_factors = _path_factors(path_rank, (lmax, lmax, lmax), product, rngs)

    def __call__(self, h: jnp.ndarray, sh: jnp.ndarray, edge_features: jnp.ndarray, pair_mask: jnp.ndarray) -> jnp.ndarray:
        radial = self.radial(edge_features).reshape(edge_features.shape[:-1] + (self.channels, self.lmax + 1))
        if self.product == "gaunt":
            factors = None if self.path_factors is None else self.path_factors()
            return gaunt_aggregate(h, sh, radial, pair_mask, lmax_out=self.lmax, method=self.method, path_factors=factors)
        return cg_aggregate(h, sh, radial, pair_mask, self.path_weights[...].astype(h.dtype), lmax_out=self.lmax)


class ManyBody(nnx.Module):
    """``B = sum_{k=1..nu} W_k p_k``: channel-wise products of the node basis, mixed per degree (MACE-style).

    ``p_k = a^k`` (``distinct_factors=False``) or ``p_k = a (V_2 a) ... (V_k a)`` with one learned
    per-degree channel mixing ``V_k`` per extra factor (``distinct_factors=True``), so the
    weight of a path ``(l1, l2)`` in the Gaunt product is a learned ``u_l1 v_l2`` instead of ``u_l1 u_l2``.
    The CG twin (``product="cg"``) applies the same mixings and learns one weight per path on top.
    ``path_rank > 1`` (``correlation <= 2`` only) gives the Gaunt product learned rank-``K`` path
    weights (:class:`PathFactors`).
    """

    def __init__(self, channels: int, lmax: int, correlation: int, *, distinct_factors: bool = False, product: Product = "gaunt", method: str = "auto", path_rank: int = 1, rngs: nnx.Rngs):
        check_product(product)
        if correlation < 1:
            raise ValueError(f"correlation must be >= 1, got {correlation}")
        check_path_rank(path_rank)
        if path_rank > 1 and correlation > 2:
            raise ValueError(f"path_rank > 1 needs correlation <= 2 (one product), got path_rank={path_rank}, correlation={correlation}")
        self.correlation, self.product, self.method = correlation, product, method
        self.linears = nnx.List([SphericalLinear(channels, channels, lmax, rngs=rngs) for _ in range(correlation)])
        self.factor_mixes = nnx.List([SphericalLinear(channels, channels, lmax, rngs=rngs) for _ in range(correlation - 1)] if distinct_factors else [])
        if product == "cg":
            weights = [gaunt_path_weights(*p) for p in _cg_power_paths(lmax, correlation)]
            self.path_weights = nnx.List([nnx.Param(jnp.asarray(w, float)) for w in weights])
        self.path_factors = _path_factors(path_rank, (lmax, lmax, lmax), product, rngs) if correlation == 2 else None

    def __call__(self, a: jnp.ndarray) -> jnp.ndarray:
        factors = [mix(a) for mix in self.factor_mixes] if len(self.factor_mixes) else [a] * (self.correlation - 1)
        if self.product == "gaunt":
            products = gaunt_chain(a, factors, method=self.method, path_factors=None if self.path_factors is None else self.path_factors())
        else:
            products = cg_chain(a, factors, [w[...].astype(a.dtype) for w in self.path_weights])
        return sum(linear(p) for linear, p in zip(self.linears, products))


class AttributeProduct(nnx.Module):
    """``W (UNIT * h (x) a)``: node features times a node attribute, channel-wise, mixed per degree.

    ``a`` (``[..., n, (La+1)**2]``, e.g. the harmonics of each particle's velocity) is shared by
    every channel: SEGNN-style steerable node attributes. ``product="gaunt"`` uses
    :func:`geojax.gaunt_tensor_product`; ``"cg"`` :func:`geojax.tp.cg_product` with one learned
    weight per path, initialised to the Gaunt values, so the twins are equal at initialisation.
    """

    def __init__(self, channels: int, lmax: int, attribute_lmax: int, *, product: Product = "gaunt", method: str = "auto", rngs: nnx.Rngs):
        check_product(product)
        self.lmax, self.attribute_lmax, self.product, self.method = lmax, attribute_lmax, product, method
        self.mix = SphericalLinear(channels, channels, lmax, rngs=rngs)
        if product == "cg":
            self.path_weights = nnx.Param(jnp.asarray(gaunt_path_weights(lmax, attribute_lmax, lmax), float))

    def __call__(self, h: jnp.ndarray, attribute: jnp.ndarray) -> jnp.ndarray:
        """``h [..., n, C, (L+1)**2], attribute [..., n, (La+1)**2] -> [..., n, C, (L+1)**2]``."""
        lh = check_spherical(h, "h")
        la = lmax_from_dim(attribute.shape[-1], "attribute")
        if (lh, la) != (self.lmax, self.attribute_lmax):
            raise ValueError(f"AttributeProduct({self.lmax}, {self.attribute_lmax}): got h of degree {lh} and attribute of degree {la}")
        a = attribute[..., None, :]
        if self.product == "gaunt":
            out = gaunt_tensor_product(h, a, lmax_out=self.lmax, method=self.method)
        else:
            out = cg_product(h, lh, a, la, self.lmax, self.path_weights[...].astype(h.dtype))
        return self.mix(UNIT * out)


class Interaction(nnx.Module):
    """One message-passing block: ``h' = Gate(ManyBody(Conv(W_in h) / avg_neighbours) + W_skip h)``."""

    def __init__(self, channels: int, lmax: int, edge_features: int, *, correlation: int = 2, distinct_factors: bool = False, avg_neighbours: float = 1.0, product: Product = "gaunt", method: str = "auto", path_rank: int = 1, rngs: nnx.Rngs):
        self.avg_neighbours = float(avg_neighbours)
        self.pre = SphericalLinear(channels, channels, lmax, rngs=rngs)
        self.conv = GauntConv(channels, lmax, edge_features, product=product, method=method, path_rank=path_rank, rngs=rngs)
        self.many_body = ManyBody(channels, lmax, correlation, distinct_factors=distinct_factors, product=product, method=method, path_rank=path_rank, rngs=rngs)
        self.skip = SphericalLinear(channels, channels, lmax, rngs=rngs)
        self.gate = Gate(channels, lmax, rngs=rngs)

    def __call__(self, h: jnp.ndarray, sh: jnp.ndarray, edge_features: jnp.ndarray, pair_mask: jnp.ndarray) -> jnp.ndarray:
        a = self.conv(self.pre(h), sh, edge_features, pair_mask) / self.avg_neighbours
        return self.gate(self.many_body(a) + self.skip(h))
