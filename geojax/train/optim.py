"""optax optimizers from a config."""

from __future__ import annotations

import jax.numpy as jnp
import ml_collections
import optax


def make_schedule(config: ml_collections.ConfigDict, total_steps: int) -> optax.Schedule:
    """Linear warmup to ``config.learning_rate`` over ``config.warmup_steps``, cosine decay to
    ``config.learning_rate * config.final_lr_fraction`` at ``total_steps``."""
    warmup = min(int(config.warmup_steps), max(total_steps - 1, 0))
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=config.learning_rate,
        warmup_steps=warmup,
        decay_steps=max(total_steps, warmup + 1),
        end_value=config.learning_rate * config.final_lr_fraction,
    )


def make_optimizer(config: ml_collections.ConfigDict, total_steps: int) -> tuple[optax.GradientTransformation, optax.Schedule]:
    """``clip_by_global_norm(config.grad_clip)`` then ``config.name`` (adamw | adam | sgd) on the schedule.

    Raises:
      ValueError: unknown optimizer name.
    """
    schedule = make_schedule(config, total_steps)
    if config.name == "adamw":
        base = optax.adamw(schedule, weight_decay=config.weight_decay)
    elif config.name == "adam":
        base = optax.adam(schedule)
    elif config.name == "sgd":
        base = optax.sgd(schedule, momentum=config.get("momentum", 0.9))
    else:
        raise ValueError(f"config.optimizer.name must be one of 'adamw', 'adam', 'sgd', got {config.name!r}")
    parts = [optax.clip_by_global_norm(config.grad_clip)] if config.grad_clip else []
    return optax.chain(*parts, base), schedule


def ema_decay_of(config: ml_collections.ConfigDict) -> float:
    """``config.ema_decay`` (0 when absent: configs older than the field train without an average).

    Raises:
      ValueError: a decay outside [0, 1).
    """
    decay = float(config.get("ema_decay", 0.0))
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"config.optimizer.ema_decay must be in [0, 1) (0 turns the average off), got {decay}")
    return decay


def ema_decay_at(decay: float, step: jnp.ndarray) -> jnp.ndarray:
    """The averaging decay used after update ``step`` (1-based): ``min(decay, (1 + step) / (10 + step))``.

    The ramp keeps the first updates from being swamped by the initial parameters, so a short run
    still averages trained weights; after ~10 / (1 - decay) steps it is the plain
    ``ema <- decay * ema + (1 - decay) * params``.
    """
    step = jnp.asarray(step, jnp.float32)
    return jnp.minimum(decay, (1.0 + step) / (10.0 + step))
