"""E(3) Gaunt layers and models: equivariance, Gaunt == CG twin at initialisation, forces, bad input."""

import functools

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from geojax.nn import GauntDynamics, GauntPotential
from geojax.nn.gaunt_conv import GauntConv, ManyBody, PathFactors, cg_aggregate, cg_chain, cg_powers, edge_harmonics, gaunt_aggregate, gaunt_chain, gaunt_powers
from geojax.nn.graph import dense_pairs
from geojax.nn.spherical import degree_index, gate_activation, norm_activation, spherical_linear
from geojax.tp import gaunt_path_weights, gaunt_paths, gaunt_tensor_product, separable_path_weights
from tests.conftest import jit_call, relative_error

L = 2

# jit: e3nn-jax op by op is slow; compiled, each call below takes milliseconds
energy_and_forces = nnx.jit(lambda model, pos, species: model.energy_and_forces(pos, species))
energy_of = nnx.jit(lambda model, pos, species, mask=None: model.energy(pos, species, mask))


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


@functools.partial(jax.jit, static_argnums=2)  # e3nn's Wigner matrices op by op are slow
def rotate_signals(h, R, lmax):
    """Act with O(3) element R on spherical channels [..., (lmax+1)**2] (irreps 0e+1o+2e...)."""
    D = e3nn.s2_irreps(lmax).D_from_matrix(R)
    return h @ D.T


def random_orthogonal(key, reflect):
    R = e3nn.rand_matrix(key, (), jnp.float64)
    return -R if reflect else R


def _perturb_parameters(model, seed):
    """Move every parameter away from its initial value, as training does."""
    leaves, tree = jax.tree.flatten(nnx.state(model, nnx.Param))
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    nnx.update(model, jax.tree.unflatten(tree, [p + 0.1 * jax.random.normal(k, p.shape, p.dtype) for p, k in zip(leaves, keys)]))


def test_spherical_linear_and_activations_are_equivariant(rng):
    h = jnp.asarray(rng.normal(size=(3, 4, (L + 1) ** 2)))
    R = random_orthogonal(jax.random.key(0), reflect=True)
    w = jnp.asarray(rng.normal(size=(L + 1, 4, 5)))
    gates = jnp.asarray(rng.normal(size=(3, 4, L)))
    bias = jnp.asarray(rng.normal(size=(4, L)))
    for f in (lambda x: spherical_linear(x, w), lambda x: gate_activation(x, gates), lambda x: norm_activation(x, bias)):
        f = jax.jit(f)
        assert relative_error(f(rotate_signals(h, R, L)), rotate_signals(f(h), R, L)) < 1e-12
    # a map that mixes degrees is not equivariant: the test can fail
    mix = lambda x: x @ jnp.asarray(rng.normal(size=(9, 9)))  # noqa: E731
    assert relative_error(mix(rotate_signals(h, R, L)), rotate_signals(mix(h), R, L)) > 1e-2
    assert not np.isnan(np.asarray(jax.grad(lambda x: norm_activation(x, bias).sum())(jnp.zeros_like(h)))).any()


def _graph(rng, batch=2, n=5):
    pos = jnp.asarray(rng.normal(size=(batch, n, 3)) * 1.2)
    rel, dist, mask = dense_pairs(pos, cutoff=3.0)
    sh = edge_harmonics(rel, L)
    return pos, sh, mask


# the aggregates jitted, as the models run them (op by op e3nn's CG products compile one by one)
_gaunt_aggregate = jax.jit(gaunt_aggregate, static_argnames=("lmax_out", "method"))
_cg_aggregate = jax.jit(cg_aggregate, static_argnames="lmax_out")


@pytest.mark.parametrize("method", ["fourier", "s2grid"])
def test_gaunt_aggregate_equals_edge_by_edge_products_and_the_cg_twin(rng, method):
    pos, sh, mask = _graph(rng)
    batch, n, channels = 2, 5, 3
    h = jnp.asarray(rng.normal(size=(batch, n, channels, (L + 1) ** 2)))
    radial = jnp.asarray(rng.normal(size=(batch, n, n, channels, L + 1)))
    out = _gaunt_aggregate(h, sh, radial, mask, lmax_out=L, method=method)
    filters = radial[..., degree_index(L)] * sh[..., None, :]
    ref = np.zeros(out.shape)
    for b in range(batch):
        for i in range(n):
            for j in range(n):
                if mask[b, i, j]:
                    ref[b, i] += np.asarray(gaunt_tensor_product(h[b, j], filters[b, i, j], lmax_out=L, method="dense"))
    assert np.asarray(mask).sum() > 10 and not np.asarray(mask).all()
    assert relative_error(out, ref) < 1e-12
    twin = _cg_aggregate(h, sh, radial, mask, jnp.asarray(gaunt_path_weights(L, L, L)), lmax_out=L)
    assert relative_error(twin, ref) < 1e-12


