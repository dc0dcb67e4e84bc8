"""Affine-equivariant convolutions on images: ``R^2 x| G`` for ``G`` = SL(2) or GL+(2).

Mironenco & Forre (ICLR 2024). Translations are handled exactly, by ordinary (cross-)correlation
on the pixel grid; the ``G`` part by Monte-Carlo over a :class:`geojax.lie.SampleSet` drawn with
exact Haar log densities. Pixels are array-index coordinates ``p = (row, col)`` relative to the
kernel centre (the convention of :mod:`geojax.data.affnist`); features on the grid are
``[B, H, W, M, C]`` with ``M`` the group samples.

Lifting (``R^2 -> R^2 x| G``), for each sample ``g_i``::

    out[y, i, o] = 1/|det g_i| sum_d sum_c k_L(g_i^{-1} d)[c, o] f[y + d, c]

Group convolution (``R^2 x| G -> R^2 x| G``), with importance weights ``w_j = exp(-log q_j) / N``
of the input samples ``h_j`` (normalized to sum 1 over ``j`` before the division by
``|det h_j|``; or ``1 / N``, see :class:`GroupConv2d`)::

    out[y, i, o] = sum_d sum_{j, c} w_j / |det h_j| k_G(g_i^{-1} d, rel(g_i^{-1} h_j))[c, o] F[y + d, j, c]

``k_L`` and ``k_G`` are small MLPs (RBF features of the transformed offset, random Fourier features
of the relative element); the kernels are multiplied by the compact envelope
``(1 - |u|^2 / r^2)^2_+`` of the transformed offset ``u = g^{-1} d`` (``r`` = ``radius``) and
evaluated on a ``kernel_size x kernel_size`` stencil, so each layer is one dense correlation with a
``[S, S, N C_in, M C_out]`` kernel. ``rel`` embeds a relative element through its global polar
chart ``exp(S) R(theta)``: ``(S coordinates, cos theta, sin theta)`` (continuous in ``theta``).

These are exactly the point-set estimators of :func:`geojax.lie.lifting_conv` and
:func:`geojax.lie.group_conv` with unit pixel weights (the tests check this), so transforming the
input by ``(t, A)`` together with the sample set (``h -> A h``, :func:`geojax.lie.translate`)
transforms the output as ``out'(A y + t, A g_i) = out(y, g_i)``, exactly for grid symmetries
(90-degree rotations) and up to resampling and stencil truncation (the envelope of a strongly
stretched ``g_i`` can leave the stencil) otherwise. With freshly drawn samples the output is
equivariant in distribution; the invariance error of pooled features then falls with ``M``.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from geojax.lie import groups as lie_groups
from geojax.lie.integration import (
    GroupFeatures,
    SampleSet,
    _check_samples,
    importance_weights,
    relative_elements,
    sample_concentrated_rotations,
    transformed_offsets,
)
from geojax.nn.canonicalize import canonicalize_images, check_canonicalization, with_orientation

Array = jax.Array

AFFINE_GROUPS = ("SL2", "GL+2")


def make_group(name: str) -> Any:
    """``lie.SL(2)`` for ``"SL2"``, ``lie.GLPlus(2)`` for ``"GL+2"``.

    Raises:
      ValueError: any other name.
    """
    if name == "SL2":
        return lie_groups.SL(2)
    if name == "GL+2":
        return lie_groups.GLPlus(2)
    raise ValueError(f"group must be one of {AFFINE_GROUPS}, got {name!r}")


def stencil_offsets(kernel_size: int) -> np.ndarray:
    """Pixel offsets ``d = (row, col)`` of a centred ``kernel_size^2`` stencil: ``[S, S, 2]``.

    Raises:
      ValueError: ``kernel_size`` not an odd int >= 1.
    """
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be an odd int >= 1, got {kernel_size!r}")
    r = np.arange(kernel_size, dtype=np.float64) - (kernel_size - 1) / 2
    return np.stack(np.meshgrid(r, r, indexing="ij"), axis=-1)


def relative_features(group: Any, out_elements: Array, in_elements: Array) -> Array:
    """Continuous embedding of ``g_i^{-1} h_j``: ``[M, N, group.dim + 1]``.

    ``(symmetric chart coordinates of exp(S), cos theta, sin theta)`` for ``g_i^{-1} h_j =
    exp(S) R(theta)``, the global polar chart with the angle on the circle instead of an interval.
    """
    chart = group.to_chart(relative_elements(group, out_elements, in_elements))
    theta = chart[..., -1] / math.sqrt(2.0)  # hat(c) = c [[0, -1], [1, 0]] / sqrt(2)
    return jnp.concatenate([chart[..., :-1], jnp.cos(theta)[..., None], jnp.sin(theta)[..., None]], axis=-1)


def envelope(u: Array, radius: float) -> Array:
    """``(1 - |u|^2 / r^2)^2`` inside the disc of radius ``r``, 0 outside: ``[..., 2] -> [...]``."""
    s = jnp.sum(u * u, axis=-1) / radius**2
    return jnp.square(jnp.maximum(1.0 - s, 0.0))


class KernelMLP(nnx.Module):
    """``[..., 2] -> [..., d_out]``: RBF features of a point of the unit disc, ``Linear -> GELU -> Linear``.

    Gaussian bumps ``exp(-|x - c_k|^2 / (2 w^2))`` centred on the stencil points ``c_k`` (``d_k /
    radius``) with ``w`` half the stencil spacing: at the identity a kernel can be any stencil
    pattern, as in a CNN. (A plain MLP on ``x`` starts nearly linear on the disc and trains very
    slowly.)
    """

    def __init__(self, hidden: int, d_out: int, *, centres: np.ndarray, width: float, rngs: nnx.Rngs):
        self.centres = nnx.Variable(jnp.asarray(centres, jnp.float32).reshape(-1, 2))
        self.width = float(width)
        # The features are nearly one-hot on the stencil: unit-variance weights give every stencil
        # point its own O(1) pre-activation, so kernels start as varied as a CNN's.
        self.l1 = nnx.Linear(self.centres.shape[0], hidden, kernel_init=nnx.initializers.normal(1.0), rngs=rngs)
        self.l2 = nnx.Linear(hidden, d_out, rngs=rngs)

    def embed(self, x: Array) -> Array:
        """The RBF features ``[..., S^2]`` of ``x [..., 2]``."""
        d2 = jnp.sum(jnp.square(x[..., None, :] - self.centres[...].astype(x.dtype)), axis=-1)
        return jnp.exp(-0.5 * d2 / self.width**2)

    def __call__(self, x: Array) -> Array:
        return self.l2(jax.nn.gelu(self.l1(self.embed(x))))


class FourierFeatures(nnx.Module):
    """``[..., d_in] -> [..., 2 m]``: ``[cos(2 pi x B), sin(2 pi x B)]``, ``B [d_in, m]`` fixed Gaussian of scale ``frequency``."""

    def __init__(self, d_in: int, m: int, *, frequency: float = 1.0, rngs: nnx.Rngs):
        self.frequencies = nnx.Variable(frequency * jax.random.normal(rngs.params(), (d_in, m)))

    def __call__(self, x: Array) -> Array:
        z = 2 * jnp.pi * x @ self.frequencies[...].astype(x.dtype)
        return jnp.concatenate([jnp.cos(z), jnp.sin(z)], axis=-1)


def _spatial_kernel_mlp(
    kernel_size: int, radius: float, hidden: int, d_out: int, rngs: nnx.Rngs, rbf_width: float = 0.5
) -> KernelMLP:
    """A :class:`KernelMLP` on the stencil of ``kernel_size`` (inputs ``u / radius``; bumps ``rbf_width`` pixels wide)."""
    if not rbf_width > 0:
        raise ValueError(f"rbf_width must be > 0, got {rbf_width!r}")
    return KernelMLP(hidden, d_out, centres=stencil_offsets(kernel_size) / radius, width=rbf_width / radius, rngs=rngs)


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return value


def _init_stencil_layer(
    layer: nnx.Module, group: Any, in_features: int, out_features: int, kernel_size: int, radius: float
) -> None:
    """The checked attributes both image layers share: group, channel counts, stencil, radius."""
    layer.group = group
    layer.in_features = _check_positive_int(in_features, "in_features")
    layer.out_features = _check_positive_int(out_features, "out_features")
    layer.offsets = stencil_offsets(kernel_size)
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius!r}")
    layer.radius = float(radius)


def _check_grid(x: Array, name: str, ndim: int, channels: int) -> Array:
    x = jnp.asarray(x)
    if x.ndim != ndim or x.shape[-1] != channels or not jnp.issubdtype(x.dtype, jnp.floating):
        want = "[B, H, W, C]" if ndim == 4 else "[B, H, W, M, C]"
        raise ValueError(f"{name} must be a floating array {want} with C = {channels}, got {x.dtype}{tuple(x.shape)}")
    return x


def _correlate(x: Array, kernel: Array) -> Array:
    """``out[b, y, o] = sum_d sum_c kernel[d, c, o] x[b, y + d, c]``, zero padding: ``[B, H, W, O]``."""
    return jax.lax.conv_general_dilated(
        x, kernel.astype(x.dtype), (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )


class LiftingConv2d(nnx.Module):
    """Lifting layer ``R^2 -> R^2 x| G`` on images (formula in the module docstring).

    Call: ``x [B, H, W, C_in]``, ``samples`` (``M`` elements) -> ``GroupFeatures(values [B, H, W,
    M, C_out], samples)``.

    Raises:
      ValueError: bad sizes at construction; at call, ``x`` not ``[B, H, W, C_in]`` or
      ``samples`` not ``M`` elements of ``[2, 2]``.
    """

    def __init__(
        self,
        group: Any,
        in_features: int,
        out_features: int,
        *,
        kernel_size: int,
        radius: float,
        hidden: int,
        rbf_width: float = 0.5,
        rngs: nnx.Rngs,
    ):
        _init_stencil_layer(self, group, in_features, out_features, kernel_size, radius)
        self.kernel_fn = _spatial_kernel_mlp(kernel_size, radius, hidden, in_features * out_features, rngs, rbf_width)
        self.bias = nnx.Param(jnp.zeros((out_features,)))
        # Unit-variance responses at initialization: the envelope's mean square over the stencil.
        self.fan_in = float(in_features * np.sum(envelope(jnp.asarray(self.offsets), radius) ** 2))

    def kernel(self, samples: SampleSet) -> Array:
        """``K[s, t, c, i, o] = k_L(g_i^{-1} d_st)[c, o] env(g_i^{-1} d_st) / |det g_i|``: ``[S, S, C_in, M, C_out]``."""
        samples = _check_samples(samples, 2)
        u = transformed_offsets(self.group, samples.elements, jnp.asarray(self.offsets, samples.elements.dtype))  # [M,S,S,2]
        k = self.kernel_fn(u / self.radius) * envelope(u, self.radius)[..., None]
        k = k / jnp.abs(jnp.linalg.det(samples.elements))[:, None, None, None] / math.sqrt(self.fan_in)
        m, s = k.shape[0], k.shape[1]
        return k.reshape(m, s, s, self.in_features, self.out_features).transpose(1, 2, 3, 0, 4)

    def __call__(self, x: Array, samples: SampleSet) -> GroupFeatures:
        x = _check_grid(x, "x", 4, self.in_features)
        k = self.kernel(samples)
        s, _, c, m, o = k.shape
        out = _correlate(x, k.reshape(s, s, c, m * o))
        out = out.reshape(out.shape[:3] + (m, o)) + self.bias[...]
        return GroupFeatures(out, samples)


class GroupConv2d(nnx.Module):
    """Group convolution ``R^2 x| G -> R^2 x| G`` on images (formula in the module docstring).

    ``haar_weights=False`` replaces the importance weights ``w_j`` by ``1 / N`` (keeping
    ``1 / |det h_j|``): the integral is then over the sampling law instead of the Haar measure. Exact equivariance with transformed sample sets still
    holds (the weights travel with the samples); the estimator has far less variance.

    The kernel ``k(u, rel)[c, o]`` is one MLP on both arguments: RBF features of the transformed
    offset ``u / radius`` and random Fourier features of ``rel(g_i^{-1} h_j)``, summed after their
    first linear maps, GELU, a linear map to ``C_in x C_out``, times the envelope of ``u``.
    The layer is then one dense correlation with a ``[S, S, N C_in, M C_out]`` kernel.

    Call: ``GroupFeatures(values [B, H, W, N, C_in], samples h)`` and optionally ``out_samples``
    (``M`` elements, default: the input's) -> ``GroupFeatures([B, H, W, M, C_out], out_samples)``.

    Raises:
      ValueError: bad sizes at construction; at call, values not ``[B, H, W, N, C_in]`` with ``N``
      the number of input samples. TypeError: ``features`` not ``GroupFeatures``.
    """

    def __init__(
        self,
        group: Any,
        in_features: int,
        out_features: int,
        *,
        kernel_size: int,
        radius: float,
        hidden: int,
        haar_weights: bool = True,
        rbf_width: float = 0.5,
        rngs: nnx.Rngs,
    ):
        _init_stencil_layer(self, group, in_features, out_features, kernel_size, radius)
        self.haar_weights = bool(haar_weights)
        self.offset_embedding = _spatial_kernel_mlp(kernel_size, radius, hidden, in_features * out_features, rngs, rbf_width)
        self.relative_embedding = FourierFeatures(group.dim + 1, max(hidden // 2, 1), rngs=rngs)
        self.relative_in = nnx.Linear(2 * max(hidden // 2, 1), hidden, use_bias=False, rngs=rngs)
        self.bias = nnx.Param(jnp.zeros((out_features,)))
        self.fan_in = float(in_features * np.sum(envelope(jnp.asarray(self.offsets), radius) ** 2))

    def kernel_values(self, u: Array, rel: Array) -> Array:
        """``k(u, rel)``: ``u [..., 2]`` (pixels), ``rel [..., group.dim + 1]`` -> ``[..., C_in, C_out]``.

        Without the envelope and the sample weights (see :meth:`kernel`).
        """
        mlp = self.offset_embedding
        pre = mlp.l1(mlp.embed(u / self.radius)) + self.relative_in(self.relative_embedding(rel))
        return mlp.l2(jax.nn.gelu(pre)).reshape(pre.shape[:-1] + (self.in_features, self.out_features))

    def kernel(self, in_samples: SampleSet, out_samples: SampleSet) -> Array:
        """``K[s, t, j, c, i, o] = w_j / |det h_j| k(g_i^{-1} d_st, rel(g_i^{-1} h_j))[c, o]
        env(g_i^{-1} d_st)``: ``[S, S, N, C_in, M, C_out]``.

        ``w_j`` are the self-normalized importance weights (sum 1; ``1 / N`` without
        ``haar_weights``), normalized *before* the division by ``|det h_j|``: a sample set moved
        by ``A`` (``h -> A h``) then scales the kernel by ``1 / |det A|``, which cancels the
        Jacobian of the pixel sum (normalizing after the division would remove that factor and
        scale GL+(2) outputs by ``|det A|``). The whole kernel is divided by
        ``sqrt(C_in sum_d env(d)^2)`` (unit-variance responses at initialization).
        """
        dt = out_samples.elements.dtype
        u = transformed_offsets(self.group, out_samples.elements, jnp.asarray(self.offsets, dt))  # [M, S, S, 2]
        rel = relative_features(self.group, out_samples.elements, in_samples.elements)  # [M, N, F]
        k = self.kernel_values(u[:, :, :, None, :], rel[:, None, None, :, :])  # [M, S, S, N, C_in, C_out]
        if self.haar_weights:
            w = importance_weights(in_samples, self_normalized=True)
        else:
            w = jnp.full(in_samples.log_density.shape, 1.0 / in_samples.log_density.shape[0], dt)
        w = w / jnp.abs(jnp.linalg.det(in_samples.elements))
        scale = envelope(u, self.radius)[..., None] * w.astype(k.dtype) / math.sqrt(self.fan_in)  # [M, S, S, N]
        return jnp.einsum("mstjco,mstj->stjcmo", k, scale)

    def __call__(self, features: GroupFeatures, out_samples: SampleSet | None = None) -> GroupFeatures:
        if not isinstance(features, GroupFeatures):
            raise TypeError(f"features must be GroupFeatures, got {type(features).__name__}")
        h = _check_samples(features.samples, 2)
        g = h if out_samples is None else _check_samples(out_samples, 2)
        x = _check_grid(features.values, "features.values", 5, self.in_features)
        if x.shape[3] != h.elements.shape[0]:
            raise ValueError(
                f"features.values has {x.shape[3]} group samples on axis 3 but features.samples holds {h.elements.shape[0]}"
            )
        k = self.kernel(h, g)
        s, _, n, c, m, o = k.shape
        out = _correlate(x.reshape(x.shape[:3] + (n * c,)), k.reshape(s, s, n * c, m * o))
        return GroupFeatures(out.reshape(out.shape[:3] + (m, o)) + self.bias[...], g)


def max_pool_space(features: GroupFeatures, window: int = 2) -> GroupFeatures:
    """Spatial max pooling (stride = window) of ``[B, H, W, M, C]`` features; the group axis is untouched.

    Odd sizes are padded with ``-inf`` (the last window is partial), ``H -> ceil(H / window)``.
    A reshape-max rather than ``reduce_window``: its gradient is ~2x cheaper on CPU.
    """
    v = features.values
    b, h, w, m, c = v.shape
    ph, pw = -h % window, -w % window
    if ph or pw:
        v = jnp.pad(v, ((0, 0), (0, ph), (0, pw), (0, 0), (0, 0)), constant_values=-jnp.inf)
    v = v.reshape(b, (h + ph) // window, window, (w + pw) // window, window, m, c).max(axis=(2, 4))
    return GroupFeatures(v, features.samples)


def _filter_axis(v: Array, axis: int, taps: np.ndarray, stride: int, pads: tuple[int, int]) -> Array:
    """``out[y] = sum_a taps[a] v[stride y + a]`` along ``axis`` of ``v`` zero-padded by ``pads``.

    Shifted strided slices instead of a depthwise convolution, whose gradient XLA:CPU runs ~10x slower.
    """
    width = [(0, 0)] * v.ndim
    width[axis] = pads
    v = jnp.pad(v, width)
    n = (v.shape[axis] - len(taps)) // stride + 1
    return sum(
        float(t) * jax.lax.slice_in_dim(v, a, a + stride * (n - 1) + 1, stride, axis) for a, t in enumerate(taps)
    )


def blur_pool_space(features: GroupFeatures) -> GroupFeatures:
    """Anti-aliased 2x downsampling of ``[B, H, W, M, C]`` features (Zhang, ICML 2019): ``H -> ceil(H / 2)``.

    ``out[y] = sum_{a, b} k_a k_b v[2 y - 1 + (a, b)]`` with ``k = (1, 3, 3, 1) / 8``, zero padding: the
    binomial low-pass centred where a 2x2 max pool's window is, so 90-degree rotations of even
    sizes stay exact, while sub-pixel shifts and affine maps change the output far less than
    under max pooling (which aliases).
    """
    taps = np.array([1.0, 3.0, 3.0, 1.0]) / 8
    v = features.values
    for axis in (1, 2):
        v = _filter_axis(v, axis, taps, 2, (1, 1 + v.shape[axis] % 2))
    return GroupFeatures(v, features.samples)


def gaussian_blur(x: Array, sigma: float) -> Array:
    """``[B, H, W, C]`` images correlated with a normalized Gaussian of std ``sigma`` pixels (radius ``ceil(3 sigma)``), zero padding."""
    r = max(math.ceil(3 * sigma), 1)
    taps = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    for axis in (1, 2):
        x = _filter_axis(x, axis, taps / taps.sum(), 1, (r, r))
    return x


POOLINGS = ("max", "blur")
SAMPLE_POOLINGS = ("mean", "max")


class AffineConvNet(nnx.Module):
    """Affine-equivariant image classifier: lifting, group convolutions, invariant pooling, head.

    ``x [B, H, W]`` or ``[B, H, W, C_in]`` -> logits ``[B, n_classes]``. Layers: an optional Gaussian
    blur of the input (``input_blur`` pixels), lifting to ``widths[0]`` channels, then one group
    convolution per further width; between layers a LayerNorm over channels (per pixel and sample:
    equivariant), GELU and 2x spatial downsampling (``pooling``: ``"max"``, a 2x2 max pool, or
    ``"blur"``, :func:`blur_pool_space`); the features are max-pooled over space, pooled over
    the group samples (``sample_pooling``: ``"mean"``, a Monte-Carlo average, or ``"max"``, the
    best-matching sample) and mapped to logits by a linear layer.

    The layers are exactly equivariant for grid symmetries only; for other affine maps the
    pixel grid leaves an error (resampling, aliasing of kernels and pooling, stencil truncation)
    that ``input_blur``, ``rbf_width`` (smoother kernels), ``pooling="blur"`` and stencils larger
    than the stretched envelopes reduce.

    Samples: ``num_samples`` elements drawn with ``key`` (a new set per training step), or, without a
    key, ``eval_samples`` elements from the fixed ``jax.random.key(eval_seed)``; one set for all
    layers. ``sample_params`` go to ``group.sample`` (``sigma``; ``sigma_scale`` for GL+(2)); with
    ``rotation_sigma`` the rotation factor is drawn around the identity instead of uniformly
    (:func:`sample_concentrated_rotations`): the sampling law sets the range of transformations
    the pooled features are approximately invariant to.

    ``center_input`` first moves each image's intensity centroid to the canvas centre
    (:func:`geojax.nn.canonicalize.center_by_centroid`): translation invariance becomes exact for
    integer shifts instead of approximate (strided pooling aliases, the canvas has borders), and,
    as the centroid is equivariant to linear maps about the centre, the group equivariance is kept.
    ``whiten_std`` (pixels) goes further: each image is resampled about its centroid to the
    isotropic intensity covariance ``whiten_std^2 I`` (:func:`geojax.nn.canonicalize.whiten_by_moments`),
    which maps ``A.x`` to a *rotation* of the image of ``x`` for every ``A`` in ``GL+(2)``; the group
    convolutions then only need to handle that rotation. ``orient`` (with ``whiten_std``) also
    rotates each whitened image so that its spin-1 third moment points along the rows
    (:func:`geojax.nn.canonicalize.orient_by_moments`), which removes most of that rotation too,
    and lets the head read the removed rotation: its input is ``(f, f cos phi, f sin phi)`` for
    the pooled features ``f`` (:func:`geojax.nn.canonicalize.with_orientation`), since a
    rotation-invariant input alone cannot tell a 6 from a 9. Then the network's own rotation
    equivariance only needs to cover the error of that estimate. (On the affNIST-style digits it
    removed the drop but cost 2-3 points of accuracy: the upright frame that the training digits
    share is lost; README.)

    Raises:
      ValueError: unknown group, ``pooling`` or ``sample_pooling``, empty ``widths``, bad sizes,
        ``whiten_std <= 0``, ``orient`` without ``whiten_std``; at call, bad ``x``.
    """

    def __init__(
        self,
        *,
        group: str,
        n_classes: int,
        widths: tuple[int, ...],
        kernel_sizes: tuple[int, ...],
        radii: tuple[float, ...],
        hidden: int,
        num_samples: int,
        eval_samples: int,
        sample_params: dict[str, float],
        in_features: int = 1,
        eval_seed: int = 0,
        haar_weights: bool = True,
        rotation_sigma: float | None = None,
        rbf_width: float = 0.5,
        pooling: str = "max",
        input_blur: float = 0.0,
        center_input: bool = False,
        whiten_std: float | None = None,
        orient: bool = False,
        sample_pooling: str = "mean",
        rngs: nnx.Rngs,
    ):
        self.center_input, self.whiten_std, self.orient = check_canonicalization(center_input, whiten_std, orient)
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if sample_pooling not in SAMPLE_POOLINGS:
            raise ValueError(f"sample_pooling must be one of {SAMPLE_POOLINGS}, got {sample_pooling!r}")
        self.sample_pooling = sample_pooling
        if not input_blur >= 0:
            raise ValueError(f"input_blur must be >= 0 (pixels; 0 = off), got {input_blur!r}")
        self.pooling, self.input_blur = pooling, float(input_blur)
        if not widths or len(kernel_sizes) != len(widths) or len(radii) != len(widths):
            raise ValueError(
                f"widths, kernel_sizes and radii must be non-empty and equally long, got {widths}, {kernel_sizes}, {radii}"
            )
        self.group = make_group(group)
        self.num_samples = _check_positive_int(num_samples, "num_samples")
        self.eval_samples = _check_positive_int(eval_samples, "eval_samples")
        self.sample_params = dict(sample_params)
        self.eval_seed = int(eval_seed)
        if rotation_sigma is not None and not rotation_sigma > 0:
            raise ValueError(f"rotation_sigma must be None or > 0, got {rotation_sigma!r}")
        self.rotation_sigma = None if rotation_sigma is None else float(rotation_sigma)
        self.in_features = _check_positive_int(in_features, "in_features")
        self.lift = LiftingConv2d(
            self.group, in_features, widths[0], kernel_size=kernel_sizes[0], radius=radii[0], hidden=hidden,
            rbf_width=rbf_width, rngs=rngs,
        )
        self.convs = nnx.List(
            [
                GroupConv2d(
                    self.group, a, b, kernel_size=k, radius=r, hidden=hidden, haar_weights=haar_weights,
                    rbf_width=rbf_width, rngs=rngs,
                )
                for a, b, k, r in zip(widths[:-1], widths[1:], kernel_sizes[1:], radii[1:])
            ]
        )
        self.norms = nnx.List([nnx.LayerNorm(w, rngs=rngs) for w in widths])
        self.head = nnx.Linear(widths[-1] * (1 + 2 * self.orient), _check_positive_int(n_classes, "n_classes"), rngs=rngs)

    def draw_samples(self, key: Array | None, dtype: Any = jnp.float32, num: int | None = None) -> SampleSet:
        """The sample set of one forward pass (see the class docstring); ``num`` overrides its size."""
        if num is None:
            num = self.num_samples if key is not None else self.eval_samples
        key = jax.random.key(self.eval_seed) if key is None else key
        if self.rotation_sigma is None:
            return SampleSet(*self.group.sample(key, (num,), dtype=dtype, **self.sample_params))
        return sample_concentrated_rotations(self.group, key, num, self.rotation_sigma, dtype=dtype, **self.sample_params)

    def _canonical(self, x: Array) -> tuple[Array, Array | None]:
        """The checked, canonicalized input ``[B, H, W, C_in]`` and its orientation (``None``
        unless ``orient``; :func:`geojax.nn.canonicalize.canonicalize_images`)."""
        if x.ndim == 3:
            x = x[..., None]
        x = _check_grid(x, "x", 4, self.in_features)
        return canonicalize_images(x, self.center_input, self.whiten_std, self.orient)

    def _activations(self, x: Array, samples: SampleSet):
        """Yield each layer's ``GELU(LayerNorm(.))`` activations ``[B, H_k, W_k, M, widths[k]]``
        for the canonical input ``x`` (:meth:`_canonical`)."""
        if self.input_blur > 0:
            x = gaussian_blur(x, self.input_blur)
        f = self.lift(x, samples)
        for norm, conv in zip(self.norms[:-1], self.convs):
            if self.pooling == "max":
                f = max_pool_space(f)  # before the norm: 4x less work, and max commutes with GELU
            v = jax.nn.gelu(norm(f.values))
            yield v
            if self.pooling == "blur":  # a linear low-pass must follow the nonlinearity
                v = blur_pool_space(GroupFeatures(v, f.samples)).values
            f = conv(GroupFeatures(v, f.samples))
        yield jax.nn.gelu(self.norms[-1](f.values))

    def _summary(self, v: Array) -> Array:
        # Max over space, then over the samples the mean (a Monte-Carlo average whose statistics do
        # not depend on how many samples are drawn) or the max (closer to invariant when the law is
        # narrower than the transformations, but it grows with the number of samples).
        over_space = jnp.max(v, axis=(1, 2))
        return jnp.max(over_space, axis=1) if self.sample_pooling == "max" else jnp.mean(over_space, axis=1)

    def _pooled(self, x: Array, samples: SampleSet) -> tuple[Array, Array | None]:
        """``(features [B, widths[-1]], orientation [B, 2] or None)`` of the raw input ``x``."""
        x, orientation = self._canonical(x)
        *_, last = self._activations(x, samples)
        return self._summary(last), orientation

    def features(self, x: Array, samples: SampleSet) -> Array:
        """Invariant features ``[B, widths[-1]]``: the last layer's max over space, pooled over samples
        (without the orientation that ``orient`` adds to the head's input)."""
        return self._pooled(x, samples)[0]

    def layer_features(self, x: Array, samples: SampleSet) -> list[Array]:
        """The same summary of every layer: ``[B, widths[k]]`` for ``k = 0 .. len(widths) - 1``.

        Where the equivariance error of a network comes from: compare the list for ``(x,
        samples)`` with the one for the transformed image and moved samples
        (``python -m experiments.affnist_equivariance --per-layer``).
        """
        return [self._summary(v) for v in self._activations(self._canonical(x)[0], samples)]

    def __call__(self, x: Array, key: Array | None = None, samples: SampleSet | None = None) -> Array:
        """Logits ``[B, n_classes]``; ``samples`` overrides the drawn set (equivariance tests)."""
        if samples is None:
            samples = self.draw_samples(key, jnp.result_type(x.dtype, jnp.float32))
        return self.head(with_orientation(*self._pooled(x, samples)))
