"""The reusable 2D Fourier pieces and the many-body power."""

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import geojax
from geojax import so3
from tests.conftest import relative_error


def test_to_fourier_evaluates_the_signal_on_the_torus(rng):
    lmax = 5
    x = rng.normal(size=(lmax + 1) ** 2)
    with jax.enable_x64(True):
        c = np.asarray(geojax.to_fourier(x))
    assert c.shape == (2 * lmax + 1, lmax + 1) and c.dtype == np.complex128
    t, p = rng.uniform(0, np.pi, size=20), rng.uniform(0, 2 * np.pi, size=20)
    u = np.arange(-lmax, lmax + 1)
    v = np.arange(lmax + 1)
    # full spectrum from the half: f = sum_u [c[u,0] + 2 Re sum_{v>0} c[u,v] e^{ivp}] e^{iut}
    phase = np.exp(1j * (u[None, :, None] * t[:, None, None] + v[None, None, :] * p[:, None, None]))
    weight = np.where(v == 0, 1.0, 2.0)
    values = np.real(np.einsum("nuv,uv,v->n", phase, c, weight))
    vec = np.stack([np.sin(t) * np.sin(p), np.cos(t), np.sin(t) * np.cos(p)], -1)
    np.testing.assert_allclose(values, so3.spherical_harmonics_np(lmax, vec) @ x, atol=1e-12)


@pytest.mark.parametrize("lmax", [0, 1, 4, 11])
def test_round_trip(lmax, rng):
    x = rng.normal(size=(3, (lmax + 1) ** 2))
    with jax.enable_x64(True):
        np.testing.assert_allclose(geojax.from_fourier(geojax.to_fourier(x)), x, atol=1e-13)


def test_transform_once_reuse_many_times(rng):
    # an edge's harmonics transformed once and multiplied with many channels
    sh = rng.normal(size=(10, 9))
    feats = rng.normal(size=(10, 16, 16))
    with jax.enable_x64(True):
        edge = geojax.to_fourier(sh)[:, None]
        out = geojax.from_fourier(geojax.fourier_product(geojax.to_fourier(feats), edge), lmax_out=4)
        ref = geojax.gaunt_tensor_product(feats, sh[:, None], lmax_out=4, method="dense")
    assert out.shape == (10, 16, 25)
    assert relative_error(out, ref) < 1e-12


def test_fourier_product_is_full_linear_convolution(rng):
    def full(h):  # the whole Hermitian spectrum from the half, c[-u, -v] = conj(c[u, v])
        return np.concatenate([np.conj(h[::-1, :0:-1]), h], axis=1)

    with jax.enable_x64(True):
        a = np.asarray(geojax.to_fourier(rng.normal(size=16)))  # [7, 4]
        b = np.asarray(geojax.to_fourier(rng.normal(size=9)))  # [5, 3]
        c = np.asarray(geojax.fourier_product(a, b))
    from scipy.signal import convolve2d

    ref = convolve2d(full(a), full(b))  # [11, 11], v = -5..5
    assert c.shape == (11, 6)
    np.testing.assert_allclose(c, ref[:, 5:], atol=1e-12)