def _factors(rng, rank, *degrees):
    return tuple(jnp.asarray(rng.normal(size=(rank, d + 1))) for d in degrees)


def test_rank_k_gaunt_aggregate_equals_the_cg_twin_with_separable_path_weights(rng, method="s2grid"):
    # one method: the factors act before values() and after project(), which are tested for both
    pos, sh, mask = _graph(rng)
    batch, n, channels = 2, 5, 3
    h = jnp.asarray(rng.normal(size=(batch, n, channels, (L + 1) ** 2)))
    radial = jnp.asarray(rng.normal(size=(batch, n, n, channels, L + 1)))
    factors = _factors(rng, 3, L, L, L)
    out = _gaunt_aggregate(h, sh, radial, mask, lmax_out=L, method=method, path_factors=factors)
    weights = separable_path_weights(*factors, L, L, L)
    assert relative_error(out, _cg_aggregate(h, sh, radial, mask, weights, lmax_out=L)) < 1e-12
    # the sum of K scaled Gaunt products, term by term (independent of the vectorised path)
    scale = lambda f, k: f[k][degree_index(L)]  # noqa: E731
    terms = sum(scale(factors[2], k) * _gaunt_aggregate(h * scale(factors[0], k), sh, radial * factors[1][k], mask, lmax_out=L, method=method) for k in range(3))
    assert relative_error(out, terms) < 1e-12
    # unit factors of rank 1 are the plain product; other factors change it
    ones = tuple(jnp.ones((1, L + 1)) for _ in range(3))
    plain = _gaunt_aggregate(h, sh, radial, mask, lmax_out=L, method=method)
    assert relative_error(_gaunt_aggregate(h, sh, radial, mask, lmax_out=L, method=method, path_factors=ones), plain) < 1e-12
    assert relative_error(out, plain) > 1e-2
    with pytest.raises(ValueError, match="path factors w"):
        _gaunt_aggregate(h, sh, radial, mask, lmax_out=L, path_factors=factors[:2] + (jnp.ones((2, L + 1)),))


def test_separable_path_weights_formula_and_rank_two_fits_any_l2_weights(rng):
    u, v, w = _factors(rng, 2, 1, 2, 3)
    paths = gaunt_paths(1, 2, 3)
    expected = [gaunt_path_weights(1, 2, 3)[p] * sum(u[k, a] * v[k, b] * w[k, c] for k in range(2)) for p, (a, b, c) in enumerate(paths)]
    assert relative_error(separable_path_weights(u, v, w, 1, 2, 3), np.array(expected)) < 1e-14
    with pytest.raises(ValueError, match="v: expected"):
        separable_path_weights(u, v[:, :2], w, 1, 2, 3)
    # the claim of the docstring: rank 2 reaches any weights of the 11 paths at L = 2, rank 1 does not
    from scipy.optimize import least_squares

    target = rng.normal(size=len(gaunt_paths(L, L, L))) * gaunt_path_weights(L, L, L)

    def misfit(rank):
        def residual(z):
            f = z.reshape(3, rank, L + 1)
            return np.asarray(separable_path_weights(*f, L, L, L)) - target

        fits = (least_squares(residual, np.random.default_rng(s).normal(size=3 * rank * (L + 1))) for s in range(3))
        return min(2 * fit.cost for fit in fits) / np.sum(target**2)

    assert misfit(2) < 1e-12 and misfit(1) > 1e-3


def test_rank_k_many_body_product_equals_the_cg_chain(rng):
    a, b = (jnp.asarray(rng.normal(size=(4, 3, (L + 1) ** 2))) for _ in range(2))
    factors = _factors(rng, 2, L, L, L)
    gaunt = gaunt_chain(a, [b], method="s2grid", path_factors=factors)
    cg = cg_chain(a, [b], [separable_path_weights(*factors, L, L, L)])
    assert relative_error(gaunt[0], a) == 0 and relative_error(gaunt[1], cg[1]) < 1e-12
    with pytest.raises(ValueError, match="nu = 2"):
        gaunt_chain(a, [b, b], path_factors=factors)


