"""Procedural 3D shapes as surface-sampled point clouds: an offline stand-in for ModelNet.

Twelve classes, each a family of shapes with randomly drawn parameters (so no two clouds of a class
are the same shape), sampled on the surface with ``n`` points (approximately area-uniform: points
are split between parts in proportion to their areas and placed uniformly in each part's
parameters, with the area element as the acceptance weight where it is not constant, except the
helix, whose tube angle is uniform: its inner side, area element ``1 - k r cos(phi)``, is up to
about 1.5x denser than area-uniform; and ``bracket``'s two slabs both sample their shared face), then
jittered with isotropic Gaussian noise and centred. Every shape is given in an upright canonical
pose (the vertical axis is ``z``), which is what the "z" rotation protocol keeps.

==  ===============  =====================================================================
 #  name             shape (parameters drawn per cloud)
==  ===============  =====================================================================
 0  spheroid         ellipsoid with semi-axes ``(1, 1-d, 1-2d)``, ``d ~ U(0.02, 0.06)``
                     (*near-symmetric*: all three eigenvalues nearly equal)
 1  ellipsoid        semi-axes ``(1, a, b)``, ``a ~ U(0.6, 0.8)``, ``b ~ U(0.3, 0.5)``
 2  cuboid           box with sides ``(1, 1-d, 1-2d)``, ``d ~ U(0.02, 0.06)`` (*near-symmetric*)
 3  slab             box with sides ``(1, a, b)``, ``a ~ U(0.5, 0.7)``, ``b ~ U(0.15, 0.3)``
 4  cylinder         radius ``U(0.3, 0.45)``, height ``U(0.9, 1.3)``, with caps (two equal
                     eigenvalues: axially symmetric)
 5  cone             base radius ``U(0.4, 0.55)``, height ``U(0.9, 1.3)``, with base
 6  torus            radii ``R ~ U(0.6, 0.8)``, ``r ~ U(0.15, 0.25)`` (two equal eigenvalues)
 7  table            top ``U(0.9,1.1) x U(0.6,0.8) x 0.06`` on four legs of height ``U(0.5,0.8)``
 8  dumbbell         two spheres of radius ``U(0.25, 0.35)`` joined by a bar of length ``U(0.6, 1)``
 9  bracket          an L of two slabs (lengths ``U(0.7, 1)`` and ``U(0.4, 0.7)``)
10  helix_right      right-handed tube helix: radius ``U(0.4, 0.6)``, ``U(1.6, 2.4)`` turns, pitch
                     ``U(0.35, 0.55)``, tube radius ``U(0.08, 0.12)``
11  helix_left       the mirror image (``x -> -x``) of a cloud drawn exactly as ``helix_right``
==  ===============  =====================================================================

Classes 10 and 11 are a *chiral pair*: their distributions are mirror images of each other, so a
model invariant to reflections (``O(3)``) cannot do better than chance between them, while an
``SO(3)``-invariant one can separate them perfectly.

Everything is NumPy with ``np.random.default_rng(seed)``: the same arguments give the same bytes
on every machine (no network, no files). Generating 1,000 clouds of 256 points takes well under a
second.
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np

POINTCLOUD_CLASSES = (
    "spheroid",
    "ellipsoid",
    "cuboid",
    "slab",
    "cylinder",
    "cone",
    "torus",
    "table",
    "dumbbell",
    "bracket",
    "helix_right",
    "helix_left",
)
CHIRAL_PAIR = (10, 11)
"""Class indices of the mirror-image pair (``helix_right``, ``helix_left``)."""
NEAR_SYMMETRIC = (0, 2, 4, 6)
"""Classes whose covariance has (nearly) repeated eigenvalues: hard cases for PCA/MDS frames."""


# ---- Surface samplers: each returns exactly m points [m, 3] (float64) ------------------------


def _split(rng: np.random.Generator, m: int, areas) -> np.ndarray:
    """How many of ``m`` points each part gets: multinomial in proportion to ``areas``."""
    p = np.asarray(areas, np.float64)
    return rng.multinomial(m, p / p.sum())


def _ellipsoid(rng, m, a, b, c, centre=(0.0, 0.0, 0.0)):
    # area-uniform by rejection: accept a sphere direction u with probability
    # |grad| ~ sqrt((u_x bc)^2 + (u_y ac)^2 + (u_z ab)^2) / max
    out = np.empty((0, 3))
    wmax = max(b * c, a * c, a * b)
    while len(out) < m:
        u = rng.normal(size=(4 * m, 3))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        w = np.sqrt((u[:, 0] * b * c) ** 2 + (u[:, 1] * a * c) ** 2 + (u[:, 2] * a * b) ** 2) / wmax
        u = u[rng.random(len(u)) < w]
        out = np.concatenate([out, u * np.array([a, b, c])])
    return out[:m] + np.asarray(centre)


def _box(rng, m, sx, sy, sz, centre=(0.0, 0.0, 0.0)):
    half = np.array([sx, sy, sz]) / 2
    areas = [sy * sz, sy * sz, sx * sz, sx * sz, sx * sy, sx * sy]
    counts = _split(rng, m, areas)
    parts = []
    for face, count in enumerate(counts):
        axis, sign = face // 2, 1.0 if face % 2 == 0 else -1.0
        p = (rng.random((count, 3)) * 2 - 1) * half
        p[:, axis] = sign * half[axis]
        parts.append(p)
    return np.concatenate(parts) + np.asarray(centre)


def _disk(rng, m, radius, z):
    r = radius * np.sqrt(rng.random(m))
    t = rng.random(m) * 2 * np.pi
    return np.stack([r * np.cos(t), r * np.sin(t), np.full(m, z)], axis=1)


def _cylinder(rng, m, radius, height, axis=2, centre=(0.0, 0.0, 0.0), caps=True):
    side = 2 * np.pi * radius * height
    cap = np.pi * radius**2 if caps else 0.0
    n_side, n_top, n_bottom = _split(rng, m, [side, cap, cap])
    t = rng.random(n_side) * 2 * np.pi
    p = np.stack([radius * np.cos(t), radius * np.sin(t), (rng.random(n_side) - 0.5) * height], axis=1)
    p = np.concatenate([p, _disk(rng, n_top, radius, height / 2), _disk(rng, n_bottom, radius, -height / 2)])
    p = np.roll(p, axis - 2, axis=1)  # the cylinder's axis from z to ``axis``
    return p + np.asarray(centre)


def _cone(rng, m, radius, height):
    slant = np.hypot(radius, height)
    n_side, n_base = _split(rng, m, [np.pi * radius * slant, np.pi * radius**2])
    s = np.sqrt(rng.random(n_side))  # distance from the apex, area-uniform
    t = rng.random(n_side) * 2 * np.pi
    side = np.stack([s * radius * np.cos(t), s * radius * np.sin(t), height * (1 - s)], axis=1)
    return np.concatenate([side, _disk(rng, n_base, radius, 0.0)])


def _torus(rng, m, big, small):
    out = np.empty((0, 3))
    while len(out) < m:
        u, v = rng.random((2, 4 * m)) * 2 * np.pi
        keep = rng.random(4 * m) < (big + small * np.cos(v)) / (big + small)
        u, v = u[keep], v[keep]
        ring = big + small * np.cos(v)
        out = np.concatenate([out, np.stack([ring * np.cos(u), ring * np.sin(u), small * np.sin(v)], axis=1)])
    return out[:m]


def _helix(rng, m, radius, turns, pitch, tube):
    """A tube around ``c(t) = (R cos t, R sin t, pitch t / 2 pi)``, ``t in [0, 2 pi turns]``:
    right-handed (counter-clockwise seen from above while rising)."""
    t = rng.random(m) * 2 * np.pi * turns
    phi = rng.random(m) * 2 * np.pi
    c = np.stack([radius * np.cos(t), radius * np.sin(t), pitch * t / (2 * np.pi)], axis=1)
    tangent = np.stack([-radius * np.sin(t), radius * np.cos(t), np.full(m, pitch / (2 * np.pi))], axis=1)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    normal = np.stack([-np.cos(t), -np.sin(t), np.zeros(m)], axis=1)  # orthogonal to the tangent
    binormal = np.cross(tangent, normal)
    return c + tube * (np.cos(phi)[:, None] * normal + np.sin(phi)[:, None] * binormal)


def _spheroid(rng, m):
    d = rng.uniform(0.02, 0.06)
    return _ellipsoid(rng, m, 1.0, 1 - d, 1 - 2 * d)


def _ellipsoid_class(rng, m):
    return _ellipsoid(rng, m, 1.0, rng.uniform(0.6, 0.8), rng.uniform(0.3, 0.5))


def _cuboid(rng, m):
    d = rng.uniform(0.02, 0.06)
    return _box(rng, m, 1.0, 1 - d, 1 - 2 * d)


def _slab(rng, m):
    return _box(rng, m, 1.0, rng.uniform(0.5, 0.7), rng.uniform(0.15, 0.3))


def _cylinder_class(rng, m):
    return _cylinder(rng, m, rng.uniform(0.3, 0.45), rng.uniform(0.9, 1.3))


def _cone_class(rng, m):
    return _cone(rng, m, rng.uniform(0.4, 0.55), rng.uniform(0.9, 1.3))


def _torus_class(rng, m):
    return _torus(rng, m, rng.uniform(0.6, 0.8), rng.uniform(0.15, 0.25))


def _table(rng, m):
    sx, sy, thick, legs = rng.uniform(0.9, 1.1), rng.uniform(0.6, 0.8), 0.06, rng.uniform(0.5, 0.8)
    leg_r = 0.04
    top_area = 2 * sx * sy + 2 * thick * (sx + sy)
    leg_area = 2 * np.pi * leg_r * legs
    counts = _split(rng, m, [top_area] + [leg_area] * 4)
    parts = [_box(rng, counts[0], sx, sy, thick, centre=(0, 0, legs + thick / 2))]
    for i, (cx, cy) in enumerate([(1, 1), (1, -1), (-1, 1), (-1, -1)]):
        centre = (cx * (sx / 2 - 0.08), cy * (sy / 2 - 0.08), legs / 2)
        parts.append(_cylinder(rng, counts[1 + i], leg_r, legs, centre=centre, caps=False))
    return np.concatenate(parts)


def _dumbbell(rng, m):
    r, bar = rng.uniform(0.25, 0.35), rng.uniform(0.6, 1.0)
    bar_r = 0.06
    counts = _split(rng, m, [4 * np.pi * r**2, 4 * np.pi * r**2, 2 * np.pi * bar_r * bar])
    half = bar / 2 + r
    return np.concatenate(
        [
            _ellipsoid(rng, counts[0], r, r, r, centre=(half, 0, 0)),
            _ellipsoid(rng, counts[1], r, r, r, centre=(-half, 0, 0)),
            _cylinder(rng, counts[2], bar_r, bar, axis=0, caps=False),
        ]
    )


def _bracket(rng, m):
    long, short, width, thick = rng.uniform(0.7, 1.0), rng.uniform(0.4, 0.7), rng.uniform(0.3, 0.45), 0.1
    a = [2 * (long * width + long * thick + width * thick), 2 * (short * width + short * thick + width * thick)]
    counts = _split(rng, m, a)
    return np.concatenate(
        [
            _box(rng, counts[0], long, width, thick, centre=(long / 2, 0, thick / 2)),
            _box(rng, counts[1], thick, width, short, centre=(thick / 2, 0, thick + short / 2)),
        ]
    )


def _helix_class(rng, m):
    return _helix(rng, m, rng.uniform(0.4, 0.6), rng.uniform(1.6, 2.4), rng.uniform(0.35, 0.55), rng.uniform(0.08, 0.12))


def _helix_left(rng, m):
    return _helix_class(rng, m) * np.array([-1.0, 1.0, 1.0])


_SAMPLERS: tuple[Callable[[np.random.Generator, int], np.ndarray], ...] = (
    _spheroid,
    _ellipsoid_class,
    _cuboid,
    _slab,
    _cylinder_class,
    _cone_class,
    _torus_class,
    _table,
    _dumbbell,
    _bracket,
    _helix_class,
    _helix_left,
)
assert len(_SAMPLERS) == len(POINTCLOUD_CLASSES)


# ---- Public API ----------------------------------------------------------------------------


def sample_shape(label: int, n_points: int, rng: np.random.Generator, *, jitter: float = 0.01) -> np.ndarray:
    """One cloud of class ``label``: ``[n_points, 3]`` float64, surface points + noise, centred.

    Args:
      label: class index in ``[0, 12)`` (see the module docstring).
      n_points: points per cloud, ``>= 4``.
      rng: the NumPy generator to draw the shape parameters, the points and the noise from.
      jitter: standard deviation of the isotropic Gaussian noise added to every point (``>= 0``).

    Raises:
      ValueError: ``label`` out of range, ``n_points < 4`` or ``jitter < 0``.
    """
    if not isinstance(label, (int, np.integer)) or not 0 <= label < len(POINTCLOUD_CLASSES):
        raise ValueError(f"label must be an int in [0, {len(POINTCLOUD_CLASSES)}), got {label!r}")
    if not isinstance(n_points, (int, np.integer)) or n_points < 4:
        raise ValueError(f"n_points must be an int >= 4, got {n_points!r}")
    if not jitter >= 0:
        raise ValueError(f"jitter must be >= 0, got {jitter!r}")
    p = _SAMPLERS[int(label)](rng, int(n_points))
    p = p[rng.permutation(len(p))]  # parts were concatenated in order: shuffle the rows
    p = p + jitter * rng.normal(size=p.shape)
    return p - p.mean(axis=0)


def make_pointclouds(
    per_class: int, *, n_points: int = 256, seed: int = 0, jitter: float = 0.01
) -> dict[str, np.ndarray]:
    """A class-balanced set of clouds in canonical (upright) pose, deterministic in its arguments.

    Cloud ``j`` of class ``c`` is drawn from ``np.random.default_rng([seed, c, j])``, so a larger
    ``per_class`` extends a smaller set (the first clouds are the same) and classes are independent.
    Results are cached (the arrays are read-only).

    Args:
      per_class: clouds per class, ``>= 1``.
      n_points: points per cloud, ``>= 4``.
      seed: non-negative int; use different seeds for training and test sets.
      jitter: Gaussian noise per point (see :func:`sample_shape`).

    Returns:
      ``{"pos": [C * per_class, n_points, 3] float32, "label": [C * per_class] int32}`` with
      ``C = 12``, ordered by class then index.

    Raises:
      ValueError: ``per_class < 1``, ``seed < 0`` or as :func:`sample_shape`.
    """
    if not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise ValueError(f"per_class must be an int >= 1, got {per_class!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not isinstance(n_points, (int, np.integer)) or n_points < 4:
        raise ValueError(f"n_points must be an int >= 4, got {n_points!r}")
    if not jitter >= 0:
        raise ValueError(f"jitter must be >= 0, got {jitter!r}")
    return _make_pointclouds(int(per_class), int(n_points), int(seed), float(jitter))


@functools.lru_cache(maxsize=8)
def _make_pointclouds(per_class: int, n_points: int, seed: int, jitter: float) -> dict[str, np.ndarray]:
    pos = np.empty((len(POINTCLOUD_CLASSES) * per_class, n_points, 3), np.float32)
    label = np.repeat(np.arange(len(POINTCLOUD_CLASSES), dtype=np.int32), per_class)
    for i, c in enumerate(label):
        rng = np.random.default_rng([seed, int(c), i % per_class])
        pos[i] = sample_shape(int(c), n_points, rng, jitter=jitter)
    pos.flags.writeable = False
    label.flags.writeable = False
    return {"pos": pos, "label": label}


def rotations_z(angles: np.ndarray) -> np.ndarray:
    """Rotations about the vertical ``z`` axis by ``angles`` ``[...]`` (radians): ``[..., 3, 3]``."""
    angles = np.asarray(angles, np.float64)
    c, s = np.cos(angles), np.sin(angles)
    zero, one = np.zeros_like(c), np.ones_like(c)
    return np.stack([np.stack([c, -s, zero], -1), np.stack([s, c, zero], -1), np.stack([zero, zero, one], -1)], -2)


def rotations_so3(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` Haar-random rotations ``[n, 3, 3]`` (float64, det +1): QR of Gaussians, signs fixed."""
    q, r = np.linalg.qr(rng.normal(size=(n, 3, 3)))
    q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]
    q[..., 0] *= np.linalg.det(q)[..., None]
    return q


