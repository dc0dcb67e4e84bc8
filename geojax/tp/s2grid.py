"""Products on the exact S^2 quadrature grid (Gauss-Legendre in cos t x uniform in p).

A product of signals of degrees ``Lx``, ``Ly`` projected onto degree ``<= lmax_out`` integrates a
polynomial of degree ``Lx + Ly + lmax_out`` over the sphere: the grid of
``s2_grid_shape(Lx + Ly + lmax_out)`` is exact for it (the kernels use it with an even number of
azimuths, :func:`kernel_grid_shape`). Both transforms are dense products per m
(O(L^3)); no FFT, which makes this method fast on CPUs and accelerators at small L.

Layout: inside this module the batch axes come *last* ("grid-major": coefficients
``[2L+1 (m), L+1 (l), ...]``, grid values ``[n_phi, n_theta, ...]``). Every transform is then a
small table times a wide ``[K, batch]`` matrix, a GEMM XLA runs without transposes between the
stages; only the input and the output change layout. On 2 CPU cores this made the L = 8 product
about 1.6x faster than the same math with the batch axes first (README "Benchmarks").
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from geojax.so3.tables import s2_grid_shape, s2_grid_table, s2_projection_table, sh_to_m_layout


@functools.lru_cache(maxsize=64)
def _forward_tables(lmax: int, n_theta: int, n_phi: int) -> tuple[np.ndarray, np.ndarray]:
    """``(theta [2L+1 (m), n_theta, L+1 (l)], phi [n_phi, 2L+1])`` float64, laid out so both
    GEMMs contract the tables' last axis (XLA:CPU then uses its fast GEMM path, not a transposed one)."""
    tab = s2_grid_table(lmax, n_theta, n_phi)
    return np.ascontiguousarray(np.transpose(tab.theta, (0, 2, 1))), np.ascontiguousarray(tab.phi.T)


# The forward transform is one GEMM with the whole ``Y_lm``-on-grid table when that needs at most
# DENSE_FORWARD_RATIO times the multiply-adds of the two per-m GEMMs *and* the values fill more
# than DENSE_FORWARD_MIN_VALUES floats (beyond the caches, where the per-m GEMMs, with 2L+1 and
# L+1 long contractions, are limited by memory traffic and the dense GEMM is not). Measured on 2
# CPU cores: the E(3) potential at L = 6 (25,000 edge signals) trains 15% faster with the dense
# forward; the batch-256 products at L = 5-6 are 15% slower with it (README "Benchmarks").
DENSE_FORWARD_RATIO = 3.0
DENSE_FORWARD_MIN_VALUES = 2**20


def kernel_grid_shape(bandwidth: int) -> tuple[int, int]:
    """``(n_theta, n_phi)`` this module uses for an integrand of total degree ``bandwidth``.

    :func:`geojax.so3.tables.s2_grid_shape` (the smallest exact grid) with ``n_phi`` rounded up to
    an even number: still exact (uniform azimuths integrate frequencies ``< n_phi``), and on 2 CPU
    cores an even ``n_phi`` made the batch-256 products 3-8% faster at L = 8, 9 and 16 (L = 8:
    ``17 x 34`` 0.51-0.54 ms against ``17 x 33`` 0.56-0.59 ms, 200 interleaved rounds) and no slower
    at L = 4 and 12; more points than that only cost time.
    """
    n_theta, n_phi = s2_grid_shape(bandwidth)
    return n_theta, n_phi + n_phi % 2


def use_dense_forward(lmax: int, n_theta: int, n_phi: int, batch: int) -> bool:
    """Whether :func:`sh_to_grid_major` uses one dense GEMM for ``batch`` signals (see above)."""
    dense = (lmax + 1) ** 2 * n_theta * n_phi
    per_m = (2 * lmax + 1) * n_theta * ((lmax + 1) + n_phi)
    return dense <= DENSE_FORWARD_RATIO * per_m and batch * n_theta * n_phi >= DENSE_FORWARD_MIN_VALUES


