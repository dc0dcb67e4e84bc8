"""An E(3)-equivariant dynamics model: positions, velocities and charges now -> positions later."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from geojax.nn.gaunt_conv import AttributeProduct, Interaction, Product, check_product, edge_harmonics
from geojax.nn.graph import check_points, dense_pairs
from geojax.nn.radial import cutoff_envelope, radial_basis
from geojax.nn.spherical import SphericalLinear


class GauntDynamics(nnx.Module):
    """``x(T) = x + s v + delta``, ``delta`` the ``l = 1`` part of the last block's output.

    Node inputs: ``l = 0`` channels a linear map of ``(q, |v|)`` (``charge_node_features=False``:
    of ``|v|`` alone), ``l = 1`` channels ``w_c v``. Edge features: a Bessel basis of
    ``r = |x_j - x_i|`` and ``q_i q_j u(r / cutoff)``, all with the smooth envelope ``u`` of
    :func:`~geojax.nn.radial.cutoff_envelope`, so the bias-free radial MLP gives zero weights at
    the cutoff and the prediction is continuous (with two continuous derivatives) when a pair
    crosses it.
    Equivariant to rotations, reflections and translations of positions (with velocities rotated
    and reflected alike) and to permutations of particles. With ``charge_node_features=False``
    charges enter only through ``q_i q_j``, so the model is also invariant to flipping the sign of
    every charge, as Coulomb dynamics is. With ``charge_radial=True`` the edge features also hold
    ``q_i q_j`` times every basis function, so a radial weight can be ``q_i q_j f(r)`` (the form of
    the Coulomb force) without the radial MLP having to build the product. With
    ``velocity_attributes=True`` every block is preceded by ``h += W (h (x) Y(v / |v|))``
    (:class:`AttributeProduct`): SEGNN-style steerable node attributes, so each layer is conditioned
    on the direction of motion, not only the first (the product follows ``product``).
    ``correlation`` and ``distinct_factors`` configure each block's many-body products
    (:class:`~geojax.nn.gaunt_conv.ManyBody`); ``path_rank`` as in
    :class:`~geojax.nn.potential.GauntPotential`.

    With ``position_updates=True`` the model is a learned integrator (EGNN-style coordinate
    updates): block ``k`` sees the geometry of the running estimate ``x_k`` (``x_0`` the input
    positions) and moves it, ``x_{k+1} = x_k + (s / K) v + delta_k`` with ``delta_k`` the ``l = 1``
    part of a per-block linear read-out; edges, harmonics and radial features are recomputed from
    ``x_k`` in every block, and ``x_K`` is the prediction. The updates are equivariant vectors, so the
    symmetries above still hold.

    Raises ``ValueError`` at trace time when positions/velocities are not ``[..., n, 3]`` of one
    shape or charges not ``[..., n]``.
    """

    def __init__(self, *, channels: int = 16, lmax: int = 2, layers: int = 3, correlation: int = 1, distinct_factors: bool = False, num_radial: int = 8, cutoff: float = 20.0, avg_neighbours: float = 4.0, product: Product = "gaunt", method: str = "auto", path_rank: int = 1, charge_node_features: bool = True, charge_radial: bool = False, velocity_attributes: bool = False, position_updates: bool = False, rngs: nnx.Rngs):
        check_product(product)
        if lmax < 1:
            raise ValueError(f"GauntDynamics needs lmax >= 1 to carry velocities, got {lmax}")
        self.lmax, self.channels, self.cutoff, self.num_radial = lmax, channels, cutoff, num_radial
        self.charge_node_features, self.charge_radial = charge_node_features, charge_radial
        self.scalar_in = nnx.Linear(2 if charge_node_features else 1, channels, rngs=rngs)
        self.vector_in = nnx.Param(jax.random.normal(rngs.params(), (channels,)))
        self.blocks = nnx.List([
            Interaction(channels, lmax, (2 if charge_radial else 1) * num_radial + 1, correlation=correlation, distinct_factors=distinct_factors, avg_neighbours=avg_neighbours, product=product, method=method, path_rank=path_rank, rngs=rngs)
            for _ in range(layers)
        ])
        self.attributes = nnx.List([AttributeProduct(channels, lmax, lmax, product=product, method=method, rngs=rngs) for _ in range(layers)]) if velocity_attributes else None
        self.position_updates = position_updates
        if position_updates:  # one read-out per block
            self.out = nnx.List([SphericalLinear(channels, 1, lmax, rngs=rngs) for _ in range(layers)])
        else:
            self.out = SphericalLinear(channels, 1, lmax, rngs=rngs)
        self.velocity_scale = nnx.Param(jnp.ones(()))

    def __call__(self, positions: jnp.ndarray, velocities: jnp.ndarray, charges: jnp.ndarray) -> jnp.ndarray:
        """``[..., n, 3], [..., n, 3], [..., n] -> [..., n, 3]`` predicted positions."""
        check_points(positions)
        if velocities.shape != positions.shape:
            raise ValueError(f"velocities: expected the shape of positions {positions.shape}, got {velocities.shape}")
        if charges.shape != positions.shape[:-1]:
            raise ValueError(f"charges: expected shape {positions.shape[:-1]}, got {charges.shape}")
        dtype = positions.dtype
        charge_products = charges[..., :, None] * charges[..., None, :]
        h = self._node_features(velocities, charges)
        attribute = edge_harmonics(velocities, self.lmax) if self.attributes is not None else None
        step = self.velocity_scale[...].astype(dtype) * velocities
        x = positions
        geometry = self._edges(x, charge_products)
        for k, block in enumerate(self.blocks):
            if attribute is not None:
                h = h + self.attributes[k](h, attribute)
            h = block(h, *geometry)
            if self.position_updates:
                x = x + step / len(self.blocks) + self.out[k](h)[..., 0, 1:4]
                if k + 1 < len(self.blocks):
                    geometry = self._edges(x, charge_products)
        if self.position_updates:
            return x
        return positions + step + self.out(h)[..., 0, 1:4]

    def _node_features(self, velocities: jnp.ndarray, charges: jnp.ndarray) -> jnp.ndarray:
        """``[..., n, C, (L+1)**2]``: scalars from ``(q, |v|)`` (or ``|v|``), vectors ``w_c v``."""
        dtype = velocities.dtype
        speed = jnp.linalg.norm(velocities, axis=-1)
        node_inputs = [charges, speed] if self.charge_node_features else [speed]
        scalars = self.scalar_in(jnp.stack(node_inputs, axis=-1).astype(dtype))  # [..., n, C]
        h = jnp.zeros(scalars.shape + ((self.lmax + 1) ** 2,), dtype)
        return h.at[..., 0].set(scalars).at[..., 1:4].set(self.vector_in[...].astype(dtype)[:, None] * velocities[..., None, :])

    def _edges(self, positions: jnp.ndarray, charge_products: jnp.ndarray):
        """``(sh, edge_features, pair_mask)`` of all pairs within the cutoff of ``positions``."""
        rel, dist, pair_mask = dense_pairs(positions, cutoff=self.cutoff)
        basis = radial_basis(dist, self.num_radial, self.cutoff)
        enveloped_charges = charge_products * cutoff_envelope(dist, self.cutoff)  # vanishes at the cutoff like the basis
        parts = [basis, enveloped_charges[..., None]] + ([charge_products[..., None] * basis] if self.charge_radial else [])
        return edge_harmonics(rel, self.lmax), jnp.concatenate(parts, axis=-1), pair_mask
