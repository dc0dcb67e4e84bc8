"""The grid-major sphere-grid transforms against e3nn-jax's spherical harmonics at the grid points."""

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from geojax.so3.tables import gauss_legendre, s2_grid_shape
from geojax.tp.dense import gaunt_dense
from geojax.tp.s2grid import _gaunt_s2grid_paired, gaunt_s2grid, grid_major_to_sh, sh_to_grid_major, with_batch_rank
from tests.conftest import relative_error

# The kernels are called jitted: op by op, every op of every new shape compiles a program of its own.
_s2grid = jax.jit(gaunt_s2grid, static_argnums=(1, 3, 4))
_dense = jax.jit(gaunt_dense, static_argnums=(1, 3, 4))
_paired = jax.jit(_gaunt_s2grid_paired, static_argnums=(2, 3))


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def _grid_vectors(n_theta: int, n_phi: int) -> np.ndarray:
    """``[n_phi, n_theta, 3]`` unit vectors: y = cos t (Gauss-Legendre), p = atan2(x, z) uniform."""
    cos_t, _ = gauss_legendre(n_theta)
    sin_t = np.sqrt(1.0 - cos_t**2)
    p = 2.0 * np.pi * np.arange(n_phi) / n_phi
    return np.stack([sin_t[None] * np.sin(p)[:, None], np.broadcast_to(cos_t, (n_phi, n_theta)), sin_t[None] * np.cos(p)[:, None]], -1)


@pytest.mark.parametrize("lmax", [0, 1, 4, 7])
def test_grid_values_are_e3nn_harmonics_at_the_grid_points(lmax, rng):
    n_theta, n_phi = s2_grid_shape(3 * lmax + 1)
    x = rng.normal(size=(2, 3, (lmax + 1) ** 2))
    sh = e3nn.spherical_harmonics(e3nn.s2_irreps(lmax), jnp.asarray(_grid_vectors(n_theta, n_phi)), True, "integral").array
    ref = jnp.einsum("kji,abi->kjab", sh, x)
    values = sh_to_grid_major(jnp.asarray(x), lmax, n_theta, n_phi)
    assert values.shape == (n_phi, n_theta, 2, 3)
    assert relative_error(values, ref) < 1e-13


@pytest.mark.parametrize("lmax", [1, 5, 12])
def test_projection_inverts_the_transform_on_an_exact_grid(lmax, rng):
    n_theta, n_phi = s2_grid_shape(2 * lmax)
    x = jnp.asarray(rng.normal(size=(4, (lmax + 1) ** 2)))
    values = sh_to_grid_major(x, lmax, n_theta, n_phi)
    assert relative_error(grid_major_to_sh(values, lmax), x) < 1e-13
    # too coarse a grid is no longer exact: the check above can fail
    coarse = sh_to_grid_major(x, lmax, *s2_grid_shape(lmax))
    assert relative_error(grid_major_to_sh(coarse, lmax), x) > 1e-3


def test_product_broadcasts_leading_axes_of_different_rank(rng):
    x = jnp.asarray(rng.normal(size=(3, 1, 16)))  # L = 3, leading (3, 1)
    y = jnp.asarray(rng.normal(size=(5, 9)))  # L = 2, leading (5,)
    out = _s2grid(x, 3, y, 2, 5)
    assert out.shape == (3, 5, 36)
    for a in range(3):
        for b in range(5):
            single = _s2grid(x[a, 0], 3, y[b], 2, 5)
            assert relative_error(out[a, b], single) < 1e-13
    # unbatched inputs: no batch axes at all
    assert _s2grid(x[0, 0], 3, y[0], 2, 5).shape == (36,)


def test_with_batch_rank_pads_after_the_grid_axes():
    values = jnp.zeros((5, 3, 7))
    assert with_batch_rank(values, 3).shape == (5, 3, 1, 1, 7)
    with pytest.raises(ValueError, match="batch_rank"):
        with_batch_rank(values, 0)


