"""Gaunt tensor product: every method against independent references, symmetries, errors."""

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import geojax
from geojax import so3
from tests.conftest import relative_error

METHODS = ["fourier", "s2grid", "dense", "auto"]


def _signal(rng, lmax, lead=(3,), dtype=np.float64):
    return rng.normal(size=lead + ((lmax + 1) ** 2,)).astype(dtype)


def _cg_even_path_reference(x, lx, y, ly, lmax_out):
    """sum over even paths of r(l1, l2, l3) * e3nn.clebsch_gordan(l1, l2, l3), in NumPy float64."""
    out = np.zeros(x.shape[:-1] + ((lmax_out + 1) ** 2,))
    for l1 in range(lx + 1):
        for l2 in range(ly + 1):
            for l3 in range(abs(l1 - l2), min(l1 + l2, lmax_out) + 1):
                r = so3.cg_gaunt_ratio(l1, l2, l3)
                if r == 0.0:
                    continue
                cg = np.asarray(e3nn.clebsch_gordan(l1, l2, l3), np.float64)
                out[..., l3 * l3 : (l3 + 1) ** 2] += r * np.einsum(
                    "...i,...j,ijk->...k", x[..., l1 * l1 : (l1 + 1) ** 2], y[..., l2 * l2 : (l2 + 1) ** 2], cg
                )
    return out


def _dense_reference(x, lx, y, ly, lmax_out):
    table = so3.gaunt_coefficients(lx, ly, lmax_out).dense(lx, ly, lmax_out)
    return np.einsum("...i,...j,ijk->...k", x, y, table)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("lx,ly,lmax_out", [(0, 0, 0), (1, 0, 1), (2, 3, 5), (4, 4, 8), (6, 5, 7), (6, 6, 12)])
def test_matches_clebsch_gordan_even_paths_float64(method, lx, ly, lmax_out, rng):
    x, y = _signal(rng, lx), _signal(rng, ly)
    with jax.enable_x64(True):
        out = np.asarray(geojax.gaunt_tensor_product(x, y, lmax_out=lmax_out, method=method))
    assert out.dtype == np.float64
    assert relative_error(out, _cg_even_path_reference(x, lx, y, ly, lmax_out)) < 1e-10


@pytest.mark.parametrize("method", ["fourier", "s2grid", "auto"])
@pytest.mark.parametrize("lx,ly", [(8, 8), (10, 10), (10, 3)])
def test_matches_dense_reference_float64(method, lx, ly, rng):
    x, y = _signal(rng, lx, (2, 3)), _signal(rng, ly, (3,))
    with jax.enable_x64(True):
        out = geojax.gaunt_tensor_product(x, y, method=method)
    assert out.shape == (2, 3, (lx + ly + 1) ** 2)
    assert relative_error(out, _dense_reference(x, lx, y, ly, lx + ly)) < 1e-10


# float32 bound: worst relative error (max abs error / max abs value) against float64.
FLOAT32_BOUND = 2e-5


@pytest.mark.parametrize("method", ["fourier", "s2grid", "dense"])
@pytest.mark.parametrize("lmax", [2, 8, 16])
def test_float32_within_bound(method, lmax, rng):
    x, y = _signal(rng, lmax, (4,)), _signal(rng, lmax, (4,))
    with jax.enable_x64(True):
        ref = geojax.gaunt_tensor_product(x, y, method="s2grid")
    with jax.default_matmul_precision("float32"):
        out = geojax.gaunt_tensor_product(x.astype(np.float32), y.astype(np.float32), method=method)
    assert out.dtype == jnp.float32
    assert relative_error(out, ref) < FLOAT32_BOUND


@pytest.mark.parametrize("lmax", [24, 32])
def test_high_degree_fourier_equals_s2grid(lmax, rng):
    x, y = _signal(rng, lmax, (2,)), _signal(rng, lmax, (2,))
    with jax.enable_x64(True):
        a = geojax.gaunt_tensor_product(x, y, method="fourier")
        b = geojax.gaunt_tensor_product(x, y, method="s2grid")
    assert relative_error(a, b) < 1e-10


def test_degree_32_runs_and_projects_exactly(rng):
    # a product with the constant Y_00 = 1/sqrt(4 pi) is x / sqrt(4 pi): exact at any degree
    x = _signal(rng, 32, (2,))
    one = np.zeros(1)
    one[0] = np.sqrt(4 * np.pi)
    with jax.enable_x64(True):
        for method in ("fourier", "s2grid"):
            out = geojax.gaunt_tensor_product(x, one, method=method)
            assert relative_error(out, x) < 1e-12