@pytest.mark.parametrize("module", ["conv", "many_body"])
def test_path_factors_start_as_the_gaunt_product_and_learn(rng, module):
    a = jnp.asarray(rng.normal(size=(5, 4, (L + 1) ** 2)))
    if module == "conv":
        pos, sh, mask = _graph(rng, batch=1)
        h = jnp.asarray(rng.normal(size=(1, 5, 4, (L + 1) ** 2)))
        features = jnp.asarray(rng.normal(size=(1, 5, 5, 6)))
        make = lambda rank: GauntConv(4, L, 6, path_rank=rank, rngs=nnx.Rngs(1))  # noqa: E731
        call = lambda m: jit_call(m, h, sh, features, mask)  # noqa: E731
    else:
        make = lambda rank: ManyBody(4, L, 2, distinct_factors=True, path_rank=rank, rngs=nnx.Rngs(1))  # noqa: E731
        call = lambda m: jit_call(m, a)  # noqa: E731
    plain, ranked = make(1), make(3)
    assert plain.path_factors is None and isinstance(ranked.path_factors, PathFactors)
    # same function at initialisation: copy the shared parameters (the factors draw from the stream)
    shared = nnx.state(plain, nnx.Param)
    nnx.update(ranked, shared)
    assert relative_error(call(ranked), call(plain)) < 1e-12
    grad = nnx.jit(nnx.grad(lambda m: jnp.sum(call(m) ** 2)))
    grad_of = lambda name: np.asarray(getattr(grad(ranked).path_factors, name)[...])  # noqa: E731
    assert np.abs(grad_of("w")[1:]).min() > 0  # the extra terms' w = 0 moves at once...
    ranked.path_factors.w[...] = ranked.path_factors.w[...].at[1:].set(0.5)
    assert relative_error(call(ranked), call(plain)) > 1e-3
    for name in ("u", "v"):  # ...and then u, v do
        assert np.abs(grad_of(name)[1:]).min() > 0, name
    with pytest.raises(ValueError, match="path_rank"):
        make(0)


def test_path_rank_needs_one_many_body_product():
    with pytest.raises(ValueError, match="correlation <= 2"):
        ManyBody(4, L, 3, path_rank=2, rngs=nnx.Rngs(0))


def test_gaunt_powers_equal_cg_powers_with_exact_intermediates(rng):
    a = jnp.asarray(rng.normal(size=(4, 3, (L + 1) ** 2)))
    gaunt = gaunt_powers(a, 3, method="fourier")
    cg = cg_powers(a, [jnp.asarray(gaunt_path_weights(L, L, 2 * L)), jnp.asarray(gaunt_path_weights(2 * L, L, L))])
    for g, c in zip(gaunt, cg):
        assert relative_error(g, c) < 1e-12
    # the second power is sqrt(4 pi) times the Gaunt square
    assert relative_error(gaunt[1], np.sqrt(4 * np.pi) * gaunt_tensor_product(a, a, lmax_out=L)) < 1e-12


def test_gaunt_chain_of_distinct_factors_equals_products_and_the_cg_chain(rng):
    a, b, c = (jnp.asarray(rng.normal(size=(4, 3, (L + 1) ** 2))) for _ in range(3))
    gaunt = gaunt_chain(a, [b, c], method="s2grid")
    # reference: exact intermediate a b (degree 2L), one final truncation at L
    ab = gaunt_tensor_product(a, b, lmax_out=2 * L, method="dense")
    abc = gaunt_tensor_product(ab, c, lmax_out=L, method="dense")
    assert relative_error(gaunt[1], np.sqrt(4 * np.pi) * ab[..., : (L + 1) ** 2]) < 1e-12
    assert relative_error(gaunt[2], 4 * np.pi * abc) < 1e-12
    cg = cg_chain(a, [b, c], [jnp.asarray(gaunt_path_weights(L, L, 2 * L)), jnp.asarray(gaunt_path_weights(2 * L, L, L))])
    for g, t in zip(gaunt, cg):
        assert relative_error(g, t) < 1e-12
    # the order of the factors does not matter (pointwise products commute); a wrong product would
    assert relative_error(gaunt_chain(a, [c, b])[2], gaunt[2]) < 1e-12
    assert relative_error(gaunt_chain(b, [a, a])[2], gaunt[2]) > 1e-3
    with pytest.raises(ValueError, match=r"factors\[1\]"):
        gaunt_chain(a, [b, c[..., :1, :]])
    with pytest.raises(ValueError, match="path_weights"):
        cg_chain(a, [b, c], [jnp.ones(3)])


