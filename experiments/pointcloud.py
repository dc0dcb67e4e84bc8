"""Rotated point-cloud classification: raw xyz vs TinvNN (MDS) coordinates vs frame averaging.

Data: :mod:`geojax.data.pointclouds` (12 procedural shape classes, a chiral pair among them). A
fixed training set of upright clouds is rotated per step ("z": about the vertical axis; "so3":
Haar-random), randomly scaled (log-uniform in ``data.scale_range``) and translated; the fixed
test set (a different seed) is evaluated twice, under fixed random z rotations and under fixed
random SO(3) rotations (with the same scaling and translations), in one pass.

Inputs (``config.model.input``), all fed to the backbone (``config.model.backbone``: "pointnet"
or "dgcnn"):

- ``"xyz"``: the centred coordinates ``x - mean(x)`` (translation invariant only).
- ``"mds"``: ``geojax.invariant.mds_coords(x, scale=True, proper=config.model.proper)``: invariant
  to translations, scaling, rotations and (``proper=False``) reflections.
- ``"fa"``: ``frame_average(backbone, x / r, group=...)`` with ``r`` the RMS distance to the
  centroid, ``group="E(3)"`` (or ``"SE(3)"`` if ``proper``): the backbone averaged over the 8 (4)
  PCA sign frames. Evaluation always averages over all frames (exact invariance). Training does
  too with ``config.model.fa_train="average"``; with ``"sample"`` each training cloud is instead
  seen in one uniformly drawn frame per step (stochastic frame averaging: the cost of one
  backbone call instead of 8).

Metrics (per example, averaged by the trainer): ``acc_z``, ``acc_so3``, ``loss_z``, ``loss_so3``,
and ``chiral_acc_z`` / ``chiral_acc_so3``: accuracy on the chiral pair's test clouds alone
(computed as ``correct * is_chiral * C / 2``, whose mean over the class-balanced test set is the
accuracy on the pair's clouds).
"""

from __future__ import annotations

from typing import Any, Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from geojax.data.pointclouds import (
    CHIRAL_PAIR,
    POINTCLOUD_CLASSES,
    make_pointclouds,
    transform_clouds,
)
from geojax.invariant import frame_average, mds_coords, pca_frames
from geojax.nn.dgcnn import DGCNN
from geojax.nn.pointnet import PointNet, check_points
from geojax.train.task import host_rng, process_slice

INPUTS = ("xyz", "mds", "fa")
BACKBONES = ("pointnet", "dgcnn")
ROTATIONS = ("z", "so3")
FA_TRAIN = ("average", "sample")


def _rms_normalize(x: jax.Array) -> jax.Array:
    """``(x - c) / r``: centred and divided by the RMS distance to the centroid, ``[..., n, 3]``."""
    y = x - jnp.mean(x, axis=-2, keepdims=True)
    r = jnp.sqrt(jnp.mean(jnp.sum(y * y, axis=-1), axis=-1))
    return y / jnp.maximum(r, jnp.finfo(y.dtype).tiny)[..., None, None]