@pytest.mark.parametrize("fft", [False, True])
@pytest.mark.parametrize("shape_a,shape_b", [((1, 3), (1, 3)), ((2, 2), (1, 4)), ((0, 2), (0, 2)), ((3, 1), (2, 0))])
def test_fourier_product_of_spectra_with_v_unlike_u(shape_a, shape_b, fft, rng, monkeypatch):
    """Hand-built spectra may have V != U (to_fourier's have V = U): the grid must follow V."""
    from scipy.signal import convolve2d

    from geojax.tp import fourier

    def half_spectrum(umax, vmax):
        c = rng.normal(size=(2 * umax + 1, vmax + 1)) + 1j * rng.normal(size=(2 * umax + 1, vmax + 1))
        c[:, 0] = c[:, 0] + np.conj(c[::-1, 0])  # Hermitian in u at v = 0: a real function
        return c

    def full(h):
        return np.concatenate([np.conj(h[::-1, :0:-1]), h], axis=1)

    a, b = half_spectrum(*shape_a), half_spectrum(*shape_b)
    if fft:
        monkeypatch.setattr(fourier, "DFT_MATMUL_MAX_SIZE", 0)
    with jax.enable_x64(True):
        c = np.asarray(fourier.fourier_product.__wrapped__(jnp.asarray(a), jnp.asarray(b)))  # unjitted: sees the patch
    ua, va, ub, vb = *shape_a, *shape_b
    ref = convolve2d(full(a), full(b))  # v = -(va + vb)..(va + vb)
    assert c.shape == (2 * (ua + ub) + 1, va + vb + 1)
    np.testing.assert_allclose(c, ref[:, va + vb :], atol=1e-12)


@pytest.mark.parametrize("method", ["fourier", "s2grid", "auto"])
@pytest.mark.parametrize("nu,lmax_out", [(1, None), (2, None), (3, None), (4, 5)])
def test_power_equals_repeated_products(method, nu, lmax_out, rng):
    x = rng.normal(size=(2, 9))
    with jax.enable_x64(True):
        ref = x
        for _ in range(nu - 1):
            ref = geojax.gaunt_tensor_product(ref, x, method="dense")
        if lmax_out is not None:
            ref = ref[..., : (lmax_out + 1) ** 2]
        out = geojax.gaunt_power(x, nu, lmax_out=lmax_out, method=method)
    assert out.shape == ref.shape
    assert relative_error(out, ref) < 1e-11


def test_power_of_a_large_batch_runs_in_chunks_on_the_cpu(rng, monkeypatch):
    """Beyond CPU_CHUNK_VALUES the s2grid power loops over chunks (the last one overlapping) and
    still equals the repeated dense products; the jit cache is bypassed so the budget applies."""
    from geojax.tp import s2grid
    from geojax.tp.power import gaunt_power

    x = rng.normal(size=(37, 3, 9))  # two batch axes, flattened for the chunks
    with jax.enable_x64(True):
        ref = geojax.gaunt_tensor_product(geojax.gaunt_tensor_product(x, x, method="dense"), x, method="dense")
        monkeypatch.setattr(s2grid, "CPU_CHUNK_VALUES", 2000)
        power = gaunt_power.__wrapped__
        assert "scan" in str(jax.make_jaxpr(lambda a: power(a, 3, method="s2grid"))(x))
        out = power(jnp.asarray(x), 3, method="s2grid")
    assert out.shape == ref.shape
    assert relative_error(out, ref) < 1e-11


def test_power_irreps_and_errors():
    x = e3nn.IrrepsArray(e3nn.s2_irreps(2, p_val=-1), jnp.ones(9))
    assert geojax.gaunt_power(x, 3).irreps == e3nn.s2_irreps(6, p_val=-1)
    assert geojax.gaunt_power(x, 2).irreps == e3nn.s2_irreps(4, p_val=1)
    with pytest.raises(ValueError, match="nu must be an integer >= 1"):
        geojax.gaunt_power(x, 0)
    with pytest.raises(ValueError, match=r"lmax_out must lie in \[0, 4\]"):
        geojax.gaunt_power(x, 2, lmax_out=5)
    with pytest.raises(ValueError, match="method must be one of"):
        geojax.gaunt_power(x, 2, method="dense")


def test_fourier_input_errors():
    with pytest.raises(ValueError, match="coeffs: expected complex Fourier coefficients"):
        geojax.from_fourier(jnp.ones((4, 3)))
    with pytest.raises(ValueError, match="b: expected complex Fourier coefficients"):
        geojax.fourier_product(jnp.ones((3, 2), jnp.complex64), jnp.ones((3, 2)))
    with pytest.raises(ValueError, match=r"vmax must lie in \[0, 2\]"):
        geojax.fourier_product(jnp.ones((3, 2), jnp.complex64), jnp.ones((3, 2), jnp.complex64), vmax=3)