@pytest.mark.parametrize("product", ["gaunt", "cg"])
def test_many_body_with_distinct_factors_is_equivariant_and_differs_from_powers(rng, product):
    a = jnp.asarray(rng.normal(size=(5, 4, (L + 1) ** 2)))
    block = ManyBody(4, L, 3, distinct_factors=True, product=product, rngs=nnx.Rngs(3))
    powers = ManyBody(4, L, 3, product=product, rngs=nnx.Rngs(3))
    assert len(block.factor_mixes) == 2 and len(powers.factor_mixes) == 0
    out = block(a)
    for k, reflect in enumerate((False, True)):
        R = random_orthogonal(jax.random.key(20 + k), reflect)
        assert relative_error(block(rotate_signals(a, R, L)), rotate_signals(out, R, L)) < 1e-12
    assert relative_error(out, powers(a)) > 1e-3


def _molecule(rng, batch=2, n=7, species=3):
    pos = jnp.asarray(rng.normal(size=(batch, n, 3)) * 1.3)
    return pos, jnp.asarray(rng.integers(0, species, size=(batch, n)))


def _potential(product, dtype_seed=0, **kw):
    args = dict(num_species=3, channels=4, lmax=L, layers=2, correlation=3, cutoff=4.0, product=product)
    args.update(kw)
    return GauntPotential(**args, rngs=nnx.Rngs(dtype_seed))


@pytest.mark.parametrize("product,distinct_factors,path_rank", [("gaunt", False, 1), ("cg", False, 1), ("gaunt", True, 1), ("gaunt", True, 2)])
def test_potential_is_e3_invariant_and_forces_equivariant(rng, product, distinct_factors, path_rank):
    pos, species = _molecule(rng)
    model = _potential(product, distinct_factors=distinct_factors, path_rank=path_rank, correlation=2 if path_rank > 1 else 3)
    if path_rank > 1:  # the extra terms start at w = 0: switch them on, or they are not tested
        for block in model.blocks:
            for factors in (block.conv.path_factors, block.many_body.path_factors):
                factors.w[...] = factors.w[...].at[1:].set(0.7)
    energy, forces = energy_and_forces(model, pos, species)
    for k, reflect in enumerate((False, True)):
        R = random_orthogonal(jax.random.key(10 + k), reflect)
        t = jnp.asarray(rng.normal(size=3))
        e2, f2 = energy_and_forces(model, pos @ R.T + t, species)
        assert relative_error(e2, energy) < 1e-12
        assert relative_error(f2, forces @ R.T) < 1e-11
    perm = rng.permutation(pos.shape[1])
    e3, f3 = energy_and_forces(model, pos[:, perm], species[:, perm])
    assert relative_error(e3, energy) < 1e-12 and relative_error(f3, forces[:, perm]) < 1e-11
    # a model that sees raw coordinates would fail this check
    assert relative_error(energy_of(model, pos * 1.1, species), energy) > 1e-6


def test_forces_are_minus_the_finite_difference_gradient(rng):
    pos, species = _molecule(rng, batch=1)
    model = _potential("gaunt")
    _, forces = energy_and_forces(model, pos, species)
    eps = 1e-5
    for atom, axis in [(0, 0), (3, 1), (6, 2)]:
        step = jnp.zeros_like(pos).at[0, atom, axis].set(eps)
        fd = (energy_of(model, pos + step, species) - energy_of(model, pos - step, species)) / (2 * eps)
        assert abs(float(fd[0]) + float(forces[0, atom, axis])) < 1e-8 * max(1.0, abs(float(fd[0])))


