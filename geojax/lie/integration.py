"""Monte-Carlo integration over groups and the group convolutions built on it.

Importance sampling: for elements ``g_i`` drawn with log density ``log q_i`` w.r.t. the Haar
measure ``mu`` (``G.sample``), ``int f dmu ~ sum_i w_i f(g_i)`` with ``w_i = exp(-log q_i) / N``
(unbiased), or the self-normalized weights ``w_i / sum_j w_j`` (for ratios / averages).

Convolutions on ``R^n x| G`` (``G`` = SO(n), SL(n), GL+(n) acting linearly on ``R^n``), written
with the left Haar measure ``dy dmu(h) / |det h|`` of the affine group:

- lifting (``R^n -> R^n x| G``)::

    out(y, g) = int k(g^{-1} (x - y)) f(x) dx / |det g|
              ~ sum_p w_p k(g^{-1}(x_p - y)) f(x_p) / |det g|

- group to group::

    out(y, g) = int int k(g^{-1}(x - y), chart(g^{-1} h)) F(x, h) dx dmu(h) / |det h|
              ~ sum_p sum_j w_p w_j / |det h_j| k(g^{-1}(x_p - y), chart(g^{-1} h_j)) F(x_p, h_j)

with quadrature weights ``w_p`` for the points and importance weights ``w_j`` for the group
samples; ``chart`` is ``G.to_chart`` (the global polar chart). The sample set that indexes a
feature's group axis is carried with it (:class:`GroupFeatures`) and never redrawn between
layers: the next layer integrates over exactly the elements the features live on.

Equivariance: transform the input by ``a = (t, A)`` (points ``x -> A x + t``, point weights
``w_p -> |det A| w_p`` for the pushed-forward quadrature) and the sample sets by
:func:`translate` (``h -> A h``, log densities unchanged: the translated set is a sample of the
translated law, whose Haar density at ``A h`` is ``q(h)``). Then the estimators above are
*exactly* equivariant: ``out'(A y + t, A g) = out(y, g)`` for every sample, not just in
expectation.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from geojax.lie import decompositions
from geojax.lie import groups as G
from geojax.lie import validation as V

Array = jax.Array


class SampleSet(NamedTuple):
    """Group elements and the log density (w.r.t. Haar) of the law they were drawn from.

    Attributes:
      elements: ``[N, m, m]``.
      log_density: ``[N]``.
    """

    elements: Array
    log_density: Array


class GroupFeatures(NamedTuple):
    """Features on ``points x samples``: ``values [Q, M, C]`` at ``(y_q, g_i)``.

    Attributes:
      values: ``[Q, M, C]``.
      samples: the :class:`SampleSet` of ``M`` elements indexing axis 1 of ``values``.
    """

    values: Array
    samples: SampleSet


def _check_linear(group: Any) -> None:
    if not isinstance(group, G._LINEAR):
        raise TypeError(f"group must be SO(n), SL(n) or GLPlus(n), got {group!r}")


def _check_samples(samples: Any, m: int | None = None) -> SampleSet:
    if not isinstance(samples, SampleSet):
        raise TypeError(f"samples must be a SampleSet, got {type(samples).__name__}")
    el = V.square(samples.elements, "samples.elements", m)
    ld = V.float_array(samples.log_density, "samples.log_density")
    if el.ndim != 3 or ld.shape != el.shape[:1]:
        raise ValueError(
            "samples must hold elements [N, m, m] and log_density [N], got "
            f"{tuple(el.shape)} and {tuple(ld.shape)}"
        )
    return SampleSet(el, ld)


def draw(group: Any, key: Array, num: int, **params: Any) -> SampleSet:
    """``num`` elements from ``group.sample(key, (num,), **params)`` as a :class:`SampleSet`.

    Raises:
      ValueError: ``num`` not an int >= 1; whatever ``group.sample`` raises.
    """
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise ValueError(f"num must be an int >= 1, got {num!r}")
    g, logq = group.sample(key, (num,), **params)
    return SampleSet(g, logq)


def sample_concentrated_rotations(
    group: Any, key: Array, num: int, rotation_sigma: float, *, dtype: Any = None, **params: float
) -> SampleSet:
    """``num`` elements ``g = exp(S) R(theta)``: ``S`` as ``group.sample``, ``theta ~ N(0, rotation_sigma^2)``.

    For 2 x 2 groups (``SL(2)``, ``GL+(2)``). ``group.sample`` draws ``g0 = exp(S) R`` with ``R``
    Haar; ``R`` is replaced by ``R(theta)``. In polar coordinates the density factorizes, so the log
    density w.r.t. the same Haar measure gains ``log p(theta)``, ``p`` the wrapped normal density
    w.r.t. the Haar probability of SO(2): ``2 pi sum_k N(phi + 2 pi k; 0, sigma^2)`` with ``phi``
    the angle wrapped into ``[-pi, pi)`` and ``|k| <= ceil(6 sigma / 2 pi) + 1`` (the terms left out
    are below ``exp(-18)`` of the largest).

    Args:
      dtype: of the elements (default: jax's default float, float64 under ``jax_enable_x64``).

    Raises:
      ValueError: ``group`` not of 2 x 2 matrices; ``num`` not an int >= 1, ``rotation_sigma <= 0``;
        what ``group.sample`` raises.
    """
    if getattr(group, "matrix_size", None) != 2:
        raise ValueError(f"group: sample_concentrated_rotations needs a group of 2 x 2 matrices (SL(2), GL+(2)), got {group!r}")
    if not rotation_sigma > 0:
        raise ValueError(f"rotation_sigma must be > 0, got {rotation_sigma!r}")
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise ValueError(f"num must be an int >= 1, got {num!r}")
    dtype = V.sample_dtype(dtype)
    k_group, k_angle = jax.random.split(key)
    g0, log_q = group.sample(k_group, (num,), dtype=dtype, **params)
    p, _ = decompositions.polar(g0)
    theta = rotation_sigma * jax.random.normal(k_angle, (num,), dtype)
    c, s = jnp.cos(theta), jnp.sin(theta)
    rot = jnp.stack([jnp.stack([c, -s], -1), jnp.stack([s, c], -1)], -2)
    phi = jnp.mod(theta + jnp.pi, 2 * jnp.pi) - jnp.pi
    terms = math.ceil(6 * float(rotation_sigma) / (2 * math.pi)) + 1
    wraps = phi + 2 * jnp.pi * jnp.arange(-terms, terms + 1, dtype=dtype)[:, None]
    log_p = jax.scipy.special.logsumexp(-0.5 * jnp.square(wraps / rotation_sigma), axis=0)
    log_p = log_p + jnp.log(2 * jnp.pi) - jnp.log(rotation_sigma * jnp.sqrt(2 * jnp.pi))
    return SampleSet(jnp.matmul(p, rot), log_q + log_p)


def translate(group: Any, samples: SampleSet, h: Array) -> SampleSet:
    """Left translate a sample set: elements ``h g_i``, log densities unchanged.

    If ``g_i ~ q`` (density w.r.t. a left Haar measure) then ``h g_i`` has density
    ``q(h^{-1} .)``, whose value at ``h g_i`` is ``q(g_i)``: the returned set is a valid
    :class:`SampleSet` for the translated law.

    Args:
      group: any group of :mod:`geojax.lie.groups` (not SPD).
      samples: ``SampleSet`` with elements ``[N, m, m]``.
      h: ``[m, m]``.
    Raises:
      TypeError / ValueError: bad ``samples`` or ``h`` shape.
    """
    samples = _check_samples(samples, group.matrix_size)
    h = V.square(h, "h", group.matrix_size)
    if h.ndim != 2:
        raise ValueError(f"h must be a single element [m, m], got shape {tuple(h.shape)}")
    return SampleSet(jnp.matmul(h, samples.elements), samples.log_density)


def importance_weights(samples: SampleSet, *, self_normalized: bool = False) -> Array:
    """``w_i = exp(-log q_i) / N`` (or ``w_i / sum_j w_j`` if ``self_normalized``): ``[N]``.

    Computed as ``exp(-log q_i - log N)`` (self-normalized: a softmax of ``-log q``, stable).

    Raises:
      TypeError / ValueError: ``samples`` not a ``SampleSet`` of ``[N, m, m]``, ``[N]``.
    """
    samples = _check_samples(samples)
    lw = -samples.log_density
    if self_normalized:
        return jax.nn.softmax(lw)
    return jnp.exp(lw - jnp.log(lw.shape[0]))


def integrate(values: Array, samples: SampleSet, *, self_normalized: bool = False) -> Array:
    """Monte-Carlo estimate ``sum_i w_i values[i]`` of ``int f dmu`` (``values[i] = f(g_i)``).

    Args:
      values: ``[N, ...]``.
      samples: the ``SampleSet`` the values were computed on.
      self_normalized: use normalized weights (estimates ``int f dmu / int 1 dmu``-type ratios
        with the sampling law as the implicit reference; biased, lower variance).
    Returns:
      ``[...]``.
    Raises:
      ValueError: ``values.shape[0] != N``.
    """
    w = importance_weights(samples, self_normalized=self_normalized)
    values = V.float_array(values, "values")
    if values.ndim < 1 or values.shape[0] != w.shape[0]:
        raise ValueError(
            f"values must have shape [N, ...] with N = {w.shape[0]}, got {tuple(values.shape)}"
        )
    return jnp.tensordot(w.astype(values.dtype), values, axes=(0, 0))


def relative_elements(group: Any, out_elements: Array, in_elements: Array) -> Array:
    """``g_i^{-1} h_j``: ``out_elements [M, m, m]``, ``in_elements [N, m, m]`` -> ``[M, N, m, m]``.

    Raises:
      ValueError / TypeError: elements not ``[M, m, m]`` / ``[N, m, m]``.
    """
    g = V.square(out_elements, "out_elements", group.matrix_size)
    h = V.square(in_elements, "in_elements", group.matrix_size)
    if g.ndim != 3 or h.ndim != 3:
        raise ValueError(
            "out_elements and in_elements must be [M, m, m] and [N, m, m], got "
            f"{tuple(g.shape)} and {tuple(h.shape)}"
        )
    return jnp.matmul(group.inverse(g)[:, None], h[None, :])


def relative_chart(group: Any, out_elements: Array, in_elements: Array) -> Array:
    """Chart coordinates of ``g_i^{-1} h_j``: ``[M, N, group.dim]`` (``group.to_chart``).

    Raises:
      ValueError / TypeError: as :func:`relative_elements`.
    """
    return group.to_chart(relative_elements(group, out_elements, in_elements))


def transformed_offsets(group: Any, elements: Array, offsets: Array) -> Array:
    """``g_i^{-1} d_k``: ``elements [M, n, n]``, ``offsets [..., n]`` -> ``[M, ..., n]``.

    The kernel arguments of a lifting layer on a grid (``d_k = x_k - y``: stencil offsets).

    Raises:
      TypeError: ``group`` not SO/SL/GLPlus. ValueError: bad shapes.
    """
    _check_linear(group)
    g = V.square(elements, "elements", group.n)
    if g.ndim != 3:
        raise ValueError(f"elements must be [M, n, n], got {tuple(g.shape)}")
    d = V.vectors(offsets, "offsets", group.n)
    gi = group.inverse(g)
    gi = gi.reshape(gi.shape[:1] + (1,) * (d.ndim - 1) + gi.shape[1:])
    return jnp.matmul(gi, d[None, ..., None])[..., 0]


def _log_abs_det(g: Array) -> Array:
    return jnp.linalg.slogdet(g)[1]


def lifting_conv(
    kernel: Callable[[Array], Array],
    group: Any,
    signal: Array,
    points: Array,
    point_weights: Array,
    out_points: Array,
    samples: SampleSet,
) -> GroupFeatures:
    """Lifting convolution ``R^n -> R^n x| G`` by quadrature (formula in the module docstring).

    ``out[q, i, o] = sum_p sum_c w_p / |det g_i| f[p, c] K(g_i^{-1}(x_p - y_q))[c, o]``.

    Args:
      kernel: ``K(offsets [..., n]) -> [..., C_in, C_out]`` (any JAX function, e.g. an MLP).
      group: ``SO(n)``, ``SL(n)`` or ``GLPlus(n)``.
      signal: ``[P, C_in]`` values ``f(x_p)``.
      points: ``[P, n]``; point_weights: ``[P]`` quadrature weights (e.g. pixel areas).
      out_points: ``[Q, n]``.
      samples: ``SampleSet`` of ``M`` elements of ``group`` (the output's group axis).
    Returns:
      ``GroupFeatures(values [Q, M, C_out], samples)``.
    Raises:
      TypeError / ValueError: wrong group type or inconsistent shapes.
    """
    _check_linear(group)
    samples = _check_samples(samples, group.n)
    x = V.vectors(points, "points", group.n)
    y = V.vectors(out_points, "out_points", group.n)
    f = V.float_array(signal, "signal")
    w = V.float_array(point_weights, "point_weights")
    if x.ndim != 2 or f.ndim != 2 or f.shape[0] != x.shape[0] or w.shape != x.shape[:1]:
        raise ValueError(
            "need signal [P, C], points [P, n], point_weights [P]; got "
            f"{tuple(f.shape)}, {tuple(x.shape)}, {tuple(w.shape)}"
        )
    if y.ndim != 2:
        raise ValueError(f"out_points must be [Q, n], got {tuple(y.shape)}")
    offsets = x[None, :, :] - y[:, None, :]  # [Q, P, n]
    local = transformed_offsets(group, samples.elements, offsets)  # [M, Q, P, n]
    k = kernel(local)  # [M, Q, P, C_in, C_out]
    scale = jnp.exp(-_log_abs_det(samples.elements))  # [M]
    out = jnp.einsum("mqpco,p,pc,m->qmo", k, w, f, scale)
    return GroupFeatures(out, samples)


def group_conv(
    kernel: Callable[[Array, Array], Array],
    group: Any,
    features: GroupFeatures,
    points: Array,
    point_weights: Array,
    out_points: Array,
    out_samples: SampleSet | None = None,
) -> GroupFeatures:
    """Group convolution on ``R^n x| G`` by quadrature x importance sampling (module docstring).

    ``out[q, i, o] = sum_{p, j, c} w_p w_j / |det h_j| F[p, j, c]
    K(g_i^{-1}(x_p - y_q), chart(g_i^{-1} h_j))[c, o]`` with ``h_j = features.samples``,
    ``w_j = exp(-log q_j) / N`` and ``g_i = out_samples``.

    Args:
      kernel: ``K(offsets [..., n], chart [..., dim]) -> [..., C_in, C_out]``.
      group: ``SO(n)``, ``SL(n)`` or ``GLPlus(n)``.
      features: ``GroupFeatures(values [P, N, C_in], samples)`` on ``points``.
      points: ``[P, n]``; point_weights: ``[P]``; out_points: ``[Q, n]``.
      out_samples: group axis of the output; default ``features.samples`` (keep the same set).
    Returns:
      ``GroupFeatures(values [Q, M, C_out], out_samples)``.
    Raises:
      TypeError / ValueError: wrong group/argument types or inconsistent shapes.
    """
    _check_linear(group)
    if not isinstance(features, GroupFeatures):
        raise TypeError(f"features must be GroupFeatures, got {type(features).__name__}")
    h = _check_samples(features.samples, group.n)
    g = h if out_samples is None else _check_samples(out_samples, group.n)
    f = V.float_array(features.values, "features.values")
    x = V.vectors(points, "points", group.n)
    y = V.vectors(out_points, "out_points", group.n)
    w = V.float_array(point_weights, "point_weights")
    if f.ndim != 3 or f.shape[:2] != (x.shape[0], h.elements.shape[0]) or w.shape != x.shape[:1]:
        raise ValueError(
            "need features.values [P, N, C], points [P, n], point_weights [P] with N the number "
            f"of samples; got {tuple(f.shape)}, {tuple(x.shape)}, {tuple(w.shape)}, "
            f"N = {h.elements.shape[0]}"
        )
    offsets = x[None, :, :] - y[:, None, :]  # [Q, P, n]
    local = transformed_offsets(group, g.elements, offsets)  # [M, Q, P, n]
    chart = relative_chart(group, g.elements, h.elements)  # [M, N, dim]
    m_, q_, p_, n_ = local.shape
    nn = h.elements.shape[0]
    local_b = jnp.broadcast_to(local[:, :, :, None, :], (m_, q_, p_, nn, n_))
    chart_b = jnp.broadcast_to(chart[:, None, None, :, :], (m_, q_, p_, nn, chart.shape[-1]))
    k = kernel(local_b, chart_b)  # [M, Q, P, N, C_in, C_out]
    wj = importance_weights(h) * jnp.exp(-_log_abs_det(h.elements))
    out = jnp.einsum("mqpjco,p,j,pjc->qmo", k, w, wj.astype(f.dtype), f)
    return GroupFeatures(out, g)