@functools.lru_cache(maxsize=64)
def _dense_forward_table(lmax: int, n_theta: int, n_phi: int) -> np.ndarray:
    """``Y_lm(t_j, p_k)`` as one matrix ``[n_phi * n_theta, (L+1)**2]`` (flat e3nn order), float64."""
    tab = s2_grid_table(lmax, n_theta, n_phi)
    values = np.einsum("mlj,mk->kjml", tab.theta, tab.phi)  # zero where l < |m|
    gather, _ = sh_to_m_layout(lmax)
    out = np.zeros((n_phi * n_theta, (lmax + 1) ** 2 + 1))
    np.add.at(out, (slice(None), gather.ravel()), values.reshape(n_phi * n_theta, -1))
    return out[:, :-1]


def _m_major(array: jnp.ndarray, lmax: int, order: np.ndarray | None = None) -> jnp.ndarray:
    """``[..., (L+1)**2] -> [2L+1 (m), L+1 (l), ...]``, zero where ``l < |m|``; the rows of m in
    ``order`` (positions in ``-L..L``) if given."""
    gather, _ = sh_to_m_layout(lmax)
    if order is not None:
        gather = gather[order]
    flat = jnp.moveaxis(array, -1, 0)
    padded = jnp.concatenate([flat, jnp.zeros((1,) + flat.shape[1:], flat.dtype)], axis=0)
    return padded[gather]


def _flat_from_m_major(coeffs: jnp.ndarray, lmax: int) -> jnp.ndarray:
    """``[2L+1 (m), L+1 (l), ...] -> [..., (L+1)**2]`` in e3nn order (static slices, no gather)."""
    flat = jnp.concatenate([coeffs[lmax - l : lmax + l + 1, l] for l in range(lmax + 1)], axis=0)
    return jnp.moveaxis(flat, 0, -1)


def sh_to_grid_major(array: jnp.ndarray, lmax: int, n_theta: int, n_phi: int) -> jnp.ndarray:
    """``[..., (L+1)**2] -> [n_phi, n_theta, ...]``: values ``f(t_j, p_k)`` with the batch axes last.

    ``f(t_j, p_k) = sum_m Phi_m(p_k) sum_l Theta_l^|m|(t_j) x_lm``: a batched GEMM over ``m``
    (Legendre, ``(L+1) x n_theta`` per m) and one GEMM over ``m`` (azimuth, ``(2L+1) x n_phi``),
    or, for many signals at small L (:func:`use_dense_forward`), one GEMM with ``Y_lm(t_j, p_k)``.
    """
    dtype = array.dtype
    if use_dense_forward(lmax, n_theta, n_phi, math.prod(array.shape[:-1])):
        table = jnp.asarray(_dense_forward_table(lmax, n_theta, n_phi), dtype)
        values = jnp.einsum("gi,i...->g...", table, jnp.moveaxis(array, -1, 0))
        return values.reshape((n_phi, n_theta) + array.shape[:-1])
    theta, phi = _forward_tables(lmax, n_theta, n_phi)
    g = jnp.einsum("mjl,ml...->mj...", jnp.asarray(theta, dtype), _m_major(array, lmax))
    return jnp.einsum("km,mj...->kj...", jnp.asarray(phi, dtype), g)


def grid_major_to_sh(values: jnp.ndarray, lmax_out: int) -> jnp.ndarray:
    """``[n_phi, n_theta, ...] -> [..., (lmax_out+1)**2]`` by the exact quadrature rule.

    ``out_lm = sum_j w_j Theta_l^|m|(t_j) (2 pi / n_phi) sum_k Phi_m(p_k) f(t_j, p_k)``.
    """
    n_phi, n_theta = values.shape[:2]
    phi_w, theta_w = s2_projection_table(lmax_out, n_theta, n_phi)
    dtype = values.dtype
    h = jnp.einsum("mk,kj...->mj...", jnp.asarray(phi_w, dtype), values)
    coeffs = jnp.einsum("mlj,mj...->ml...", jnp.asarray(theta_w, dtype), h)
    return _flat_from_m_major(coeffs, lmax_out)


