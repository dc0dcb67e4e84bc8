"""ProductGrid (transform once, multiply, project) and the CG twin with path weights."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from geojax.tp import cg_product, gaunt_path_weights, gaunt_paths, gaunt_power, gaunt_tensor_product, product_grid
from tests.conftest import relative_error


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


@pytest.mark.parametrize("method", ["fourier", "s2grid"])
def test_sum_of_products_on_grid_equals_sum_of_gaunt_products(rng, method):
    lx, ly, lout = 3, 2, 4
    x = rng.normal(size=(5, (lx + 1) ** 2))
    y = rng.normal(size=(5, (ly + 1) ** 2))
    grid = product_grid((lx, ly), lout, method)
    values_x, values_y = grid.values(x, lx), grid.values(y, ly)
    assert values_x.shape == grid.shape + (5,)  # grid-major: grid axes first
    out = grid.project(jnp.sum(values_x * values_y, axis=-1))
    ref = sum(gaunt_tensor_product(x[k], y[k], lmax_out=lout, method="dense") for k in range(5))
    assert relative_error(out, ref) < 1e-12


def test_product_grid_rejects_bad_arguments():
    with pytest.raises(ValueError, match="method"):
        product_grid((2, 2), 2, "dense")
    with pytest.raises(ValueError, match="lmax_out"):
        product_grid((2, 2), 5)
    with pytest.raises(ValueError, match="degrees"):
        product_grid((2, -1), 1)
    with pytest.raises(ValueError, match="does not fit"):
        product_grid((1, 1), 2).values(jnp.zeros(9), 2)
    with pytest.raises(ValueError, match="grid-major"):
        product_grid((1, 1), 2).project(jnp.zeros((3, 3, 4)))


def test_cg_with_gaunt_path_weights_is_the_gaunt_product(rng):
    x, y = rng.normal(size=(4, 16)), rng.normal(size=(4, 9))
    assert relative_error(cg_product(x, 3, y, 2, 4), gaunt_tensor_product(x, y, lmax_out=4, method="dense")) < 1e-12


def test_cg_path_weights_weight_each_path(rng):
    """Doubling the weight of one path adds exactly that path's contribution once more."""
    x, y = rng.normal(size=9), rng.normal(size=9)
    paths = gaunt_paths(2, 2, 2)
    assert all((a + b + c) % 2 == 0 and abs(a - b) <= c <= a + b for a, b, c in paths)
    w = gaunt_path_weights(2, 2, 2)
    p = paths.index((1, 1, 2))
    only = np.zeros_like(w)
    only[p] = w[p]
    doubled = w.copy()
    doubled[p] *= 2
    diff = cg_product(x, 2, y, 2, 2, jnp.asarray(doubled)) - cg_product(x, 2, y, 2, 2)
    assert relative_error(diff, cg_product(x, 2, y, 2, 2, jnp.asarray(only))) < 1e-12
    assert np.abs(np.asarray(diff)[:4]).max() == 0.0  # the path only reaches l = 2
    with pytest.raises(ValueError, match="path_weights"):
        cg_product(x, 2, y, 2, 2, jnp.ones(3))


def test_cg_degree_guard_counts_only_the_degrees_that_occur(rng):
    x, y = rng.normal(size=9), rng.normal(size=9)
    wide = cg_product(x, 2, y, 2, 23)  # degrees 5..23 are zero: no Clebsch-Gordan call beyond (2, 2, 4)
    assert wide.shape == (24**2,) and np.abs(np.asarray(wide)[25:]).max() == 0.0
    assert relative_error(wide[:25], cg_product(x, 2, y, 2, 4)) < 1e-12
    with pytest.raises(ValueError, match=r"input degrees <= 11, got lx=12"):
        cg_product(rng.normal(size=169), 12, y, 2, 4)


def test_power_still_matches_repeated_products(rng):
    x = rng.normal(size=(2, 9))
    ref = gaunt_tensor_product(gaunt_tensor_product(x, x), x, lmax_out=3)
    for method in ("fourier", "s2grid"):
        assert relative_error(gaunt_power(x, 3, lmax_out=3, method=method), ref) < 1e-12
