"""Spherical harmonics <-> 2D Fourier basis, and the product in that basis (Luo et al., ICLR 2024).

A real signal ``f = sum_lm x_lm Y_lm`` on the sphere, continued to the torus ``(t, p) in [0, 2pi)^2``
(t the polar angle from the y axis, p the azimuth), is a 2D trigonometric polynomial
``f(t, p) = sum_{|u| <= L, |v| <= L} c[u, v] e^{i (u t + v p)}``. Products of signals are 2D
convolutions of these coefficient grids, done here pointwise on a torus grid that resolves the
product: the values by a DFT written as GEMMs (an inverse FFT on large grids,
:data:`DFT_MATMUL_MAX_SIZE`), the coefficients back by a real FFT. The projection back to
spherical harmonics is exact through ``K(k) = int_0^pi e^{ikt} sin t dt``. The Gaunt kernels
(``method="fourier"``, :class:`geojax.tp.grid.ProductGrid`) use that signals continued from the
sphere satisfy ``f(-t, p + pi) = f(t, p)`` and work on the half torus ``t in [0, pi]``
(:func:`half_torus_shape`). Cost per product is O(L^3) (the changes of basis, as small dense
products per m, and the DFT GEMMs) plus O(L^2 log L) for the FFT.

The Fourier representation used by the public functions is the half spectrum
``c[..., u + U, v]`` for ``u = -U..U`` and ``v = 0..V`` (shape ``[..., 2U+1, V+1]``, complex);
the other half follows from ``c[-u, -v] = conj(c[u, v])``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from geojax.so3.tables import from_fourier_table, to_fourier_table
from geojax.tp.signal import check_lmax_out, compute_dtype, read_signal

_FAST_FACTORS = (2, 3, 5)


def fft_size(minimum: int) -> int:
    """Smallest ``n >= minimum`` whose prime factors are 2, 3 and 5 (fast FFT lengths)."""
    n = max(int(minimum), 1)
    while True:
        k = n
        for f in _FAST_FACTORS:
            while k % f == 0:
                k //= f
        if k == 1:
            return n
        n += 1


def _spectrum_parts(array: jnp.ndarray, lmax: int, rows_u_from: int = 0) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``(Re c, Im c)``, each ``[..., V+1 (v), n (u)]``, of the 2D Fourier spectrum of sphere signals
    ``[..., (lmax+1)**2]``, for the rows ``u = rows_u_from - lmax .. lmax`` (0: all; ``lmax``:
    ``u >= 0``); computed in ``array.dtype``, no validation."""
    tab = to_fourier_table(lmax)
    dtype = array.dtype
    padded = jnp.concatenate([array, jnp.zeros(array.shape[:-1] + (1,), dtype)], axis=-1)
    a = jnp.einsum("...ml,mlu->...mu", padded[..., tab.gather], jnp.asarray(tab.theta[:, :, rows_u_from:], dtype))
    re = a[..., tab.row_re, :] * jnp.asarray(tab.sign_re, dtype)[:, None]
    im = a[..., tab.row_im, :] * jnp.asarray(tab.sign_im, dtype)[:, None]
    return re, im


@functools.lru_cache(maxsize=64)
def _sphere_projection_table(umax: int, lmax_out: int) -> tuple[np.ndarray, np.ndarray]:
    """``(table [lmax_out+1 (v), 2 (U+1), 2 (lmax_out+1)], flat [(lmax_out+1)**2])`` float64 / int32:
    :func:`from_fourier` for sphere spectra (``c[-u, v] = (-1)^v c[u, v]``) given by their rows
    ``u >= 0``, stacked ``[Re; Im]``: the rows of :func:`geojax.so3.tables.from_fourier_table`
    for ``m = +v`` and ``m = -v`` side by side (one input column serves both), folded onto
    ``u >= 0`` with ``c[-u, v] = (-1)^v c[u, v]``; ``flat`` picks e3nn's order from the
    ``[v, (m >= 0 | m < 0), l]`` result.
    """
    full = from_fourier_table(umax, lmax_out).table  # [2 lmax_out + 1 (m), 2 (2U+1), lmax_out + 1]
    n_l, n_u = lmax_out + 1, 2 * umax + 1
    table = np.zeros((n_l, 2 * (umax + 1), 2 * n_l))
    for v in range(n_l):
        for side, m in enumerate((v, -v) if v else (0,)):
            for part in range(2):  # rows of Re c, then of Im c
                rows = full[m + lmax_out, part * n_u : (part + 1) * n_u]  # u = -U..U
                folded = rows[umax:].copy()
                folded[1:] += (-1) ** v * rows[umax - 1 :: -1]
                table[v, part * (umax + 1) : (part + 1) * (umax + 1), side * n_l : (side + 1) * n_l] = folded
    l = np.repeat(np.arange(n_l), 2 * np.arange(n_l) + 1)
    m = np.concatenate([np.arange(-k, k + 1) for k in range(n_l)])
    flat = np.abs(m) * 2 * n_l + (m < 0) * n_l + l
    return table, flat.astype(np.int32)