def with_batch_rank(values: jnp.ndarray, batch_rank: int) -> jnp.ndarray:
    """Grid-major ``[G1, G2, *batch] -> [G1, G2, 1, ..., 1, *batch]`` with ``batch_rank`` batch axes.

    Numpy broadcasting aligns axes from the right, which here are the batch axes: values of signals
    whose batch ranks differ must be padded like this before they are multiplied.

    Raises:
      ValueError: ``values`` already has more than ``batch_rank`` batch axes.
    """
    batch = values.shape[2:]
    if len(batch) > batch_rank:
        raise ValueError(f"batch_rank: values already have {len(batch)} batch axes, got batch_rank={batch_rank}")
    return values.reshape(values.shape[:2] + (1,) * (batch_rank - len(batch)) + batch)


def _m_parity(lmax: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the even and the odd orders ``m`` in ``-L..L``."""
    ms = np.arange(-lmax, lmax + 1)
    return np.flatnonzero(ms % 2 == 0), np.flatnonzero(ms % 2 == 1)


@functools.lru_cache(maxsize=64)
def _parity_forward_tables(lmax: int, n_theta: int, n_phi: int):
    """``(order, theta, phi_even, phi_odd, n_even)``: the forward tables with the orders sorted
    even-first and the azimuth tables restricted to the first ``n_phi / 2`` azimuths."""
    theta, phi = _forward_tables(lmax, n_theta, n_phi)
    even, odd = _m_parity(lmax)
    order = np.concatenate([even, odd])
    half = n_phi // 2
    return order, theta[order], phi[:half, even], phi[:half, odd], len(even)


@functools.lru_cache(maxsize=64)
def _parity_projection_tables(lmax_out: int, n_theta: int, n_phi: int):
    """``(phi_even, phi_odd, theta_even, theta_odd, flat)``: projection tables split by the parity
    of m, and ``flat`` taking the stacked ``[even m; odd m] x l`` coefficients to e3nn order."""
    phi_w, theta_w = s2_projection_table(lmax_out, n_theta, n_phi)
    even, odd = _m_parity(lmax_out)
    half = n_phi // 2
    row = np.empty(2 * lmax_out + 1, dtype=np.int64)
    row[even], row[odd] = np.arange(len(even)), len(even) + np.arange(len(odd))
    flat = np.array([row[m + lmax_out] * (lmax_out + 1) + l for l in range(lmax_out + 1) for m in range(-l, l + 1)],
                    dtype=np.int32)  # int64 indices warn (and are truncated) without jax_enable_x64
    return phi_w[even, :half], phi_w[odd, :half], theta_w[even], theta_w[odd], flat


def sh_to_parity_halves(array: jnp.ndarray, lmax: int, n_theta: int, n_phi: int) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``[..., (L+1)**2] -> (E, O)``, each ``[n_phi / 2, n_theta, ...]`` (batch axes last).

    ``Phi_m(p + pi) = (-1)^m Phi_m(p)``, so with an even number of azimuths the values are
    ``f(t_j, p_k) = E_kj + O_kj`` and ``f(t_j, p_k + pi) = E_kj - O_kj`` for ``k < n_phi / 2``, with
    ``E`` (``O``) the sum over the even (odd) orders: half the azimuth multiply-adds of
    :func:`sh_to_grid_major`.

    Raises:
      ValueError: ``n_phi`` is odd (the fold pairs every azimuth with its antipode).
    """
    if n_phi % 2:
        raise ValueError(f"n_phi: the parity fold needs an even number of azimuths, got {n_phi}")
    order, theta, phi_even, phi_odd, n_even = _parity_forward_tables(lmax, n_theta, n_phi)
    dtype = array.dtype
    g = jnp.einsum("mjl,ml...->mj...", jnp.asarray(theta, dtype), _m_major(array, lmax, order))
    even = jnp.einsum("km,mj...->kj...", jnp.asarray(phi_even, dtype), g[:n_even])
    odd = jnp.einsum("km,mj...->kj...", jnp.asarray(phi_odd, dtype), g[n_even:])
    return even, odd


def gaunt_s2grid(x: jnp.ndarray, lx: int, y: jnp.ndarray, ly: int, lmax_out: int) -> jnp.ndarray:
    """Gaunt product on the smallest exact grid with an even number of azimuths (:func:`kernel_grid_shape`); leading axes of ``x`` and ``y`` broadcast.

    Folded by azimuth parity (:func:`sh_to_parity_halves`) and fused with the pointwise product:
    the projection onto an even (odd) order sums ``f(p_k) +- f(p_k + pi)``, which for ``f = f_x f_y``
    is ``2 (E_x E_y + O_x O_y)`` (``2 (E_x O_y + O_x E_y)``), so the full grid is never formed.
    On 2 CPU cores (batch 256, float32) this was 1.6x faster than the unfolded product at L = 4
    and 10-15% at L = 12 and 16, within noise at L = 8 (docs/benchmarks/HISTORY.md). Operands of the same
    degree and shape take :func:`_gaunt_s2grid_paired`, the same math as one chain of 7 XLA ops.
    Broadcast batches of a multiple of 32 signals get :func:`padding_rows` zero rows on their first
    axis for the final transpose, dropped from the result. On the CPU backend, batches whose grid
    values exceed twice :data:`CPU_CHUNK_VALUES` run in chunks of the first batch axis, one after
    another (:func:`cpu_chunk_rows`, :func:`in_chunks`).
    """
    if lx == ly and x.shape == y.shape:
        lead, size = x.shape[:-1], x.shape[-1]
        batch = math.prod(lead)
        n_theta, n_phi = kernel_grid_shape(2 * lx + lmax_out)
        chunk = cpu_chunk_rows(batch, 2 * n_theta * n_phi)
        if not chunk:
            return _gaunt_s2grid_paired(x, y, lx, lmax_out)
        out = in_chunks(lambda a, b: _gaunt_s2grid_paired(a, b, lx, lmax_out),
                        (x.reshape(batch, size), y.reshape(batch, size)), chunk)
        return out.reshape(lead + out.shape[-1:])
    lead = jnp.broadcast_shapes(x.shape[:-1], y.shape[:-1])
    n_theta, n_phi = kernel_grid_shape(lx + ly + lmax_out)
    row_size = math.prod(lead[1:])
    chunk = cpu_chunk_rows(lead[0], 2 * n_theta * n_phi * row_size, row_size) if lead else 0
    if not chunk:
        return _gaunt_s2grid_two_branch(x, lx, y, ly, lmax_out)
    return in_chunks(lambda a, b: _gaunt_s2grid_two_branch(a, lx, b, ly, lmax_out), (x, y), chunk)


def _gaunt_s2grid_two_branch(x: jnp.ndarray, lx: int, y: jnp.ndarray, ly: int, lmax_out: int) -> jnp.ndarray:
    """The general kernel of :func:`gaunt_s2grid` (broadcast batches, mixed degrees): each operand
    through :func:`sh_to_parity_halves`, the folded product, the even and odd orders projected in
    two branches."""
    lead = jnp.broadcast_shapes(x.shape[:-1], y.shape[:-1])
    n_theta, n_phi = kernel_grid_shape(lx + ly + lmax_out)
    extra = padding_rows(lead[0], math.prod(lead[1:])) if lead else 0
    if extra:  # zero rows on the first batch axis of each operand that spans it (see padding_rows)
        x, y = (jnp.pad(a, ((0, extra),) + ((0, 0),) * (a.ndim - 1)) if _spans_first_axis(a, lead) else a for a in (x, y))
    rank = max(x.ndim, y.ndim) - 1
    ex, ox = (with_batch_rank(v, rank) for v in sh_to_parity_halves(x, lx, n_theta, n_phi))
    ey, oy = (with_batch_rank(v, rank) for v in sh_to_parity_halves(y, ly, n_theta, n_phi))
    phi_even, phi_odd, theta_even, theta_odd, flat = _parity_projection_tables(lmax_out, n_theta, n_phi)
    dtype = ex.dtype
    h_even = jnp.einsum("mk,kj...->mj...", jnp.asarray(phi_even, dtype), 2 * (ex * ey + ox * oy))
    h_odd = jnp.einsum("mk,kj...->mj...", jnp.asarray(phi_odd, dtype), 2 * (ex * oy + ox * ey))
    coeffs = jnp.concatenate([jnp.einsum("mlj,mj...->ml...", jnp.asarray(theta_even, dtype), h_even),
                              jnp.einsum("mlj,mj...->ml...", jnp.asarray(theta_odd, dtype), h_odd)], axis=0)
    coeffs = jnp.moveaxis(coeffs.reshape((coeffs.shape[0] * coeffs.shape[1],) + coeffs.shape[2:]), 0, -1)
    out = jnp.take(coeffs, jnp.asarray(flat), axis=-1)
    return out[: lead[0]] if extra else out


# On the CPU backend the product kernels are fastest when the grid values of one call, of both
# operands (the largest intermediates), stay within about this many values (8 MiB in float32).
# Beyond that the stages stream from memory, and XLA's scratch buffer for the call (40-110 MiB in
# the cases below) is allocated afresh and page-faulted in on every call (10,000-28,000 minor
# faults per call). Measured on 2 CPU cores (AMD EPYC, 32 MiB L3; interleaved against the same
# kernel in one piece, ad hoc, docs/benchmarks/HISTORY.md): the L = 8 product of 16,384 pairs 17.8 against
# 59.2 ms, L = 16 of 4,096 pairs 25.4 against 60.1 ms, the channel-shared convolution at L = 16
# (256 x 16 signals) 7.9-8.5 against 9.1-23.2 ms; half and twice this budget were 0-15% slower.
CPU_CHUNK_VALUES = 2**21


def cpu_chunk_rows(rows: int, values_per_row: int, row_size: int = 1, budget: int | None = None) -> int:
    """Rows per chunk when ``rows`` rows (of ``row_size`` signals and ``values_per_row`` grid values
    each) run in chunks on the CPU, or 0 for one piece.

    The rows are split as evenly as possible into ``ceil(rows * values_per_row / budget)`` chunks
    (``budget`` defaults to :data:`CPU_CHUNK_VALUES`), each rounded up to a multiple of 8 signals
    (aligned GEMM rows: the L = 8 product of 1,639 pairs took 1.78 ms, of 1,640 pairs 1.66 ms).
    One piece when that leaves fewer than three chunks (two chunks were 0-13% slower than one piece
    for the L = 8 product of 2,048 pairs, the L = 16 product of 512 pairs and the L = 8 and 10
    convolutions of 256 x 16 signals) and on other backends (accelerators want the whole batch).
    """
    budget = CPU_CHUNK_VALUES if budget is None else budget
    if jax.default_backend() != "cpu" or rows < 3:
        return 0
    pieces = max(1, min(rows, math.ceil(rows * values_per_row / budget)))
    step = 8 // math.gcd(8, row_size)
    chunk = -(-math.ceil(rows / pieces) // step) * step
    return chunk if -(-rows // chunk) >= 3 else 0


def in_chunks(fn: Callable, operands: tuple[jnp.ndarray, ...], chunk: int) -> jnp.ndarray:
    """``fn(*operands)`` over chunks of ``chunk`` rows of the first broadcast batch axis, one after
    another (a :func:`jax.lax.fori_loop` writing into the result in place; ``chunk`` from
    :func:`cpu_chunk_rows`).

    Operands ``[..., d]`` that span that axis are sliced; operands that broadcast along it (lower
    rank, or one row) go whole to every chunk. ``fn`` must map rows to rows (its result's first
    axis is the chunk's). The last chunk ends at the last row and overlaps the one before it
    (recomputing those rows) instead of being padded: a padded copy of the inputs and a cut copy of
    the result made the L = 8 product of 16,384 pairs 1.5x slower.

    Raises:
      ValueError: no batch axis; ``chunk`` is not in ``[1, rows]``.
    """
    lead = jnp.broadcast_shapes(*(a.shape[:-1] for a in operands))
    if not lead:
        raise ValueError("operands: in_chunks needs at least one batch axis, got shapes "
                         f"{[a.shape for a in operands]}")
    rows = lead[0]
    if not 1 <= chunk <= rows:
        raise ValueError(f"chunk must be in [1, {rows}] (the rows of the first batch axis), got {chunk}")
    spans = [_spans_first_axis(a, lead) for a in operands]

    def piece(start):
        return fn(*(jax.lax.dynamic_slice_in_dim(a, start, chunk) if s else a for a, s in zip(operands, spans)))

    shape = jax.eval_shape(piece, 0)
    out = jnp.zeros((rows,) + shape.shape[1:], shape.dtype)

    def step(i, out):
        start = jnp.minimum(i * chunk, rows - chunk)
        return jax.lax.dynamic_update_slice_in_dim(out, piece(start), start, axis=0)

    return jax.lax.fori_loop(0, -(-rows // chunk), step, out)


def _spans_first_axis(a: jnp.ndarray, lead: tuple[int, ...]) -> bool:
    """Whether operand ``a [..., d]`` has the first of the broadcast batch axes ``lead`` in full
    (operands of lower rank or with one row there broadcast along it)."""
    return a.ndim == len(lead) + 1 and a.shape[0] == lead[0]


def padding_rows(rows: int, row_size: int = 1) -> int:
    """How many rows to append to ``rows`` rows of ``row_size`` signals so that the signal count is a
    multiple of 8 but not of 32: the smallest such number (at most 32) if the count is now a
    nonzero multiple of 32, else 0.

    Both product kernels end by transposing ``[coefficients, signals]`` into ``[signals,
    coefficients]``. With a row length that is a multiple of 64 floats the strided reads of that
    transpose fall into a few sets of the L1 cache: on one AMD EPYC core the L = 8 transpose (289
    rows) took 67 us at 256 signals against 35 us at 264, and 332 against 69 us at 512
    (docs/benchmarks/HISTORY.md). The kernels append the zero rows to their inputs, where the
    gathers absorb them; a padded copy of the product grid instead made the channel-shared
    convolution slower.
    """
    count = rows * row_size
    if count == 0 or count % 32:
        return 0
    return next((p for p in range(1, 33) if (rows + p) * row_size % 32 in (8, 16, 24)), 0)


def _two_classes(even: np.ndarray, odd: np.ndarray, axis: int, fill=0) -> np.ndarray:
    """``even`` and ``odd`` stacked on a new leading axis, the shorter padded with ``fill`` along ``axis``."""
    size = max(even.shape[axis], odd.shape[axis])

    def padded(a):
        width = [(0, 0)] * a.ndim
        width[axis] = (0, size - a.shape[axis])
        return np.pad(a, width, constant_values=fill)

    return np.stack([padded(even), padded(odd)])


@functools.lru_cache(maxsize=64)
def _paired_tables(lmax: int, lmax_out: int):
    """Tables of :func:`_gaunt_s2grid_paired`: those of the two-branch kernel
    (:func:`_parity_forward_tables`, :func:`_parity_projection_tables`) with the even and odd
    orders as one leading axis, the smaller class padded with zero rows.

    Returns ``(n_theta, gather [2 M, L+1], theta [2 M, n_theta, L+1], phi [2, n_phi / 2, M],
    phi_w [2, M_out, n_phi / 2], theta_w [2 M_out, lmax_out+1, n_theta], flat [(lmax_out+1)**2])``:
    ``gather`` indexes the flat coefficients (``(L+1)**2`` is a zero row), ``flat`` the rows of the
    ``[2 M_out * (lmax_out+1)]`` result in e3nn order.
    """
    n_theta, n_phi = kernel_grid_shape(2 * lmax + lmax_out)
    order, theta, phi_even, phi_odd, n_even = _parity_forward_tables(lmax, n_theta, n_phi)
    m_layout = sh_to_m_layout(lmax)[0][order]
    gather = _two_classes(m_layout[:n_even], m_layout[n_even:], 0, fill=(lmax + 1) ** 2)
    theta = _two_classes(theta[:n_even], theta[n_even:], 0)
    phi = _two_classes(phi_even, phi_odd, 1)
    phi_w_even, phi_w_odd, theta_w_even, theta_w_odd, flat = _parity_projection_tables(lmax_out, n_theta, n_phi)
    phi_w = _two_classes(phi_w_even, phi_w_odd, 0)
    theta_w = _two_classes(theta_w_even, theta_w_odd, 0)
    # flat numbers the rows [even; odd] unpadded; the odd class now starts after the padded even one
    row, l = np.divmod(flat, lmax_out + 1)
    n_even_out, size_out = len(theta_w_even), theta_w.shape[1]
    flat = np.where(row < n_even_out, row, row - n_even_out + size_out) * (lmax_out + 1) + l
    return (n_theta, gather.reshape(-1, lmax + 1), theta.reshape(-1, n_theta, lmax + 1), phi, phi_w,
            theta_w.reshape(-1, lmax_out + 1, n_theta), flat.astype(np.int32))


def _gaunt_s2grid_paired(x: jnp.ndarray, y: jnp.ndarray, lmax: int, lmax_out: int) -> jnp.ndarray:
    """:func:`gaunt_s2grid` for ``x`` and ``y`` of one shape ``[..., (L+1)**2]``: both operands go
    through every transform as one ``[.., 2 * batch]`` matrix, and the even and odd orders as one
    batched dot, so the kernel is a single chain of 7 XLA ops (gather, Legendre, azimuth, product,
    azimuth, Legendre, transpose) with no independent branches for XLA:CPU to hand to another
    thread. On 2 CPU cores (batch 256, float32) it was 10-13% faster than the two-branch kernel at
    L = 4, 8 and 16, and as fast pinned to one core (docs/benchmarks/HISTORY.md).
    """
    n_theta, gather, theta, phi, phi_w, theta_w, flat = _paired_tables(lmax, lmax_out)
    dtype, lead, size = x.dtype, x.shape[:-1], x.shape[-1]
    batch = math.prod(lead)
    cols = batch + padding_rows(batch)
    pad = jnp.zeros((cols - batch, size), dtype)
    both = jnp.concatenate([x.reshape(batch, size), pad, y.reshape(batch, size), pad], axis=0)
    both = jnp.concatenate([both.T, jnp.zeros((1, 2 * cols), dtype)], axis=0)  # + the zero row
    g = jnp.einsum("mjl,mlb->mjb", jnp.asarray(theta, dtype), both[gather])  # [2 M, n_theta, 2 cols]
    half, n_m = phi.shape[1], phi.shape[2]
    v = jnp.einsum("pkm,pmq->pkq", jnp.asarray(phi, dtype), g.reshape(2, n_m, n_theta * 2 * cols))
    v = v.reshape(2, half, n_theta, 2, cols)  # [E; O] x [x; y]
    ex, ey, ox, oy = v[0, ..., 0, :], v[0, ..., 1, :], v[1, ..., 0, :], v[1, ..., 1, :]
    product = jnp.stack([2 * (ex * ey + ox * oy), 2 * (ex * oy + ox * ey)]).reshape(2, half, n_theta * cols)
    h = jnp.einsum("pmk,pkq->pmq", jnp.asarray(phi_w, dtype), product)
    coeffs = jnp.einsum("mlj,mjb->mlb", jnp.asarray(theta_w, dtype), h.reshape(theta_w.shape[0], n_theta, cols))
    rows = theta_w.shape[0] * theta_w.shape[1]  # explicit sizes: an empty batch has no -1 to infer
    out = jnp.take(coeffs.reshape(rows, cols), jnp.asarray(flat), axis=0).T[:batch]
    return out.reshape(lead + (len(flat),))
