"""Radial bases and the smooth cutoff envelope against their closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from geojax.nn.radial import cutoff_envelope, radial_basis


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def envelope_closed_form(x, p):
    return np.where(x < 1, 1 - (p + 1) * (p + 2) / 2 * x**p + p * (p + 2) * x ** (p + 1) - p * (p + 1) / 2 * x ** (p + 2), 0.0)


@pytest.mark.parametrize("power", [3, 6])
def test_cutoff_envelope_matches_its_formula_and_vanishes_smoothly(power):
    cutoff = 2.5
    dist = np.linspace(0.0, 1.5 * cutoff, 61)
    np.testing.assert_allclose(cutoff_envelope(jnp.asarray(dist), cutoff, power), envelope_closed_form(dist / cutoff, power), rtol=0, atol=1e-14)
    u = lambda d: cutoff_envelope(d, cutoff, power)
    assert float(u(0.0)) == 1.0
    edge = jnp.asarray(cutoff * (1 - 1e-9))  # the first two derivatives vanish at the cutoff
    assert abs(float(u(edge))) < 1e-13  # round-off of the cancelling terms
    assert abs(float(jax.grad(u)(edge))) < 1e-10
    assert abs(float(jax.grad(jax.grad(u))(edge))) < 1e-6
    assert abs(float(jax.grad(jax.grad(u))(jnp.asarray(0.8 * cutoff)))) > 1e-2


def test_radial_basis_is_bessel_times_the_envelope_with_finite_gradients():
    cutoff, num = 3.0, 5
    dist = np.array([0.1, 0.7, 1.9, 2.99, 3.0, 4.2])
    k = np.arange(1, num + 1)
    expected = np.sqrt(2 / cutoff) * np.sin(k * np.pi * dist[:, None] / cutoff) / dist[:, None] * envelope_closed_form(dist / cutoff, 6)[:, None]
    np.testing.assert_allclose(radial_basis(jnp.asarray(dist), num, cutoff), expected, rtol=1e-12, atol=1e-15)
    grads = jax.grad(lambda d: radial_basis(d, num, cutoff).sum())(jnp.asarray(dist))
    assert bool(jnp.all(jnp.isfinite(grads))) and float(grads[-1]) == 0.0


@pytest.mark.parametrize("call, message", [
    (lambda: cutoff_envelope(jnp.ones(3), 0.0), "cutoff must be > 0, got 0.0"),
    (lambda: radial_basis(jnp.ones(3), 0, 1.0), "num >= 1"),
    (lambda: radial_basis(jnp.ones(3), 4, -1.0), "cutoff > 0"),
])
def test_bad_arguments_raise_naming_them(call, message):
    with pytest.raises(ValueError, match=message):
        call()
