"""3D tetris: the eight shapes of four unit voxels, under random rotations.

Two of the shapes (``chiral_a`` and ``chiral_b``) are mirror images of each other: a model that is
invariant to reflections as well as rotations cannot tell them apart.
"""

from __future__ import annotations

import jax
import numpy as np

TETRIS_NAMES = ("chiral_a", "chiral_b", "square", "line", "corner", "L", "T", "zigzag")
TETRIS_SHAPES = np.array(
    [
        [[0, 0, 0], [0, 0, 1], [1, 0, 0], [1, 1, 0]],
        [[0, 0, 0], [0, 0, 1], [1, 0, 0], [1, -1, 0]],
        [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]],
        [[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 0, 3]],
        [[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]],
        [[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 1, 0]],
        [[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 1, 1]],
        [[0, 0, 0], [1, 0, 0], [1, 1, 0], [2, 1, 0]],
    ],
    dtype=np.float32,
)


def random_rotations(key: jax.Array, n: int) -> np.ndarray:
    """``n`` Haar-random rotation matrices ``[n, 3, 3]`` (QR of a Gaussian, sign fixed, det +1)."""
    q, r = np.linalg.qr(np.asarray(jax.random.normal(key, (n, 3, 3)), np.float64))
    q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]
    q[..., 0] *= np.linalg.det(q)[..., None]
    return q.astype(np.float32)


def tetris_batch(key: jax.Array, batch_size: int, *, rotate: bool = True, noise: float = 0.0) -> dict[str, np.ndarray]:
    """``{"pos": [B, 4, 3] float32, "label": [B] int32}``: random shapes, centred, randomly rotated.

    Deterministic in ``key``. ``noise`` adds Gaussian jitter to the voxel positions.
    """
    k_label, k_rot, k_noise = jax.random.split(key, 3)
    label = np.asarray(jax.random.randint(k_label, (batch_size,), 0, len(TETRIS_SHAPES)), np.int32)
    pos = TETRIS_SHAPES[label]
    pos = pos - pos.mean(axis=1, keepdims=True)
    if rotate:
        pos = np.einsum("bij,bnj->bni", random_rotations(k_rot, batch_size), pos)
    if noise:
        pos = pos + noise * np.asarray(jax.random.normal(k_noise, pos.shape))
    return {"pos": pos.astype(np.float32), "label": label}