def _to_torus_fft_layout(coeffs: jnp.ndarray, n_u: int, n_v_half: int) -> jnp.ndarray:
    """Centred ``[..., 2U+1, V+1]`` -> zero-padded FFT order ``[..., n_u, n_v_half]``."""
    umax = (coeffs.shape[-2] - 1) // 2
    lead = coeffs.shape[:-2]
    gap = jnp.zeros(lead + (n_u - 2 * umax - 1, coeffs.shape[-1]), coeffs.dtype)
    ordered = jnp.concatenate([coeffs[..., umax:, :], gap, coeffs[..., :umax, :]], axis=-2)
    return jnp.pad(ordered, [(0, 0)] * (ordered.ndim - 1) + [(0, n_v_half - coeffs.shape[-1])])


# Up to this grid size torus_values is two real GEMMs (a DFT as matmul) instead of a zero-padded
# inverse FFT: the coefficients fill a quarter of the padded spectrum or less, and XLA:CPU spends
# more on the padded layout than on the FFT. Ad hoc, 2 CPU cores, float32 (matmul against FFT):
# L = 8 products (36 x 36 grid, 512 signals) 0.77 vs 1.62 ms, L = 16 (72 x 72) 3.2 vs 9.1 ms,
# L = 32 (135 x 135, 128 signals) 4.3 vs 9.7 ms, L = 48 (200 x 200, 32 signals) 3.7 vs 8.1 ms,
# L = 64 (270 x 270) 13.0 vs 8.5 ms. The way back (torus_coefficients) stays an FFT: there the
# matmul was slower from L = 8 on (0.72 vs 0.51 ms at L = 8, 3.6 vs 1.2 ms at L = 16).
DFT_MATMUL_MAX_SIZE = 240


@functools.lru_cache(maxsize=64)
def _synthesis_tables(umax: int, vmax: int, n_u: int, n_v: int) -> tuple[np.ndarray, np.ndarray]:
    """``(along_t [2 n_u, 2 (2U+1)], along_p [n_v, 2 (V+1)])`` float64 for :func:`torus_values`.

    ``along_t`` maps ``[Re c; Im c]`` (rows ``u = -U..U``) to ``[Re d; Im d]`` with
    ``d[j, v] = sum_u c[u, v] e^{i u t_j}``; ``along_p`` maps ``[Re d, Im d]`` (columns ``v``) to
    ``f[j, k] = sum_v w_v Re(d[j, v] e^{i v p_k})``, ``w_0 = 1`` and ``w_v = 2`` (the other half
    of the Hermitian spectrum), ``t_j = 2 pi j / n_u``, ``p_k = 2 pi k / n_v``.
    """
    angle = np.outer(2 * np.pi * np.arange(n_u) / n_u, np.arange(-umax, umax + 1))
    cos, sin = np.cos(angle), np.sin(angle)
    along_t = np.block([[cos, -sin], [sin, cos]])
    along_p = np.concatenate(_hermitian_azimuth_tables(np.arange(vmax + 1), n_v), axis=1)
    return along_t, along_p


def _hermitian_azimuth_tables(v: np.ndarray, n_v: int) -> tuple[np.ndarray, np.ndarray]:
    """``(w_v cos(v p_k), -w_v sin(v p_k))``, each ``[n_v, len(v)]``, ``p_k = 2 pi k / n_v``,
    ``w_0 = 1`` and ``w_v = 2``: ``f(p_k) = sum_v w_v Re(d_v e^{i v p_k})`` is ``cos @ Re d + sin @ Im d``
    over the half spectrum ``v >= 0`` of a real signal."""
    weight = np.where(v == 0, 1.0, 2.0)
    angle = np.outer(2 * np.pi * np.arange(n_v) / n_v, v)
    return weight * np.cos(angle), -weight * np.sin(angle)