class PointCloudClassifier(nnx.Module):
    """A backbone fed raw, MDS-canonical or frame-averaged coordinates (see the module docstring).

    Call: ``x [..., n, 3]`` -> logits ``[..., n_classes]``. Invariance (up to float rounding,
    whenever the cloud's covariance spectrum is not degenerate): ``"mds"`` and ``"fa"`` are invariant
    to ``x -> a x[perm] R + t`` for ``a > 0``, any ``t``, any permutation and ``R`` in ``O(3)``
    (``SO(3)`` if ``proper``); ``"xyz"`` only to translations and permutations.

    ``fa_train="sample"`` (``"fa"`` only): called with a ``key``, each cloud goes through the
    backbone in one random frame of its PCA frame set (not invariant; for cheap training); without a
    key the full average is used.

    Raises:
      ValueError: unknown ``input`` or ``fa_train``; at call, ``x`` not ``[..., n, 3]``.
    """

    def __init__(self, backbone: nnx.Module, *, input: str, proper: bool = False, fa_train: str = "average"):
        if input not in INPUTS:
            raise ValueError(f"input must be one of {INPUTS}, got {input!r}")
        if fa_train not in FA_TRAIN:
            raise ValueError(f"fa_train must be one of {FA_TRAIN}, got {fa_train!r}")
        self.backbone, self.input, self.proper, self.fa_train = backbone, input, bool(proper), fa_train

    def __call__(self, x: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """Logits ``[..., n_classes]`` of ``x [..., n, 3]``; ``key`` only matters for sampled frames."""
        check_points(x, 3)
        if self.input == "xyz":
            return self.backbone(x - jnp.mean(x, axis=-2, keepdims=True))
        if self.input == "mds":
            coords, _ = mds_coords(x, scale=True, proper=self.proper)
            return self.backbone(coords)
        group = "SE(3)" if self.proper else "E(3)"
        y = _rms_normalize(x)
        if self.fa_train == "sample" and key is not None:
            frames, _ = pca_frames(y, group=group)  # [..., F, 3, 3]
            pick = jax.random.randint(key, frames.shape[:-3], 0, frames.shape[-3])
            g = jnp.take_along_axis(frames, pick[..., None, None, None], axis=-3)[..., 0, :, :]
            return self.backbone(jnp.einsum("...nd,...de->...ne", y, g))
        return frame_average(self.backbone, y, group=group)


def make_backbone(model: ml_collections.ConfigDict, n_classes: int, rngs: nnx.Rngs) -> nnx.Module:
    """``PointNet`` or ``DGCNN`` from ``config.model``.

    Raises:
      ValueError: unknown ``model.backbone``.
    """
    if model.backbone == "pointnet":
        return PointNet(n_classes=n_classes, point_widths=tuple(model.widths), head_widths=tuple(model.head_widths), rngs=rngs)
    if model.backbone == "dgcnn":
        return DGCNN(
            n_classes=n_classes,
            edge_widths=tuple(model.widths),
            embed=model.embed,
            head_widths=tuple(model.head_widths),
            k=model.k,
            rngs=rngs,
        )
    raise ValueError(f"config.model.backbone must be one of {BACKBONES}, got {model.backbone!r}")


def _datasets(config: ml_collections.ConfigDict) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    d = config.data
    train = make_pointclouds(d.train_per_class, n_points=d.n_points, seed=d.train_seed, jitter=d.jitter)
    test = make_pointclouds(d.test_per_class, n_points=d.n_points, seed=d.test_seed, jitter=d.jitter)
    return train, test


def _check_config(config: ml_collections.ConfigDict) -> None:
    if config.data.train_rotations not in ROTATIONS:
        raise ValueError(f"config.data.train_rotations must be one of {ROTATIONS}, got {config.data.train_rotations!r}")
    if config.model.input not in INPUTS:
        raise ValueError(f"config.model.input must be one of {INPUTS}, got {config.model.input!r}")


class PointCloudTask:
    """The :class:`geojax.train.task.Task` of the rotated point-cloud experiment."""

    def make_model(self, config: ml_collections.ConfigDict, rngs: nnx.Rngs) -> nnx.Module:
        """``PointCloudClassifier`` for ``config.model``.

        Raises:
          ValueError: unknown ``config.model.backbone``, ``input`` or ``fa_train``, or
            ``config.data.train_rotations``.
        """
        _check_config(config)
        backbone = make_backbone(config.model, len(POINTCLOUD_CLASSES), rngs)
        return PointCloudClassifier(
            backbone, input=config.model.input, proper=config.model.proper, fa_train=config.model.get("fa_train", "average")
        )

    def train_batch(self, config: ml_collections.ConfigDict, key: jax.Array, process_index: int, process_count: int) -> dict[str, np.ndarray]:
        """``{"pos": [B/P, n, 3] float32, "label": [B/P] int32}``: training clouds drawn with
        replacement, transformed as ``config.data`` says; a pure function of ``key``.

        Raises:
          ValueError: unknown ``config.data.train_rotations`` or ``config.model.input``.
        """
        _check_config(config)
        train, _ = _datasets(config)
        d, b = config.data, config.train.batch_size
        rng = host_rng(key)
        idx = rng.integers(0, len(train["label"]), size=b)
        pos = transform_clouds(
            train["pos"][idx], rng, rotations=d.train_rotations, scale_range=tuple(d.scale_range), translation=d.translation
        )
        sl = process_slice(b, process_index, process_count)
        return {"pos": pos[sl], "label": train["label"][idx][sl]}

    def eval_batches(self, config: ml_collections.ConfigDict) -> Iterator[dict[str, np.ndarray]]:
        """The fixed test set under z rotations (``pos_z``) and SO(3) rotations (``pos_so3``)."""
        _, test = _datasets(config)
        d = config.data
        rng = np.random.default_rng([d.eval_seed])
        kw = dict(scale_range=tuple(d.scale_range), translation=d.translation)
        pos_z = transform_clouds(test["pos"], rng, rotations="z", **kw)
        pos_so3 = transform_clouds(test["pos"], rng, rotations="so3", **kw)
        bs = d.eval_batch_size
        for start in range(0, len(test["label"]), bs):
            sl = slice(start, start + bs)
            yield {"pos_z": pos_z[sl], "pos_so3": pos_so3[sl], "label": test["label"][sl]}

    def loss(self, model: nnx.Module, batch: dict[str, Any], key: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Mean softmax cross entropy and the batch accuracy."""
        logits = model(batch["pos"], key=key)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
        return loss, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["label"])}

    def eval_metrics(self, model: nnx.Module, batch: dict[str, Any]) -> dict[str, jax.Array]:
        """Per-example ``acc_*``, ``loss_*`` and ``chiral_acc_*`` (see the module docstring)."""
        label = batch["label"]
        chiral = (label == CHIRAL_PAIR[0]) | (label == CHIRAL_PAIR[1])
        weight = len(POINTCLOUD_CLASSES) / len(CHIRAL_PAIR)  # the test set is class-balanced
        out = {}
        for name in ("z", "so3"):
            logits = model(batch[f"pos_{name}"])
            correct = (jnp.argmax(logits, -1) == label).astype(jnp.float32)
            out[f"acc_{name}"] = correct
            out[f"loss_{name}"] = optax.softmax_cross_entropy_with_integer_labels(logits, label)
            out[f"chiral_acc_{name}"] = correct * chiral * weight
        return out