@pytest.mark.parametrize("product", ["gaunt", "cg"])
def test_energy_is_continuous_when_an_atom_crosses_the_cutoff(product):
    """With every parameter moved away from its initial value (as training does), the energy of a
    dimer just inside the cutoff equals the energy just outside it (where the pair is masked)."""
    model = _potential(product)
    _perturb_parameters(model, 5)
    species = jnp.asarray([[0, 1]])
    pos = [jnp.asarray([[[0.0, 0.0, 0.0], [d, 0.3, 0.0]]]) for d in (np.sqrt(16.0 - 0.09) - 1e-7, np.sqrt(16.0 - 0.09) + 1e-7)]
    inside, outside = (float(energy_of(model, p, species)[0]) for p in pos)
    near = float(energy_of(model, pos[0] * 0.8, species)[0])
    assert abs(near - outside) > 1e-6  # the pair does interact inside the cutoff
    assert abs(inside - outside) < 1e-12


# the a^2 model (no longer the default) is the slowest test of the suite: kept under -m slow
@pytest.mark.parametrize("distinct_factors", [pytest.param(False, marks=pytest.mark.slow), True])
def test_gaunt_and_cg_twins_agree_at_initialisation_and_cg_path_weights_learn(rng, distinct_factors):
    pos, species = _molecule(rng)
    gaunt, cg = _potential("gaunt", distinct_factors=distinct_factors), _potential("cg", distinct_factors=distinct_factors)
    e_g, f_g = energy_and_forces(gaunt, pos, species)
    e_c, f_c = energy_and_forces(cg, pos, species)
    assert relative_error(e_c, e_g) < 1e-12 and relative_error(f_c, f_g) < 1e-11
    grads = nnx.jit(nnx.grad(lambda m: jnp.sum(m.energy(pos, species) ** 2)))(cg)
    path_grad = grads["blocks"][0]["conv"]["path_weights"][...]
    assert np.abs(np.asarray(path_grad)).max() > 0


def test_float32_matches_float64(rng):
    pos, species = _molecule(rng)
    model = _potential("gaunt")
    e64 = energy_of(model, pos, species)
    e32 = energy_of(model, pos.astype(jnp.float32), species)
    assert e32.dtype == jnp.float32
    assert relative_error(e32, e64) < 1e-5


def test_padding_isolated_coincident_and_empty(rng):
    pos, species = _molecule(rng, batch=1, n=5)
    model = _potential("gaunt")
    energy = energy_of(model, pos, species)
    padded_pos = jnp.concatenate([pos, jnp.full((1, 3, 3), 0.3)], axis=1)
    padded_species = jnp.concatenate([species, jnp.zeros((1, 3), int)], axis=1)
    mask = jnp.arange(8)[None] < 5
    assert relative_error(energy_of(model, padded_pos, padded_species, mask), energy) < 1e-12
    # an atom far away has no neighbours: its energy is that of a lone atom, finite
    far = jnp.concatenate([pos, jnp.full((1, 1, 3), 100.0)], axis=1)
    e_far = energy_of(model, far, jnp.concatenate([species, species[:, :1]], axis=1))
    lone = energy_of(model, jnp.zeros((1, 1, 3)), species[:, :1])
    assert relative_error(e_far, energy + lone) < 1e-12
    # coincident atoms do not interact; energy and forces stay finite
    twin = jnp.concatenate([pos, pos[:, :1]], axis=1)
    e_t, f_t = energy_and_forces(model, twin, jnp.concatenate([species, species[:, :1]], axis=1))
    assert np.isfinite(np.asarray(e_t)).all() and np.isfinite(np.asarray(f_t)).all()
    empty = energy_of(model, jnp.zeros((2, 0, 3)), jnp.zeros((2, 0), int))
    assert empty.shape == (2,) and np.all(np.asarray(empty) == 0)
    assert np.isnan(np.asarray(energy_of(model, pos.at[0, 0, 0].set(jnp.nan), species))).all()


def test_bad_input_raises_naming_the_argument(rng):
    pos, species = _molecule(rng)
    model = _potential("gaunt")
    with pytest.raises(ValueError, match="positions"):
        energy_of(model, pos[..., :2], species)
    with pytest.raises(ValueError, match="species"):
        energy_of(model, pos, species[:, :3])
    with pytest.raises(ValueError, match="atom_mask"):
        energy_of(model, pos, species, jnp.ones((2, 3), bool))
    with pytest.raises(ValueError, match="product"):
        _potential("clebsch")
    dyn = GauntDynamics(channels=3, lmax=1, layers=1, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="velocities"):
        dyn(pos, pos[:, :3], species.astype(float))
    with pytest.raises(ValueError, match="charges"):
        dyn(pos, pos, species[:, :2].astype(float))