def torus_values(coeffs: jnp.ndarray, n_u: int, n_v: int) -> jnp.ndarray:
    """Values ``f(2 pi j / n_u, 2 pi k / n_v)`` of a half-spectrum on a uniform torus grid ``[..., n_u, n_v]``.

    ``f(t, p) = sum_{u, v} c[u, v] e^{i (u t + v p)}`` over the full (Hermitian) spectrum; the grid
    must resolve it (``n_u >= 2U+1``, ``n_v >= 2V+1``). A DFT as two real GEMMs up to
    :data:`DFT_MATMUL_MAX_SIZE` points per axis, an inverse FFT beyond.
    """
    umax, vmax = (coeffs.shape[-2] - 1) // 2, coeffs.shape[-1] - 1
    if max(n_u, n_v) > DFT_MATMUL_MAX_SIZE:
        grid = _to_torus_fft_layout(coeffs, n_u, n_v // 2 + 1)
        return jnp.fft.irfft2(grid, s=(n_u, n_v)) * (n_u * n_v)
    along_t, along_p = _synthesis_tables(umax, vmax, n_u, n_v)
    dtype = coeffs.real.dtype
    d = jnp.einsum("ju,...uv->...jv", jnp.asarray(along_t, dtype), jnp.concatenate([coeffs.real, coeffs.imag], axis=-2))
    d = jnp.concatenate([d[..., :n_u, :], d[..., n_u:, :]], axis=-1)  # [..., n_u, 2 (V+1)]: [Re d, Im d]
    return jnp.einsum("kv,...jv->...jk", jnp.asarray(along_p, dtype), d)


def torus_coefficients(values: jnp.ndarray, umax: int, vmax: int) -> jnp.ndarray:
    """Half-spectrum ``[..., 2 umax + 1, vmax + 1]`` of real torus values ``[..., n_u, n_v]``."""
    n_u, n_v = values.shape[-2:]
    spec = jnp.fft.rfft2(values) / (n_u * n_v)
    centred = jnp.concatenate([spec[..., n_u - umax :, :], spec[..., : umax + 1, :]], axis=-2)
    return centred[..., : vmax + 1]


def torus_grid_size(u_bandwidths: tuple[int, ...], v_bandwidths: tuple[int, ...], vmax: int) -> tuple[int, int]:
    """FFT sizes ``(n_u, n_v)`` for multiplying signals of the given bandwidths in ``u`` and ``v`` without aliasing.

    The product has bandwidths ``sum(u_bandwidths)`` in ``u`` and ``Bv = sum(v_bandwidths)`` in
    ``v``: every ``u`` is needed (the projection is dense in u), so ``n_u >= 2 sum(u_bandwidths) + 1``;
    only ``v <= vmax`` is needed, so ``n_v >= Bv + vmax + 1``, and each factor must fit
    (``n_v >= 2 max(v_bandwidths) + 1``).
    """
    v_total = sum(v_bandwidths)
    return fft_size(2 * sum(u_bandwidths) + 1), fft_size(max(v_total + vmax + 1, 2 * max(v_bandwidths) + 1))


# --------------------------------------------------------------------------------------------
# The half torus: products of signals continued from the sphere
# --------------------------------------------------------------------------------------------
# A signal continued from the sphere satisfies f(-t, p + pi) = f(t, p), so its spectrum has
# c[-u, v] = (-1)^v c[u, v], and so does every product of such signals. On a torus grid with even
# n_u and n_v the rows t_j and t_{n_u - j} then hold the same values shifted by half a turn in p:
# the rows j = 0..n_u/2 (t from pole to pole) determine everything. The Gaunt kernels multiply on
# those rows only (about the points of the Gauss-Legendre grid instead of twice as many): values by
# a DFT over u >= 0 folded by the symmetry, then over v; back by a real FFT over p and one dot per v
# that folds the sum over t into the projection to spherical harmonics.


def half_torus_shape(bandwidths: tuple[int, ...], vmax: int) -> tuple[int, int]:
    """``(n_u / 2 + 1, n_v)``: the rows ``t_j = 2 pi j / n_u`` (``j = 0..n_u/2``) and the azimuths
    ``p_k = 2 pi k / n_v`` of a half torus exact for the product of signals of the given
    bandwidths, kept to azimuthal frequency ``vmax``: ``n_u = 2B + 2`` and ``n_v`` the even number
    from ``B + vmax + 1`` (no aliasing onto the kept ``|u| <= B``, ``v <= vmax``), ``B = sum(bandwidths)``.
    """
    total = sum(bandwidths)
    n_v = total + vmax + 1
    return total + 2, n_v + n_v % 2


@functools.lru_cache(maxsize=64)
def _half_torus_synthesis_tables(umax: int, vmax: int, rows: int, n_v: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(cos [rows, U+1], sin [rows, U+1], along_p [2, V+1, n_v])`` float64 for :func:`sh_to_half_torus`.

    With ``c[-u, v] = (-1)^v c[u, v]``, ``d[j, v] = sum_{all u} c[u, v] e^{i u t_j}`` is
    ``cos @ c[u >= 0, v]`` for even ``v`` and ``i sin @ c[u >= 0, v]`` for odd ``v`` (the pair
    ``+-u`` gives ``2 cos(u t_j)`` or ``2 i sin(u t_j)``). ``along_p`` maps ``(Re d, Im d)`` with the
    columns ordered even ``v``, then odd, to ``f[j, k] = sum_v w_v Re(d[j, v] e^{i v p_k})``
    (``w_0 = 1``, else 2).
    """
    n_u = 2 * (rows - 1)
    angle = np.outer(2 * np.pi * np.arange(rows) / n_u, np.arange(umax + 1))
    cos, sin = 2 * np.cos(angle), 2 * np.sin(angle)
    cos[:, 0], sin[:, 0] = 1.0, 0.0
    v = np.concatenate([np.arange(0, vmax + 1, 2), np.arange(1, vmax + 1, 2)])
    return cos, sin, np.stack([part.T for part in _hermitian_azimuth_tables(v, n_v)])


def sh_to_half_torus(array: jnp.ndarray, lmax: int, rows: int, n_v: int) -> jnp.ndarray:
    """``[..., (lmax+1)**2] -> [..., rows, n_v]``: a sphere signal evaluated on the half torus of
    :func:`half_torus_shape`, through its 2D Fourier spectrum (:func:`to_fourier`) of which only the
    rows ``u >= 0`` are formed: ``c[-u, v] = (-1)^v c[u, v]`` folds the sum over ``u``, and the real
    and imaginary parts go through the fold as separate real GEMMs (no complex arithmetic)."""
    dtype = array.dtype
    cos, sin, along_p = _half_torus_synthesis_tables(lmax, lmax, rows, n_v)
    re, im = _spectrum_parts(array, lmax, rows_u_from=lmax)  # [..., v, u >= 0]
    # even v: d = cos @ c; odd v: d = i sin @ c, i.e. Re d = -sin @ Im c, Im d = sin @ Re c
    d_even = jnp.einsum("ju,...cvu->...cvj", jnp.asarray(cos, dtype), jnp.stack([re[..., 0::2, :], im[..., 0::2, :]], axis=-3))
    d_odd = jnp.einsum("ju,...cvu->...cvj", jnp.asarray(sin, dtype), jnp.stack([-im[..., 1::2, :], re[..., 1::2, :]], axis=-3))
    d = jnp.concatenate([d_even, d_odd], axis=-2)  # [..., (Re | Im), v (even, then odd), rows]
    return jnp.einsum("cvk,...cvj->...jk", jnp.asarray(along_p, dtype), d)


@functools.lru_cache(maxsize=64)
def _half_torus_projection_table(rows: int, umax: int, lmax_out: int) -> tuple[np.ndarray, np.ndarray]:
    """``(table [lmax_out+1 (v), rows, 2, lmax_out+1], flat [(lmax_out+1)**2])``: ``Re G`` of one
    column ``v`` on the rows ``j = 0..n_u/2`` (``G[j, v] = sum_k g[j, k] e^{-i v p_k} / n_v``) straight
    to the outputs ``(l, m = +v)``, ``Im G`` to ``(l, m = -v)`` (the other two blocks are zero);
    ``flat`` picks e3nn's order from the ``[v, (m >= 0 | m < 0), l]`` result.

    The full sum over ``t`` is ``c[u, v] = sum_j mu_j G[j, v] (e^{-i u t_j} + (-1)^v e^{i u t_j}) / n_u``
    (rows ``j`` and ``n_u - j`` paired, ``mu = 1/2`` for the poles ``j = 0, n_u/2``), which is
    composed with the folded projection of ``c``'s rows ``u = 0..umax``.
    """
    n_u = 2 * (rows - 1)
    t = 2 * np.pi * np.arange(rows) / n_u
    mu = np.ones(rows)
    mu[[0, -1]] = 0.5
    angle = np.outer(np.arange(umax + 1), t)
    bc, bs = 2 * np.cos(angle) * mu / n_u, 2 * np.sin(angle) * mu / n_u  # [U+1, rows]
    zero = np.zeros_like(bc)
    to_c = {0: np.block([[bc, zero], [zero, bc]]), 1: np.block([[zero, bs], [-bs, zero]])}  # [Re c; Im c] <- [Re G; Im G]
    project, flat = _sphere_projection_table(umax, lmax_out)  # [v, 2 (U+1), 2 (lmax_out+1)]
    n_l = lmax_out + 1
    table = np.stack([to_c[v % 2].T @ project[v] for v in range(n_l)])  # [v, (Re | Im) x rows, (m >= 0 | m < 0) x l]
    table = table.reshape(n_l, 2, rows, 2, n_l)
    crossed = max(np.abs(table[:, 0, :, 1]).max(), np.abs(table[:, 1, :, 0]).max())
    if crossed > 1e-12 * np.abs(table).max():  # the dot below keeps only Re G -> m >= 0 and Im G -> m < 0
        raise RuntimeError(f"half-torus projection table: cross blocks should vanish, largest is {crossed:.3g} "
                           f"(rows={rows}, umax={umax}, lmax_out={lmax_out})")
    return np.stack([table[:, 0, :, 0], table[:, 1, :, 1]], axis=2), flat


def half_torus_projection(values: jnp.ndarray, umax: int, lmax_out: int) -> jnp.ndarray:
    """``[..., rows, n_v] -> [..., (lmax_out+1)**2]``: the exact projection onto degrees
    ``<= lmax_out`` of a product of sphere signals given on the half torus (band limit ``umax`` in
    ``t``; the grid of :func:`half_torus_shape`). A real FFT over ``p``, then one dot per ``v`` and
    sign of ``m``."""
    rows, n_v = values.shape[-2:]
    table, flat = _half_torus_projection_table(rows, umax, lmax_out)
    spectrum = jnp.fft.rfft(values, axis=-1)[..., : lmax_out + 1] / n_v  # [..., rows, lmax_out + 1]
    parts = jnp.stack([spectrum.real, spectrum.imag], axis=-2)  # [..., rows, 2, lmax_out + 1]
    out = jnp.einsum("...jcv,vjcl->...vcl", parts, jnp.asarray(table, values.dtype))
    return out.reshape(out.shape[:-3] + (out.shape[-3] * out.shape[-2] * out.shape[-1],))[..., flat]


def _check_coeffs(c: jnp.ndarray, name: str) -> int:
    if c.ndim < 2 or c.shape[-2] % 2 != 1 or not jnp.issubdtype(c.dtype, jnp.complexfloating):
        raise ValueError(
            f"{name}: expected complex Fourier coefficients of shape [..., 2U+1, V+1] "
            f"(as to_fourier returns), got {c.dtype} {c.shape}"
        )
    return (c.shape[-2] - 1) // 2


@jax.jit
def to_fourier(x) -> jnp.ndarray:
    """Spherical-harmonic coefficients -> 2D Fourier coefficients (half spectrum).

    Args:
      x: ``e3nn.IrrepsArray`` of ``e3nn.s2_irreps(L, ...)`` or array ``[..., (L+1)**2]``
        (e3nn ordering, integral normalization).

    Returns:
      Complex ``[..., 2L+1, L+1]`` with ``c[..., u + L, v]`` the coefficient of ``e^{i(u t + v p)}``
      of ``f = sum_lm x_lm Y_lm`` continued to the torus, ``v >= 0``. complex64 for float32 and
      half-precision inputs, complex128 for float64.

    Formula: ``c[u, 0] = A[0, u]``, ``c[u, v] = (A[v, u] - i A[-v, u]) / sqrt 2`` (v > 0) with
    ``A[m, u] = sum_l x_lm t_l^|m|[u]`` and ``t`` the Fourier series of the Legendre factor.

    Raises:
      TypeError: non-floating input. ValueError: last axis not ``(L+1)**2`` or irreps not spherical.
    """
    signal = read_signal(x, "x")
    _, dtype = compute_dtype(signal.array.dtype)
    return jnp.swapaxes(jax.lax.complex(*_spectrum_parts(signal.array.astype(dtype), signal.lmax)), -1, -2)


@functools.partial(jax.jit, static_argnames=("lmax_out",))
def from_fourier(coeffs: jnp.ndarray, lmax_out: int | None = None) -> jnp.ndarray:
    """2D Fourier coefficients (half spectrum) -> spherical-harmonic coefficients.

    Args:
      coeffs: complex ``[..., 2U+1, V+1]`` of a real function on the torus.
      lmax_out: largest output degree (default ``U``, the largest degree present).

    Returns:
      Real ``[..., (lmax_out+1)**2]``: ``out_lm = int_{S^2} f Y_lm``, exact (closed-form integrals
      ``z^{lm}_{uv} = int int e^{i(ut + vp)} Y_lm sin t dt dp``).

    Raises:
      ValueError: ``coeffs`` not complex ``[..., odd, V+1]``; ``lmax_out < 0``.
    """
    umax = _check_coeffs(coeffs, "coeffs")
    lmax_out = check_lmax_out(lmax_out, max(umax, 0) if lmax_out is None else 10**9)
    width = coeffs.shape[-1]
    if width < lmax_out + 1:  # higher azimuthal frequencies are zero
        coeffs = jnp.pad(coeffs, [(0, 0)] * (coeffs.ndim - 1) + [(0, lmax_out + 1 - width)])
    tab = from_fourier_table(umax, lmax_out)
    dtype = coeffs.real.dtype
    cols = jnp.swapaxes(coeffs[..., tab.vcol], -1, -2)  # [..., m, u]
    stacked = jnp.concatenate([cols.real, cols.imag], axis=-1)
    out = jnp.einsum("...mk,mkl->...ml", stacked, jnp.asarray(tab.table, dtype))
    return out.reshape(out.shape[:-2] + (out.shape[-2] * out.shape[-1],))[..., tab.scatter]


@functools.partial(jax.jit, static_argnames=("vmax",))
def fourier_product(a: jnp.ndarray, b: jnp.ndarray, *, vmax: int | None = None) -> jnp.ndarray:
    """Product of two real functions given by their 2D Fourier half spectra: a 2D linear convolution.

    Args:
      a: complex ``[..., 2Ua+1, Va+1]``; b: complex ``[..., 2Ub+1, Vb+1]`` (leading axes broadcast).
      vmax: keep azimuthal frequencies ``v <= vmax`` (default ``Va + Vb``, everything).

    Returns:
      complex ``[..., 2(Ua+Ub)+1, vmax+1]``, ``c[u, v] = sum_{u', v'} a[u', v'] b[u - u', v - v']``
      over the full (Hermitian) spectra, computed pointwise on a torus grid (:func:`torus_values`,
      a DFT as GEMMs or an inverse FFT, then a real FFT back).

    Raises:
      ValueError: inputs not complex ``[..., odd, V+1]``; ``vmax`` outside ``[0, Va + Vb]``.
    """
    ua, ub = _check_coeffs(a, "a"), _check_coeffs(b, "b")
    va, vb = a.shape[-1] - 1, b.shape[-1] - 1  # V and U are independent (V = U from to_fourier)
    vmax = check_lmax_out(vmax, va + vb, "vmax")
    dtype = jnp.promote_types(a.dtype, b.dtype)
    n_u, n_v = torus_grid_size((ua, ub), (va, vb), vmax)
    values = torus_values(a.astype(dtype), n_u, n_v) * torus_values(b.astype(dtype), n_u, n_v)
    return torus_coefficients(values, ua + ub, vmax)
