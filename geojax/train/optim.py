"""optax optimizers from a config."""

from __future__ import annotations

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