@pytest.mark.parametrize("method", ["fourier", "s2grid", "dense"])
def test_odd_paths_vanish(method, rng):
    # x only at l1 = 1 and y only at l2 = 2: every output degree with l1 + l2 + l3 odd is exactly 0
    x, y = np.zeros((2, 4)), np.zeros((2, 9))
    x[:, 1:4] = rng.normal(size=(2, 3))
    y[:, 4:9] = rng.normal(size=(2, 5))
    with jax.enable_x64(True):
        out = np.asarray(geojax.gaunt_tensor_product(x, y, method=method))
    for l3 in range(4):
        part = out[:, l3 * l3 : (l3 + 1) ** 2]
        if (1 + 2 + l3) % 2:
            np.testing.assert_allclose(part, 0.0, atol=1e-15)
        else:
            assert np.max(np.abs(part)) > 1e-3


@pytest.mark.parametrize("method", ["fourier", "s2grid", "dense"])
def test_commutative_and_associative(method, rng):
    x, y, z = _signal(rng, 3), _signal(rng, 2), _signal(rng, 4)
    tp = lambda a, b: geojax.gaunt_tensor_product(a, b, method=method)
    with jax.enable_x64(True):
        np.testing.assert_allclose(tp(x, y), tp(y, x), atol=1e-13)
        assert relative_error(tp(tp(x, y), z), tp(x, tp(y, z))) < 1e-12


def _random_o3(key):
    rot = e3nn.rand_matrix(key, (), dtype=jnp.float64)
    sign = jnp.where(jax.random.bernoulli(jax.random.fold_in(key, 1)), -1.0, 1.0)
    return sign * rot


# e3nn's Wigner matrices, jitted: op by op every degree's small ops compile one by one
_rotate = jax.jit(lambda a, g: a.transform_by_matrix(g))


@pytest.mark.parametrize("method", ["fourier", "s2grid", "dense"])
# the float32 bound is also checked by test_float32_within_bound; its equivariance runs under -m slow (CI time)
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-11), pytest.param(np.float32, 5e-5, marks=pytest.mark.slow)])
@pytest.mark.parametrize("p_val,p_arg", [(1, -1), (-1, -1), (1, 1)])
def test_o3_equivariance(method, dtype, tol, p_val, p_arg, rng):
    with jax.enable_x64(True):
        for seed in range(3):
            g = _random_o3(jax.random.key(seed))
            x = e3nn.IrrepsArray(e3nn.s2_irreps(4, p_val=p_val, p_arg=p_arg), _signal(rng, 4, (2,), dtype))
            y = e3nn.IrrepsArray(e3nn.s2_irreps(3, p_val=1, p_arg=p_arg), _signal(rng, 3, (2,), dtype))
            with jax.default_matmul_precision("float32"):
                out = geojax.gaunt_tensor_product(x, y, method=method)
                rotated_in = geojax.gaunt_tensor_product(_rotate(x, g), _rotate(y, g), method=method)
            assert out.irreps == e3nn.s2_irreps(7, p_val=p_val, p_arg=p_arg)
            assert relative_error(rotated_in.array, _rotate(out, g).array) < tol


def test_irreps_output_parities():
    x = e3nn.IrrepsArray(e3nn.s2_irreps(2, p_val=-1, p_arg=1), jnp.ones(9))
    y = e3nn.IrrepsArray(e3nn.s2_irreps(1, p_val=-1, p_arg=1), jnp.ones(4))
    assert geojax.gaunt_tensor_product(x, y).irreps == e3nn.s2_irreps(3, p_val=1, p_arg=1)
    # a plain array is read as 0e + 1o + ...; an l = 0 IrrepsArray takes p_arg from the other
    scalar = e3nn.IrrepsArray("0o", jnp.ones(1))
    assert geojax.gaunt_tensor_product(scalar, jnp.ones(4)).irreps == e3nn.Irreps("0o+1e")
    assert isinstance(geojax.gaunt_tensor_product(jnp.ones(4), jnp.ones(4)), jax.Array)


def test_channelwise_broadcasting(rng):
    x = _signal(rng, 3, (5, 1, 8))
    y = _signal(rng, 2, (7, 1))
    out = geojax.gaunt_tensor_product(x, y, lmax_out=4)
    assert out.shape == (5, 7, 8, 25)
    single = geojax.gaunt_tensor_product(x[2, 0, 3], y[4, 0], lmax_out=4)
    np.testing.assert_allclose(out[2, 4, 3], single, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["fourier", "s2grid", "dense"])