def transform_clouds(
    pos: np.ndarray,
    rng: np.random.Generator,
    *,
    rotations: str,
    scale_range: tuple[float, float] = (1.0, 1.0),
    translation: float = 0.0,
) -> np.ndarray:
    """``pos`` ``[B, n, 3]`` randomly rotated, scaled and translated: ``s R x + t`` per cloud.

    Args:
      pos: clouds ``[B, n, 3]``.
      rng: NumPy generator (all randomness of the call).
      rotations: ``"none"``, ``"z"`` (uniform angle about the vertical axis) or ``"so3"`` (Haar).
      scale_range: ``(low, high)``, ``0 < low <= high``: ``s`` is log-uniform in it.
      translation: ``t`` is uniform in the cube ``[-translation, translation]^3``.

    Returns:
      ``[B, n, 3]`` float32.

    Raises:
      ValueError: ``pos`` not ``[B, n, 3]``; unknown ``rotations``; a bad ``scale_range`` or a
        negative ``translation``.
    """
    pos = np.asarray(pos, np.float64)
    if pos.ndim != 3 or pos.shape[-1] != 3:
        raise ValueError(f"pos: expected shape [B, n, 3], got {pos.shape}")
    if rotations not in ("none", "z", "so3"):
        raise ValueError(f"rotations must be 'none', 'z' or 'so3', got {rotations!r}")
    low, high = scale_range
    if not 0 < low <= high:
        raise ValueError(f"scale_range must be (low, high) with 0 < low <= high, got {scale_range!r}")
    if not translation >= 0:
        raise ValueError(f"translation must be >= 0, got {translation!r}")
    b = len(pos)
    if rotations == "z":
        rot = rotations_z(rng.uniform(0, 2 * np.pi, size=b))
    elif rotations == "so3":
        rot = rotations_so3(rng, b)
    else:
        rot = np.broadcast_to(np.eye(3), (b, 3, 3))
    scale = np.exp(rng.uniform(np.log(low), np.log(high), size=b))
    shift = rng.uniform(-translation, translation, size=(b, 1, 3))
    out = scale[:, None, None] * np.einsum("bij,bnj->bni", rot, pos) + shift
    return out.astype(np.float32)