def test_dense_forward_for_many_signals_equals_the_per_m_transform(rng):
    from geojax.tp.s2grid import DENSE_FORWARD_MIN_VALUES, use_dense_forward

    lmax, (n_theta, n_phi) = 2, s2_grid_shape(7)
    batch = -(-DENSE_FORWARD_MIN_VALUES // (n_theta * n_phi))
    assert use_dense_forward(lmax, n_theta, n_phi, batch) and not use_dense_forward(lmax, n_theta, n_phi, 8)
    assert not use_dense_forward(12, *s2_grid_shape(48), batch)  # large L: the per-m GEMMs always
    x = jnp.asarray(rng.normal(size=(batch, (lmax + 1) ** 2)))
    dense = sh_to_grid_major(x, lmax, n_theta, n_phi)
    per_m = sh_to_grid_major(x[:8], lmax, n_theta, n_phi)
    assert relative_error(dense[..., :8], per_m) < 1e-13
    sh = e3nn.spherical_harmonics(e3nn.s2_irreps(lmax), jnp.asarray(_grid_vectors(n_theta, n_phi)), True, "integral").array
    assert relative_error(dense[..., -3:], jnp.einsum("kji,bi->kjb", sh, x[-3:])) < 1e-13


@pytest.mark.parametrize("bandwidth", [0, 1, 7, 16, 32, 33, 64])
def test_kernel_grid_is_the_smallest_exact_grid_with_an_even_number_of_azimuths(bandwidth):
    from geojax.tp.s2grid import kernel_grid_shape

    n_theta, n_phi = kernel_grid_shape(bandwidth)
    smallest = s2_grid_shape(bandwidth)
    assert n_theta == smallest[0] and n_phi % 2 == 0 and n_phi in (smallest[1], smallest[1] + 1)


@pytest.mark.parametrize("lmax, bandwidth", [(0, 0), (1, 3), (4, 8), (7, 20)])
def test_parity_halves_rebuild_the_full_grid(lmax, bandwidth, rng):
    from geojax.tp.s2grid import kernel_grid_shape, sh_to_parity_halves

    n_theta, n_phi = kernel_grid_shape(bandwidth)
    x = jnp.asarray(rng.normal(size=(3, (lmax + 1) ** 2)))
    even, odd = sh_to_parity_halves(x, lmax, n_theta, n_phi)
    full = sh_to_grid_major(x, lmax, n_theta, n_phi)
    half = n_phi // 2
    assert even.shape == odd.shape == (half, n_theta, 3)
    assert relative_error(even + odd, full[:half]) < 1e-13
    assert relative_error(even - odd, full[half:]) < 1e-13
    with pytest.raises(ValueError, match="n_phi"):
        sh_to_parity_halves(x, lmax, n_theta, n_phi + 1)


@pytest.mark.parametrize("lx, ly, lmax_out", [(0, 0, 0), (1, 0, 1), (3, 3, 0), (2, 5, 7), (5, 2, 4), (4, 4, 8),
                                              (3, 4, 5), (6, 1, 9), (8, 8, 16)])
def test_parity_folded_product_equals_the_dense_product_float64(lx, ly, lmax_out, rng):
    """Every combination of even / odd degrees and output degrees below, at and above lx + ly."""
    x = jnp.asarray(rng.normal(size=(4, (lx + 1) ** 2)))
    y = jnp.asarray(rng.normal(size=(4, (ly + 1) ** 2)))
    out = _s2grid(x, lx, y, ly, lmax_out)
    ref = _dense(x, lx, y, ly, lmax_out)
    assert out.shape == (4, (lmax_out + 1) ** 2)
    assert relative_error(out, ref) < 1e-12
    if lmax_out > lx + ly:  # degrees no product reaches stay exactly zero (up to round-off)
        assert float(jnp.abs(out[:, (lx + ly + 1) ** 2:]).max()) < 1e-12


@pytest.mark.parametrize("lmax, lmax_out, lead", [(0, 0, (3,)), (1, 2, (32,)), (3, 6, (2, 16)), (3, 1, (5,)),
                                                  (4, 11, (64,)), (8, 16, (7, 3)), (9, 12, (4,))])
def test_paired_kernel_equals_the_two_branch_kernel_and_the_dense_product_float64(lmax, lmax_out, lead, rng):
    """Same-shape, same-degree operands take the one-chain kernel; batches of 32 and 64 get padded
    columns, odd degrees make the odd-m class the larger one, ``lmax_out`` is below, at and above 2L."""

    x = jnp.asarray(rng.normal(size=lead + ((lmax + 1) ** 2,)))
    y = jnp.asarray(rng.normal(size=lead + ((lmax + 1) ** 2,)))
    paired = _s2grid(x, lmax, y, lmax, lmax_out)
    two_branch = _s2grid(x, lmax, y[None], lmax, lmax_out)[0]  # shapes differ: the general kernel
    assert paired.shape == lead + ((lmax_out + 1) ** 2,)
    assert relative_error(paired, _paired(x, y, lmax, lmax_out)) == 0.0
    assert relative_error(paired, two_branch) < 1e-13
    assert relative_error(paired, _dense(x, lmax, y, lmax, lmax_out)) < 1e-12


def test_paired_kernel_float32_and_unbatched(rng):
    with jax.enable_x64(False):
        x, y = (jnp.asarray(rng.normal(size=(256, 81)), jnp.float32) for _ in range(2))
        out = _s2grid(x, 8, y, 8, 16)
        assert out.dtype == jnp.float32
    ref = _dense(jnp.asarray(x, jnp.float64), 8, jnp.asarray(y, jnp.float64), 8, 16)
    assert relative_error(out, ref) < 2e-6
    assert relative_error(_s2grid(x[0], 8, y[0], 8, 16), out[0]) < 2e-6  # no batch axes


@pytest.mark.parametrize("batch, cols", [(0, 0), (1, 1), (31, 31), (32, 40), (200, 200), (256, 264), (240, 240), (1024, 1032)])
def test_padding_moves_signal_counts_off_multiples_of_32(batch, cols):
    from geojax.tp.s2grid import padding_rows

    assert batch + padding_rows(batch) == cols


@pytest.mark.parametrize("rows, row_size, extra", [(256, 16, 1), (32, 2, 4), (32, 3, 8), (7, 32, 0), (5, 96, 0), (64, 64, 0)])
def test_padding_rows_gives_a_multiple_of_8_not_of_32(rows, row_size, extra):
    """Rows of 32 or 64 signals (and 96) keep every count a multiple of 32: those stay unpadded."""
    from geojax.tp.s2grid import padding_rows

    assert padding_rows(rows, row_size) == extra
    if extra:
        assert (rows + extra) * row_size % 32 in (8, 16, 24)


@pytest.mark.parametrize("x_shape, y_shape", [((32, 2), (32, 1)), ((64,), ()), ((1, 3), (32, 3)), ((256, 16), (256, 1))])
def test_two_branch_kernel_with_padded_rows_equals_the_dense_product_float64(x_shape, y_shape, rng):
    """Broadcast batches of a multiple of 32 signals get zero rows on the operands that span the
    first batch axis (:func:`padding_rows`); the result is cut back and unchanged."""
    x = jnp.asarray(rng.normal(size=x_shape + (16,)))  # L = 3
    y = jnp.asarray(rng.normal(size=y_shape + (9,)))  # L = 2
    out = _s2grid(x, 3, y, 2, 4)
    assert out.shape == jnp.broadcast_shapes(x_shape, y_shape) + (25,)
    assert relative_error(out, _dense(x, 3, y, 2, 4)) < 1e-12


@pytest.mark.parametrize("rows, values, row_size, budget, chunk", [
    (10, 10, 1, 100, 0),  # fits: one piece
    (16, 10, 1, 80, 0),  # two pieces: kept whole
    (24, 10, 1, 80, 8),  # three even chunks of a multiple of 8 signals
    (100, 10, 1, 300, 32),  # four pieces of 25 rows, rounded up to 32 (the last chunk overlaps)
    (100, 10, 16, 300, 25),  # rows of 16 signals are aligned already
    (100, 10, 4, 300, 26),  # rows of 4 signals: an even number of rows
    (9, 10, 1, 30, 0),  # three pieces of 3 rows round up to 8: two chunks, kept whole
    (1, 10**9, 1, 10, 0),  # one row cannot be cut
    (0, 10, 1, 1, 0),
])
def test_cpu_chunk_rows(rows, values, row_size, budget, chunk):
    from geojax.tp.s2grid import cpu_chunk_rows

    assert cpu_chunk_rows(rows, values, row_size, budget) == chunk
    if chunk:
        assert -(-rows // chunk) >= 3 and chunk * row_size % 8 == 0


def test_cpu_chunk_rows_keeps_accelerator_batches_whole(monkeypatch):
    from geojax.tp import s2grid

    monkeypatch.setattr(s2grid.jax, "default_backend", lambda: "gpu")
    assert s2grid.cpu_chunk_rows(10**6, 10**3) == 0


@pytest.mark.parametrize("lx, ly, lmax_out, x_shape, y_shape", [
    (4, 4, 8, (37,), (37,)),  # the paired kernel, 37 pairs in overlapping chunks
    (3, 3, 3, (5, 7), (5, 7)),  # paired, two batch axes flattened
    (3, 2, 4, (37, 3), (37, 1)),  # the two-branch kernel, the second operand broadcast over channels
    (3, 2, 4, (37, 3), (3,)),  # an operand of lower rank goes whole to every chunk
    (2, 3, 5, (1, 3), (37, 3)),  # an operand of one row goes whole to every chunk
])
def test_chunked_products_equal_the_dense_product_float64(lx, ly, lmax_out, x_shape, y_shape, rng, monkeypatch):
    """Batches beyond CPU_CHUNK_VALUES run in chunks (a loop in the jaxpr), the last one
    overlapping, with the same result and gradient as in one piece."""
    from geojax.tp import s2grid

    x = jnp.asarray(rng.normal(size=x_shape + ((lx + 1) ** 2,)))
    y = jnp.asarray(rng.normal(size=y_shape + ((ly + 1) ** 2,)))
    w = jnp.asarray(rng.normal(size=jnp.broadcast_shapes(x_shape, y_shape) + ((lmax_out + 1) ** 2,)))

    def value_and_grad():  # jitted afresh on each call (a new function), so it sees CPU_CHUNK_VALUES as it is now
        product = jax.jit(lambda a, b: gaunt_s2grid(a, lx, b, ly, lmax_out))
        return product(x, y), jax.jit(jax.grad(lambda a, b: jnp.sum(w * product(a, b)), (0, 1)))(x, y)

    whole, grad_whole = value_and_grad()
    monkeypatch.setattr(s2grid, "CPU_CHUNK_VALUES", 1000)
    assert "scan" in str(jax.make_jaxpr(lambda a, b: gaunt_s2grid(a, lx, b, ly, lmax_out))(x, y))  # the chunk loop
    chunked, grad_chunked = value_and_grad()
    assert chunked.shape == whole.shape
    assert relative_error(chunked, _dense(x, lx, y, ly, lmax_out)) < 1e-12
    assert relative_error(chunked, whole) < 1e-13
    for g_chunked, g_whole in zip(grad_chunked, grad_whole):
        assert relative_error(g_chunked, g_whole) < 1e-13


def test_in_chunks_rejects_a_chunk_outside_the_rows():
    from geojax.tp.s2grid import in_chunks

    x = jnp.arange(20.0).reshape(5, 4)
    for chunk in (1, 2, 5):  # 2: three chunks, the last overlapping; 5: the whole batch at once
        np.testing.assert_array_equal(in_chunks(lambda a: 2 * a + 1, (x,), chunk), 2 * x + 1)
    for chunk in (0, 6):
        with pytest.raises(ValueError, match="chunk must be in"):
            in_chunks(lambda a: a, (x,), chunk)
    with pytest.raises(ValueError, match="at least one batch axis"):
        in_chunks(lambda a: a, (jnp.zeros(4),), 1)