def test_fft_size():
    assert [geojax.tp.fft_size(n) for n in (1, 7, 11, 13, 33, 97)] == [1, 8, 12, 15, 36, 100]


@pytest.mark.parametrize("umax,vmax,n_u,n_v", [(3, 3, 8, 8), (5, 2, 12, 9), (8, 8, 36, 36)])
def test_torus_values_dft_gemms_equal_the_inverse_fft_and_direct_sums(umax, vmax, n_u, n_v, rng, monkeypatch):
    from geojax.tp import fourier

    c = rng.normal(size=(2, 2 * umax + 1, vmax + 1)) + 1j * rng.normal(size=(2, 2 * umax + 1, vmax + 1))
    c[:, :, 0] = c[:, :, 0] + np.conj(c[:, ::-1, 0])  # Hermitian in u at v = 0: f is real
    t, p = 2 * np.pi * np.arange(n_u) / n_u, 2 * np.pi * np.arange(n_v) / n_v
    u, v = np.arange(-umax, umax + 1), np.arange(vmax + 1)
    phase = np.exp(1j * (u[:, None, None, None] * t[None, None, :, None] + v[None, :, None, None] * p[None, None, None, :]))
    direct = np.real(np.einsum("buv,uvjk,v->bjk", c, phase, np.where(v == 0, 1.0, 2.0)))
    assert relative_error(np.asarray(fourier.torus_values(jnp.asarray(c, jnp.complex64), n_u, n_v)), direct) < 1e-5
    with jax.enable_x64(True):
        gemms = np.asarray(fourier.torus_values(jnp.asarray(c), n_u, n_v))
        monkeypatch.setattr(fourier, "DFT_MATMUL_MAX_SIZE", 0)  # the inverse FFT
        fft = np.asarray(fourier.torus_values(jnp.asarray(c), n_u, n_v))
    assert relative_error(gemms, direct) < 1e-13 and relative_error(fft, direct) < 1e-13


@pytest.mark.parametrize("lx,ly,lmax_out", [(3, 3, 6), (4, 2, 3), (5, 5, 7), (0, 2, 1)])
def test_half_torus_values_and_projection_equal_the_full_torus(lx, ly, lmax_out, rng):
    from geojax.tp import fourier

    x, y = rng.normal(size=(2, (lx + 1) ** 2)), rng.normal(size=(2, (ly + 1) ** 2))
    with jax.enable_x64(True):
        a, b = geojax.to_fourier(x), geojax.to_fourier(y)
        rows, n_v = fourier.half_torus_shape((lx, ly), lmax_out)
        n_u = 2 * (rows - 1)
        assert n_u >= 2 * (lx + ly) + 1 and n_v % 2 == 0 and n_v >= lx + ly + lmax_out + 1
        # the half torus is the rows t in [0, pi] of the full torus grid of the same spacing
        full = np.asarray(fourier.torus_values(a, n_u, n_v))
        half = np.asarray(fourier.sh_to_half_torus(jnp.asarray(x), lx, rows, n_v))
        assert relative_error(half, full[:, :rows]) < 1e-13
        # the symmetry the fold relies on: f(-t, p + pi) = f(t, p)
        np.testing.assert_allclose(full[:, n_u - rows + 1 :][:, ::-1], np.roll(full[:, 1:rows], -n_v // 2, axis=-1), atol=1e-12)
        product = half * np.asarray(fourier.sh_to_half_torus(jnp.asarray(y), ly, rows, n_v))
        projected = fourier.half_torus_projection(jnp.asarray(product), lx + ly, lmax_out)
        reference = geojax.from_fourier(geojax.fourier_product(a, b), lmax_out=lmax_out)
        assert relative_error(projected, reference) < 1e-13
        assert fourier.half_torus_projection(jnp.zeros((0, rows, n_v)), lx + ly, lmax_out).shape == (0, (lmax_out + 1) ** 2)