def _check_dynamics_equivariance(model, pos, vel, charges, rng, seed: int):
    """Assert O(3) x translation and permutation equivariance of a dynamics model; return its output."""
    out = jit_call(model, pos, vel, charges)
    for k, reflect in enumerate((False, True)):
        R = random_orthogonal(jax.random.key(seed + k), reflect)
        t = jnp.asarray(rng.normal(size=3))
        assert relative_error(jit_call(model, pos @ R.T + t, vel @ R.T, charges), out @ R.T + t) < 1e-12
    perm = rng.permutation(pos.shape[-2])
    assert relative_error(jit_call(model, pos[:, perm], vel[:, perm], charges[:, perm]), out[:, perm]) < 1e-12
    return out


@pytest.mark.parametrize("product", ["gaunt", "cg"])
def test_dynamics_is_e3_and_permutation_equivariant(rng, product):
    pos = jnp.asarray(rng.normal(size=(3, 5, 3)))
    vel = jnp.asarray(rng.normal(size=(3, 5, 3)) * 0.5)
    charges = jnp.asarray(rng.choice([-1.0, 1.0], size=(3, 5)))
    model = GauntDynamics(channels=4, lmax=L, layers=2, correlation=2, distinct_factors=True, product=product, rngs=nnx.Rngs(1))
    assert len(model.blocks[0].many_body.factor_mixes) == 1
    out = _check_dynamics_equivariance(model, pos, vel, charges, rng, seed=20)
    assert relative_error(jit_call(model, pos, vel, -charges), out) > 1e-8 or relative_error(jit_call(model, pos, vel, charges * 0.5), out) > 1e-8


def test_dynamics_without_charge_node_features_is_invariant_to_flipping_every_charge(rng):
    pos = jnp.asarray(rng.normal(size=(2, 5, 3)))
    vel = jnp.asarray(rng.normal(size=(2, 5, 3)) * 0.5)
    charges = jnp.asarray(rng.choice([-1.0, 1.0], size=(2, 5)))
    flip_invariant = GauntDynamics(channels=4, lmax=L, layers=2, charge_node_features=False, rngs=nnx.Rngs(3))
    signed = GauntDynamics(channels=4, lmax=L, layers=2, rngs=nnx.Rngs(3))
    out = jit_call(flip_invariant, pos, vel, charges)
    assert relative_error(jit_call(flip_invariant, pos, vel, -charges), out) < 1e-12
    assert relative_error(jit_call(flip_invariant, pos, vel, charges.at[:, 0].multiply(-1.0)), out) > 1e-6  # one charge still matters
    assert relative_error(jit_call(signed, pos, vel, -charges), jit_call(signed, pos, vel, charges)) > 1e-6


def test_dynamics_with_charge_radial_features(rng):
    pos = jnp.asarray(rng.normal(size=(2, 5, 3)))
    vel = jnp.asarray(rng.normal(size=(2, 5, 3)) * 0.5)
    charges = jnp.asarray(rng.choice([-1.0, 1.0], size=(2, 5)))
    model = GauntDynamics(channels=4, lmax=L, layers=2, num_radial=6, charge_radial=True, charge_node_features=False, rngs=nnx.Rngs(4))
    assert model.blocks[0].conv.radial.layers[0].in_features == 2 * 6 + 1  # basis, q_i q_j, q_i q_j * basis
    out = jit_call(model, pos, vel, charges)
    R = random_orthogonal(jax.random.key(30), True)
    t = jnp.asarray(rng.normal(size=3))
    assert relative_error(jit_call(model, pos @ R.T + t, vel @ R.T, charges), out @ R.T + t) < 1e-12
    assert relative_error(jit_call(model, pos, vel, -charges), out) < 1e-12  # still only products of charges
    assert relative_error(jit_call(model, pos, vel, charges.at[:, 0].multiply(-1.0)), out) > 1e-6


