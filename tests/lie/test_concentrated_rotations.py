"""The concentrated-rotation sampler: its law, its exact log density and a closed-form Haar ratio."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

from geojax import lie


@pytest.mark.parametrize("group_name", ["SL2", "GL+2"])
def test_concentrated_rotation_sampler(group_name):
    with jax.enable_x64(True):
        group = lie.SL(2) if group_name == "SL2" else lie.GLPlus(2)
        params = {"sigma": 0.3} if group_name == "SL2" else {"sigma": 0.3, "sigma_scale": 0.2}
        key = jax.random.key(7)
        s = lie.sample_concentrated_rotations(group, key, 20_000, 0.3, dtype=jnp.float64, **params)
        g0, log_q0 = group.sample(jax.random.split(key)[0], (20_000,), dtype=jnp.float64, **params)
        p, r = lie.polar(s.elements)
        p0, _ = lie.polar(g0)
        np.testing.assert_allclose(p, p0, atol=1e-10)  # the stretch part is the group sampler's
        theta = np.arctan2(np.asarray(r[:, 1, 0]), np.asarray(r[:, 0, 0]))
        assert abs(np.std(theta) - 0.3) < 0.01 and abs(np.mean(theta)) < 0.01
        # log density = the group sampler's + log of the wrapped normal w.r.t. Haar probability on SO(2)
        wrapped = sum(norm.pdf(theta + 2 * np.pi * k, scale=0.3) for k in (-1, 0, 1))
        np.testing.assert_allclose(s.log_density - log_q0, np.log(2 * np.pi * wrapped), atol=1e-10)
        assert bool(jnp.all(group.contains(s.elements)))
        # Haar measure = J(S) dS x Haar(SO(2)) in polar coordinates, so for the polar angle theta
        # int exp(-|g|^2) (1.5 + cos theta) / int exp(-|g|^2) = 1.5 exactly. Without the log p
        # correction the estimate would be 1.5 + E[cos theta] = 1.5 + exp(-1.5^2 / 2) = 1.82 (a wider
        # law than the model uses keeps the importance weights bounded: max/min ~ 3).
        conc = lie.sample_concentrated_rotations(group, jax.random.key(9), 200_000, 1.5, dtype=jnp.float64, **params)
        _, r = lie.polar(conc.elements)
        radial = jnp.exp(-jnp.sum(conc.elements**2, axis=(-2, -1)))
        ratio = lie.integrate(radial * (1.5 + r[:, 0, 0]), conc) / lie.integrate(radial, conc)
        assert abs(float(ratio) - 1.5) < 0.05, float(ratio)
    with pytest.raises(ValueError, match="rotation_sigma must be > 0"):
        lie.sample_concentrated_rotations(lie.SL(2), jax.random.key(0), 3, 0.0)
    with pytest.raises(ValueError, match="num must be an int >= 1"):
        lie.sample_concentrated_rotations(lie.SL(2), jax.random.key(0), 0, 0.3)


@pytest.mark.parametrize("rotation_sigma", [3.0, 5.0])
def test_wide_rotation_laws_have_the_exact_wrapped_density(rotation_sigma):
    """Angles beyond +-pi: the density is summed over the wrapped angle's images (not three terms of
    the raw draw), so the importance weights average to 1 (E_q[1 / p] = 1 under the Haar law)."""
    with jax.enable_x64(True):
        group = lie.SL(2)
        key = jax.random.key(3)
        s = lie.sample_concentrated_rotations(group, key, 20_000, rotation_sigma, sigma=0.3)
        assert s.elements.dtype == jnp.float64  # the default dtype follows jax_enable_x64
        _, log_q0 = group.sample(jax.random.split(key)[0], (20_000,), dtype=jnp.float64, sigma=0.3)
        _, r = lie.polar(s.elements)
        theta = np.arctan2(np.asarray(r[:, 1, 0]), np.asarray(r[:, 0, 0]))
        exact = np.log(2 * np.pi * sum(norm.pdf(theta + 2 * np.pi * k, scale=rotation_sigma) for k in range(-50, 51)))
        log_p = np.asarray(s.log_density - log_q0)
        np.testing.assert_allclose(log_p, exact, atol=1e-10)
        assert abs(np.mean(np.exp(-log_p)) - 1.0) < 0.02
    with pytest.raises(ValueError, match="group of 2 x 2 matrices"):
        lie.sample_concentrated_rotations(lie.SL(3), jax.random.key(0), 3, 0.3)
