"""An E(3)-invariant interatomic potential on Gaunt (or CG) interaction blocks; forces by autodiff."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from geojax.nn.gaunt_conv import Interaction, Product, check_product, edge_harmonics
from geojax.nn.graph import dense_pairs
from geojax.nn.linear import MLP
from geojax.nn.radial import radial_basis


class GauntPotential(nnx.Module):
    """``E = sum_i sum_t MLP_t(h_i^t[l=0])``: atomic energies read from the scalars after every block.

    Atoms start as a species embedding in the ``l = 0`` part of ``channels`` spherical channels of
    degree ``lmax``; ``layers`` :class:`~geojax.nn.gaunt_conv.Interaction` blocks over the pairs within
    ``cutoff`` (Bessel basis with a smooth envelope) follow; ``distinct_factors`` gives each extra
    factor of the many-body products its own channel mixing (:class:`~geojax.nn.gaunt_conv.ManyBody`);
    ``path_rank > 1`` learns rank-``K`` path weights for every Gaunt product
    (:class:`~geojax.nn.gaunt_conv.PathFactors`; needs ``correlation <= 2``).
    ``product`` swaps every Gaunt product for e3nn-jax's CG product (everything else equal). The energy is invariant under rotations,
    translations, inversion and permutations of atoms; forces ``F = -dE/dx`` are equivariant.

    Bad input: positions not ``[..., n, 3]``, species or ``atom_mask`` not ``[..., n]`` raise
    ``ValueError`` at trace time. Documented outputs: a NaN or inf position of a real atom makes
    every atomic energy of its configuration NaN; coincident atoms
    do not interact (their direction is undefined) and atoms without neighbours keep their embedding;
    ``n = 0`` atoms give zero energy; padding atoms (``atom_mask`` False) contribute nothing.
    """

    def __init__(self, *, num_species: int, channels: int = 16, lmax: int = 2, layers: int = 2, correlation: int = 2, distinct_factors: bool = False, num_radial: int = 8, cutoff: float = 5.0, avg_neighbours: float = 10.0, product: Product = "gaunt", method: str = "auto", path_rank: int = 1, rngs: nnx.Rngs):
        check_product(product)
        self.lmax, self.channels, self.cutoff, self.num_radial = lmax, channels, cutoff, num_radial
        self.num_species = num_species
        self.embed = nnx.Embed(num_species, channels, rngs=rngs)
        self.blocks = nnx.List([
            Interaction(channels, lmax, num_radial, correlation=correlation, distinct_factors=distinct_factors, avg_neighbours=avg_neighbours, product=product, method=method, path_rank=path_rank, rngs=rngs)
            for _ in range(layers)
        ])
        self.readouts = nnx.List([MLP((channels, 16, 1), rngs=rngs) for _ in range(layers)])

    def atomic_energies(self, positions: jnp.ndarray, species: jnp.ndarray, atom_mask: jnp.ndarray | None = None) -> jnp.ndarray:
        """``[..., n, 3], [..., n] int, [..., n] -> [..., n]`` per-atom energies (zero on padding)."""
        if species.shape != positions.shape[:-1]:
            raise ValueError(f"species: expected shape {positions.shape[:-1]} (one per atom), got {species.shape}")
        rel, dist, pair_mask = dense_pairs(positions, atom_mask, self.cutoff)
        mask = jnp.ones(species.shape, bool) if atom_mask is None else atom_mask.astype(bool)
        sh = edge_harmonics(rel, self.lmax)
        edge_features = radial_basis(dist, self.num_radial, self.cutoff)
        embedding = self.embed(jnp.where(mask, species, 0)).astype(positions.dtype)
        h = jnp.zeros(embedding.shape + ((self.lmax + 1) ** 2,), positions.dtype).at[..., 0].set(embedding)
        energy = jnp.zeros(species.shape, positions.dtype)
        for block, readout in zip(self.blocks, self.readouts):
            h = block(h, sh, edge_features, pair_mask)
            energy = energy + readout(h[..., 0])[..., 0]
        # a non-finite real atom would silently lose its neighbours (comparisons with NaN are False)
        finite = jnp.all(jnp.isfinite(positions) | ~mask[..., None], axis=(-2, -1), keepdims=True)[..., 0]
        return jnp.where(mask, jnp.where(finite, energy, jnp.nan), 0.0)

    def energy(self, positions: jnp.ndarray, species: jnp.ndarray, atom_mask: jnp.ndarray | None = None) -> jnp.ndarray:
        """Total energy ``[...]`` of each configuration."""
        return jnp.sum(self.atomic_energies(positions, species, atom_mask), axis=-1)

    def energy_and_forces(self, positions: jnp.ndarray, species: jnp.ndarray, atom_mask: jnp.ndarray | None = None) -> tuple[jnp.ndarray, jnp.ndarray]:
        """``(E [...], F [..., n, 3])`` with ``F = -dE/dpositions``."""
        def total(p):
            energy = self.energy(p, species, atom_mask)
            return jnp.sum(energy), energy

        grad, energy = jax.grad(total, has_aux=True)(positions)
        return energy, -grad