@pytest.mark.parametrize("position_updates", [False, True])
def test_dynamics_is_continuous_when_a_pair_crosses_the_cutoff(position_updates):
    """The q_i q_j edge feature carries the cutoff envelope: the prediction for a dimer just inside
    the cutoff equals the one just outside it (where the pair is masked), up to the O(eps) change
    of the geometry that the later blocks see with position updates."""
    cutoff = 4.0
    model = GauntDynamics(channels=4, lmax=L, layers=2, cutoff=cutoff, position_updates=position_updates, rngs=nnx.Rngs(8))
    _perturb_parameters(model, 9)
    vel = jnp.asarray([[[0.3, -0.2, 0.1], [-0.1, 0.4, 0.2]]])
    charges = jnp.asarray([[1.0, -1.0]])
    d = np.sqrt(cutoff**2 - 0.09)

    def displacement(r):  # the prediction minus the input positions, which differ by 2e-7 below
        pos = jnp.asarray([[[0.0, 0.0, 0.0], [r, 0.3, 0.0]]])
        return jit_call(model, pos, vel, charges) - pos

    inside, outside, near = displacement(d - 1e-7), displacement(d + 1e-7), displacement(0.8 * d)
    assert float(jnp.max(jnp.abs(near - outside))) > 1e-4  # the pair does interact inside the cutoff
    assert float(jnp.max(jnp.abs(inside - outside))) < (1e-12 if not position_updates else 1e-5)


def test_dynamics_with_velocity_attributes_is_equivariant_and_twins_agree(rng):
    pos = jnp.asarray(rng.normal(size=(2, 5, 3)))
    vel = jnp.asarray(rng.normal(size=(2, 5, 3)) * 0.5)
    charges = jnp.asarray(rng.choice([-1.0, 1.0], size=(2, 5)))
    gaunt = GauntDynamics(channels=4, lmax=L, layers=2, velocity_attributes=True, rngs=nnx.Rngs(5))
    cg = GauntDynamics(channels=4, lmax=L, layers=2, velocity_attributes=True, product="cg", rngs=nnx.Rngs(5))
    out = _check_dynamics_equivariance(gaunt, pos, vel, charges, rng, seed=40)
    assert relative_error(jit_call(cg, pos, vel, charges), out) < 1e-12  # same parameters, products equal at init
    silent = nnx.clone(gaunt)  # the same model with the attribute products switched off
    nnx.update(silent.attributes, jax.tree.map(jnp.zeros_like, nnx.state(silent.attributes)))
    assert relative_error(jit_call(silent, pos, vel, charges), out) > 1e-6
    grads = nnx.jit(nnx.grad(lambda m: jnp.sum(m(pos, vel, charges) ** 2)))(cg)
    assert np.abs(np.asarray(grads["attributes"][0]["path_weights"][...])).max() > 0


@pytest.mark.parametrize("product", ["gaunt", "cg"])
def test_dynamics_with_position_updates_is_equivariant_and_moves_the_geometry(rng, product):
    pos = jnp.asarray(rng.normal(size=(2, 5, 3)))
    vel = jnp.asarray(rng.normal(size=(2, 5, 3)) * 0.5)
    charges = jnp.asarray(rng.choice([-1.0, 1.0], size=(2, 5)))
    model = GauntDynamics(channels=4, lmax=L, layers=3, position_updates=True, product=product, rngs=nnx.Rngs(6))
    out = _check_dynamics_equivariance(model, pos, vel, charges, rng, seed=50)
    # with every read-out zero the integrator is x + s v (the velocity steps add up to one)
    still = nnx.clone(model)
    nnx.update(still.out, jax.tree.map(jnp.zeros_like, nnx.state(still.out)))
    assert relative_error(jit_call(still, pos, vel, charges), pos + vel) < 1e-14
    # the last block sees the moved geometry: changing the first read-out changes what later blocks compute
    nudged = nnx.clone(model)
    nnx.update(nudged.out[0], jax.tree.map(lambda w: 1.1 * w, nnx.state(nudged.out[0])))
    first_only = relative_error(jit_call(nudged, pos, vel, charges) - out, 0.1 * (model.out[0](_first_block_state(model, pos, vel, charges))[..., 0, 1:4]))
    assert first_only > 1e-6
    single = GauntDynamics(channels=4, lmax=L, layers=1, position_updates=True, product=product, rngs=nnx.Rngs(6))
    assert jit_call(single, pos, vel, charges).shape == pos.shape


def _first_block_state(model, pos, vel, charges):
    """The node features after the first block of ``model`` (for the test above)."""
    h = model._node_features(vel, charges)
    return model.blocks[0](h, *model._edges(pos, charges[..., :, None] * charges[..., None, :]))


def test_attribute_product_rejects_wrong_degrees(rng):
    from geojax.nn import AttributeProduct

    layer = AttributeProduct(3, 2, 1, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="attribute of degree 2"):
        layer(jnp.ones((4, 3, 9)), jnp.ones((4, 9)))
