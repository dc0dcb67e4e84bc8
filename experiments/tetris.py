"""3D tetris classification with an E(3)-equivariant point-convolution network.

Train on randomly rotated shapes, evaluate on a fixed set of randomly rotated shapes. Cross
entropy loss; metrics: accuracy and loss (the test set includes the chiral pair, which the
network's odd-parity scalars tell apart).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import nnx

from geojax.data.tetris import TETRIS_SHAPES, tetris_batch
from geojax.nn import PointConvNet
from geojax.train.task import process_slice


class TetrisTask:
    def make_model(self, config: ml_collections.ConfigDict, rngs: nnx.Rngs) -> nnx.Module:
        m = config.model
        return PointConvNet(n_classes=len(TETRIS_SHAPES), mul=m.mul, lmax=m.lmax, layers=m.layers, n_radial=m.n_radial, cutoff=m.cutoff, rngs=rngs)

    def train_batch(self, config, key, process_index, process_count):
        batch = tetris_batch(key, config.train.batch_size, rotate=config.data.train_rotations, noise=config.data.noise)
        sl = process_slice(config.train.batch_size, process_index, process_count)
        return {k: v[sl] for k, v in batch.items()}

    def eval_batches(self, config):
        key = jax.random.key(config.data.eval_seed)
        for i in range(config.data.eval_batches):
            yield tetris_batch(jax.random.fold_in(key, i), config.data.eval_batch_size, rotate=True)

    def loss(self, model, batch, key):
        logits = model(batch["pos"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
        accuracy = jnp.mean(jnp.argmax(logits, -1) == batch["label"])
        return loss, {"accuracy": accuracy}

    def eval_metrics(self, model, batch):
        logits = model(batch["pos"])
        correct = (jnp.argmax(logits, -1) == batch["label"]).astype(jnp.float32)
        return {
            "accuracy": correct,
            "loss": optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]),
        }
