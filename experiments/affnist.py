"""affNIST-style affine generalization: train on centred digits, test on affinely mapped ones.

Data: :func:`geojax.data.affnist.make_affnist_style` -- "affNIST-style (regenerated from a 5k
MNIST subset)": 4,000 centred training digits on a 40x40 canvas; 1,000 test digits, centred and
under 32 random affine maps each (affNIST's ranges: rotation +-20 deg, shear +-0.2, per-axis scale
0.8-1.2, translations keeping the digit on the canvas).

Models (``config.model.name``):

- ``"affine"``: :class:`geojax.nn.affine_conv.AffineConvNet` for ``config.model.group`` ("SL2" or
  "GL+2"); a fresh Monte-Carlo sample set of group elements per training step (drawn from the
  step key), a fixed one (``model.eval_samples`` elements) at evaluation.
- ``"cnn"``: :class:`geojax.nn.cnn.SmallCNN`, the same layout with ordinary convolutions; with
  ``config.data.augment`` each training digit is mapped by a fresh random affine map (affNIST's
  ranges) every step.

Metrics (per test digit, averaged by the trainer): ``acc_centred`` / ``loss_centred`` on the
centred digit, ``acc_transformed`` / ``loss_transformed`` averaged over its 32 maps.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from geojax.data.affnist import (
    N_CLASSES,
    affine_transform_images,
    make_affnist_style,
    random_affine_maps,
)
from geojax.nn.affine_conv import AffineConvNet
from geojax.nn.cnn import SmallCNN
from geojax.train import load_trained_model, saved_config
from geojax.train.task import host_rng, process_slice

MODELS = ("affine", "cnn")


@functools.lru_cache(maxsize=2)
def _dataset(n_test: int, n_maps: int, size: int, seed: int) -> dict[str, np.ndarray]:
    return make_affnist_style(n_test=n_test, n_maps=n_maps, size=size, seed=seed)


def dataset(config: ml_collections.ConfigDict) -> dict[str, np.ndarray]:
    """The (cached) dataset ``config.data`` describes."""
    d = config.data
    return _dataset(d.n_test, d.n_maps, d.size, d.seed)


def make_affnist_model(config: ml_collections.ConfigDict, rngs: nnx.Rngs) -> nnx.Module:
    """``AffineConvNet`` or ``SmallCNN`` for ``config.model``.

    Raises:
      ValueError: unknown ``config.model.name`` or ``group``; bad sizes.
    """
    m = config.model
    if m.name == "affine":
        params = {"sigma": m.sigma}
        if m.group == "GL+2":
            params["sigma_scale"] = m.sigma_scale
        return AffineConvNet(
            group=m.group,
            n_classes=N_CLASSES,
            widths=tuple(m.widths),
            kernel_sizes=tuple(m.kernel_sizes),
            radii=tuple(m.radii),
            hidden=m.hidden,
            num_samples=m.num_samples,
            eval_samples=m.eval_samples,
            sample_params=params,
            eval_seed=m.eval_seed,
            haar_weights=m.haar_weights,
            rotation_sigma=m.rotation_sigma or None,
            rbf_width=m.get("rbf_width", 0.5),
            pooling=m.get("pooling", "max"),
            input_blur=m.get("input_blur", 0.0),
            center_input=m.get("center_input", False),
            whiten_std=m.get("whiten_std", 0.0) or None,
            orient=m.get("orient", False),
            sample_pooling=m.get("sample_pooling", "mean"),
            rngs=rngs,
        )
    if m.name == "cnn":
        return SmallCNN(n_classes=N_CLASSES, widths=tuple(m.widths), kernel_size=m.cnn_kernel_size, center_input=m.get("center_input", False),
                        whiten_std=m.get("whiten_std", 0.0) or None, orient=m.get("orient", False), rngs=rngs)
    raise ValueError(f"config.model.name must be one of {MODELS}, got {m.name!r}")


def load_affnist_run(workdir: str | Path) -> tuple[ml_collections.ConfigDict, nnx.Module]:
    """``(config, model)`` of a finished run of ``configs/affnist.py`` in ``workdir``.

    Raises:
      FileNotFoundError: no ``config.json`` or no checkpoint in ``workdir``.
      ValueError: the checkpoint is not the run's last step (an unfinished run).
    """
    config = saved_config(workdir)
    step, model = load_trained_model(config, workdir, AffNISTTask())
    if step != config.train.steps:
        raise ValueError(f"{workdir}: checkpoint at step {step}, expected {config.train.steps} (an unfinished run?)")
    return config, model


class AffNISTTask:
    """The :class:`geojax.train.task.Task` of the affNIST-style experiment."""

    def make_model(self, config: ml_collections.ConfigDict, rngs: nnx.Rngs) -> nnx.Module:
        """See :func:`make_affnist_model`."""
        return make_affnist_model(config, rngs)

    def train_batch(self, config: ml_collections.ConfigDict, key: jax.Array, process_index: int, process_count: int) -> dict[str, np.ndarray]:
        """``{"image": [B/P, 40, 40] float32, "label": [B/P] int32}``: training digits drawn with
        replacement, mapped by random affine maps if ``config.data.augment``; a pure function of ``key``."""
        data = dataset(config)
        b = config.train.batch_size
        rng = host_rng(key)
        idx = rng.integers(0, len(data["train_labels"]), size=b)
        images = data["train_images"][idx]
        if config.data.augment:
            A, t = random_affine_maps(int(rng.integers(2**31)), b, config.data.size, images)
            images = np.asarray(affine_transform_images(images, A, t))
        sl = process_slice(b, process_index, process_count)
        return {"image": images[sl], "label": data["train_labels"][idx][sl]}

    def eval_batches(self, config: ml_collections.ConfigDict) -> Iterator[dict[str, np.ndarray]]:
        """Per test digit: ``image [b, 40, 40]`` (centred), ``image_t [b, n_maps, 40, 40]``, ``label [b]``."""
        data = dataset(config)
        n, k = len(data["test_labels"]), config.data.n_maps
        transformed = data["test_transformed_images"].reshape((n, k) + data["test_images"].shape[1:])
        bs = config.data.eval_digits_per_batch
        for start in range(0, n, bs):
            sl = slice(start, start + bs)
            yield {"image": data["test_images"][sl], "image_t": transformed[sl], "label": data["test_labels"][sl]}

    def loss(self, model: nnx.Module, batch: dict[str, Any], key: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Mean softmax cross entropy and the batch accuracy (``key`` draws the group samples)."""
        logits = model(batch["image"], key=key)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
        return loss, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["label"])}

    def eval_metrics(self, model: nnx.Module, batch: dict[str, Any]) -> dict[str, jax.Array]:
        """Per digit ``acc_centred``, ``loss_centred``, ``acc_transformed``, ``loss_transformed``."""
        label = batch["label"]
        logits = model(batch["image"])
        b, k = batch["image_t"].shape[:2]
        logits_t = model(batch["image_t"].reshape((b * k,) + batch["image_t"].shape[2:])).reshape(b, k, -1)
        label_t = jnp.broadcast_to(label[:, None], (b, k))
        return {
            "acc_centred": (jnp.argmax(logits, -1) == label).astype(jnp.float32),
            "loss_centred": optax.softmax_cross_entropy_with_integer_labels(logits, label),
            "acc_transformed": jnp.mean(jnp.argmax(logits_t, -1) == label_t, axis=1, dtype=jnp.float32),
            "loss_transformed": optax.softmax_cross_entropy_with_integer_labels(logits_t, label_t).mean(axis=1),
        }