def test_gradients_first_and_second_order(method, rng):
    x, y = _signal(rng, 2, (2,)), _signal(rng, 3, (2,))
    with jax.enable_x64(True):
        fn = lambda a, b: geojax.gaunt_tensor_product(a, b, lmax_out=4, method=method)
        check_grads(fn, (x, y), order=2, modes=("fwd", "rev"), atol=1e-6, rtol=1e-6)
        # under jax.checkpoint as well
        loss = lambda a, b: jnp.sum(jax.checkpoint(fn)(a, b) ** 2)
        check_grads(loss, (x, y), order=1, modes=("rev",), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("method", ["fourier", "s2grid", "dense"])
def test_jit_vmap_consistency(method, rng):
    x, y = _signal(rng, 3, (6,)), _signal(rng, 3, (6,))
    fn = lambda a, b: geojax.gaunt_tensor_product(a, b, method=method)
    eager = fn(x, y)
    np.testing.assert_allclose(jax.jit(fn)(x, y), eager, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(jax.vmap(fn)(x, y), eager, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(jax.vmap(fn, in_axes=(0, None))(x, y[0]), fn(x, y[:1]), rtol=1e-5, atol=1e-5)


def test_no_retracing_on_repeated_calls(rng):
    geojax.gaunt_tensor_product(_signal(rng, 3, (4,)), _signal(rng, 2, (4,)), method="fourier")
    before = geojax.gaunt_tensor_product._cache_size()
    for _ in range(3):
        geojax.gaunt_tensor_product(_signal(rng, 3, (4,)), _signal(rng, 2, (4,)), method="fourier")
    assert geojax.gaunt_tensor_product._cache_size() == before


@pytest.mark.parametrize("method", ["fourier", "s2grid", "dense"])
@pytest.mark.parametrize("lead", [(0,), (3, 0)])
def test_empty_batches(method, lead):
    """No signals in, no signals out, for same-degree (the paired s2grid kernel) and mixed degrees."""
    x = jnp.zeros(lead + (16,))
    assert geojax.gaunt_tensor_product(x, x, method=method).shape == lead + (49,)
    assert geojax.gaunt_tensor_product(x, jnp.zeros(lead + (4,)), method=method).shape == lead + (25,)


@pytest.mark.parametrize("method", ["fourier", "s2grid", "dense"])
def test_bfloat16_inputs(method, rng):
    x, y = _signal(rng, 3, (4,), np.float32), _signal(rng, 3, (4,), np.float32)
    out = geojax.gaunt_tensor_product(x.astype(jnp.bfloat16), y.astype(jnp.bfloat16), method=method)
    assert out.dtype == jnp.bfloat16
    ref = geojax.gaunt_tensor_product(
        x.astype(jnp.bfloat16).astype(np.float32), y.astype(jnp.bfloat16).astype(np.float32), method=method
    )
    assert relative_error(out.astype(np.float32), ref) < 1e-2  # bfloat16 has 8 mantissa bits


@pytest.mark.parametrize("method", ["fourier", "s2grid", "dense"])
def test_nan_and_inf_propagate(method, rng):
    x, y = _signal(rng, 2, (3,)), _signal(rng, 2, (3,))
    x[1, 4] = np.nan
    y[2, 0] = np.inf
    out = np.asarray(geojax.gaunt_tensor_product(x, y, method=method))
    assert np.all(np.isfinite(out[0]))
    assert np.any(np.isnan(out[1]))
    assert not np.all(np.isfinite(out[2]))


@pytest.mark.parametrize(
    "kwargs,x,y,error,match",
    [
        ({}, np.ones(5), np.ones(4), ValueError, r"x: the last dimension must be \(L\+1\)\*\*2.*got 5"),
        ({}, np.ones(4), np.ones((2, 7)), ValueError, r"y: the last dimension must be \(L\+1\)\*\*2.*got 7"),
        ({}, np.ones(4, np.int32), np.ones(4), TypeError, "x: expected a floating-point dtype"),
        ({}, np.float32(1.0), np.ones(4), ValueError, "x: expected shape"),
        ({"lmax_out": 3}, np.ones(4), np.ones(4), ValueError, r"lmax_out must lie in \[0, 2\].*got 3"),
        ({"lmax_out": -1}, np.ones(4), np.ones(4), ValueError, r"lmax_out must lie in \[0, 2\].*got -1"),
        ({"lmax_out": 1.5}, np.ones(4), np.ones(4), TypeError, "lmax_out must be an int"),
        ({"method": "fft"}, np.ones(4), np.ones(4), ValueError, "method must be one of"),
        ({}, np.ones((3, 4)), np.ones((2, 4)), ValueError, "leading dimensions of x"),
        ({"method": "dense"}, np.ones(18**2), np.ones(4), ValueError, "dense Gaunt table supports"),
    ],
)
def test_bad_input_errors(kwargs, x, y, error, match):
    with pytest.raises(error, match=match):
        geojax.gaunt_tensor_product(x, y, **kwargs)


def test_bad_irreps_errors():
    not_spherical = e3nn.IrrepsArray("0e+2e", jnp.ones(6))
    with pytest.raises(ValueError, match="x: expected irreps of a signal on the sphere"):
        geojax.gaunt_tensor_product(not_spherical, jnp.ones(4))
    a = e3nn.IrrepsArray(e3nn.s2_irreps(1, p_arg=1), jnp.ones(4))
    b = e3nn.IrrepsArray(e3nn.s2_irreps(1, p_arg=-1), jnp.ones(4))
    with pytest.raises(ValueError, match="same p_arg"):
        geojax.gaunt_tensor_product(a, b)


def test_auto_rule_is_the_documented_one():
    from geojax.tp import auto_method

    assert auto_method(1, 1, 2, "cpu") == "dense"
    assert auto_method(1, 2, 3, "cpu") == "s2grid"
    assert auto_method(16, 16, 32, "cpu") == "s2grid"
