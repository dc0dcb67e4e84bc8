"""Orthonormal bases of matrix Lie algebras and symmetric spaces, and coordinates in them.

All bases are orthonormal for the Frobenius inner product ``<X, Y> = tr(X^T Y)``, so
coordinates are ``c_k = <X, B_k>`` (:func:`vee`) and ``X = sum_k c_k B_k`` (:func:`hat`), and the
Lebesgue measure of the coordinates is the Euclidean volume of the matrix subspace. Orderings:

- ``"skew"`` (so(n), dimension n(n-1)/2): ``(E_ji - E_ij) / sqrt(2)`` for ``i < j`` in
  lexicographic order. For n = 2 the single element is ``[[0, -1], [1, 0]] / sqrt(2)``, so the
  coordinate of the rotation by ``theta`` is ``sqrt(2) * theta``.
- ``"sym0"`` (traceless symmetric, dimension n(n+1)/2 - 1): the traceless diagonal matrices
  ``diag(1, ..., 1, -k, 0, ...) / sqrt(k (k+1))`` (k ones, k = 1..n-1), then
  ``(E_ij + E_ji) / sqrt(2)`` for ``i < j``. For n = 2: ``diag(1, -1)/sqrt(2)``,
  ``[[0, 1], [1, 0]]/sqrt(2)``.
- ``"sym"`` (symmetric, dimension n(n+1)/2): ``I / sqrt(n)`` followed by the ``"sym0"`` basis.

The bases are built once in float64 with NumPy (cached) and cast to the requested dtype.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from geojax.lie import validation as V

Array = jax.Array
KINDS = ("skew", "sym0", "sym")


@functools.lru_cache(maxsize=None)
def _basis_np(kind: str, n: int) -> np.ndarray:
    out = []
    if kind == "sym":
        out.append(np.eye(n) / np.sqrt(n))
    if kind in ("sym", "sym0"):
        for k in range(1, n):
            d = np.zeros(n)
            d[:k] = 1.0
            d[k] = -k
            out.append(np.diag(d) / np.sqrt(k * (k + 1)))
    sign = -1.0 if kind == "skew" else 1.0
    for i in range(n):
        for j in range(i + 1, n):
            b = np.zeros((n, n))
            b[j, i] = 1.0 / np.sqrt(2.0)
            b[i, j] = sign / np.sqrt(2.0)
            out.append(b)
    arr = np.stack(out) if out else np.zeros((0, n, n))
    arr.setflags(write=False)
    return arr


def basis(kind: str, n: int, dtype: Any = None) -> Array:
    """Orthonormal basis ``[d, n, n]`` of the subspace ``kind`` (``"skew"``, ``"sym0"``, ``"sym"``).

    Raises:
      ValueError: unknown ``kind``; ``n < 1``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    n = V.matrix_size(n, "n", minimum=1)
    return jnp.asarray(_basis_np(kind, n), dtype=V.sample_dtype(dtype))


def dimension(kind: str, n: int) -> int:
    """Dimension of the subspace: n(n-1)/2, n(n+1)/2 - 1 or n(n+1)/2."""
    return {"skew": n * (n - 1) // 2, "sym0": n * (n + 1) // 2 - 1, "sym": n * (n + 1) // 2}[kind]


def hat(coords: Array, kind: str, n: int) -> Array:
    """Matrix ``sum_k coords[..., k] B_k``: ``[..., d] -> [..., n, n]`` for the basis ``kind``.

    Raises:
      ValueError: ``coords`` not of shape ``[..., d]`` with ``d = dimension(kind, n)``.
      TypeError: non-floating ``coords``.
    """
    coords = V.vectors(coords, "coords", dimension(kind, n))
    return jnp.einsum("...k,kij->...ij", coords, basis(kind, n, coords.dtype))


def vee(x: Array, kind: str, n: int) -> Array:
    """Coordinates ``c_k = <x, B_k> = sum_ij x_ij (B_k)_ij``: ``[..., n, n] -> [..., d]``.

    For ``x`` in the subspace this inverts :func:`hat`; otherwise it returns the coordinates of
    the orthogonal projection of ``x`` onto the subspace.

    Raises:
      ValueError: ``x`` not of shape ``[..., n, n]``.
      TypeError: non-floating ``x``.
    """
    x = V.square(x, "x", n)
    return jnp.einsum("...ij,kij->...k", x, basis(kind, n, x.dtype))
