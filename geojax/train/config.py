"""Config files as code: loading ``path[:variant]`` and checking ``--config.x=y`` overrides early."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import ml_collections


def load_config(spec: str) -> ml_collections.ConfigDict:
    """``get_config(variant)`` of the file in ``spec = "path.py[:variant]"``.

    Raises:
      FileNotFoundError: no such file. AttributeError: the file has no ``get_config``.
    """
    path, _, variant = spec.partition(":")
    if not Path(path).is_file():
        raise FileNotFoundError(f"config file {path!r} does not exist")
    module_spec = importlib.util.spec_from_file_location(f"_geojax_config_{Path(path).stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise AttributeError(f"config file {path!r} defines no get_config(arg=None)")
    return module.get_config(variant or None)


def config_fields(config: ml_collections.ConfigDict, prefix: str = "") -> list[str]:
    """All leaf field paths (``a.b.c``) of a config."""
    out = []
    for key, value in config.items():
        if isinstance(value, ml_collections.ConfigDict):
            out += config_fields(value, f"{prefix}{key}.")
        else:
            out.append(prefix + key)
    return out


def check_config_overrides(argv: list[str]) -> None:
    """Exit with a clear message if a ``--config.x=y`` names a field the config does not have.

    (``ml_collections`` would raise a bare ``AttributeError`` during flag parsing.)
    """
    spec = None
    for i, arg in enumerate(argv):
        if arg.startswith("--config="):
            spec = arg.split("=", 1)[1]
        elif arg == "--config" and i + 1 < len(argv):
            spec = argv[i + 1]
    if spec is None:
        return
    config = load_config(spec)
    fields = config_fields(config)
    for arg in argv:
        if arg.startswith("--config.") :
            name = arg[len("--config.") :].split("=", 1)[0]
            if name not in fields and not any(f.startswith(name + ".") for f in fields):
                sys.exit(
                    f"error: unknown config field {name!r} for {spec}.\nvalid fields: " + ", ".join(sorted(fields))
                )


def optimizer_section(*, learning_rate: float, warmup_steps: int, final_lr_fraction: float, weight_decay: float, grad_clip: float, name: str = "adamw", ema_decay: float = 0.0) -> ml_collections.ConfigDict:
    """``config.optimizer`` (read by :func:`geojax.train.optim.make_optimizer`): warm-up, cosine decay to
    ``learning_rate * final_lr_fraction``, decoupled weight decay, global-norm gradient clipping;
    ``ema_decay > 0`` makes the trainer evaluate and return an exponential moving average of the
    parameters (see :func:`geojax.train.optim.ema_decay_at`)."""
    return ml_collections.ConfigDict(
        {"name": name, "learning_rate": learning_rate, "warmup_steps": warmup_steps, "final_lr_fraction": final_lr_fraction, "weight_decay": weight_decay, "grad_clip": grad_clip, "ema_decay": ema_decay}
    )


def train_section(*, steps: int, batch_size: int, log_every: int, eval_every: int, checkpoint_every: int, keep_checkpoints: int = 1, num_devices: int = 1, **extra) -> ml_collections.ConfigDict:
    """``config.train`` (read by the trainer); ``extra`` adds task-specific fields (e.g. loss weights).
    ``num_devices = 0`` uses every device."""
    fields = {"steps": steps, "batch_size": batch_size, "log_every": log_every, "eval_every": eval_every, "checkpoint_every": checkpoint_every, "keep_checkpoints": keep_checkpoints, "num_devices": num_devices}
    return ml_collections.ConfigDict({**fields, **extra})


def make_quick(config: ml_collections.ConfigDict, *, steps: int, batch_size: int) -> None:
    """Shrink a config's schedule in place to a smoke test: ``steps`` steps of ``batch_size``, two logs, one evaluation and checkpoint at the end."""
    config.optimizer.warmup_steps = 2
    config.train.update({"steps": steps, "batch_size": batch_size, "log_every": max(steps // 2, 1), "eval_every": steps, "checkpoint_every": steps})


def gaunt_model_section(*, channels: int, lmax: int, layers: int, correlation: int, cutoff: float, avg_neighbours: float, num_radial: int = 8, distinct_factors: bool = False, path_rank: int = 1, product: str = "gaunt", method: str = "auto") -> ml_collections.ConfigDict:
    """``config.model`` of the E(3) Gaunt models (:class:`geojax.nn.GauntPotential`,
    :class:`geojax.nn.GauntDynamics`); ``product = "cg"`` is the Clebsch-Gordan twin."""
    fields = {"product": product, "method": method, "channels": channels, "lmax": lmax, "layers": layers, "correlation": correlation, "num_radial": num_radial, "distinct_factors": distinct_factors, "path_rank": path_rank, "cutoff": cutoff, "avg_neighbours": avg_neighbours}
    return ml_collections.ConfigDict(fields)


def apply_gaunt_tokens(config: ml_collections.ConfigDict, tokens: list[str], config_file: str) -> None:
    """Apply the E(3) config variant tokens in place: ``gaunt`` | ``cg`` (``model.product``),
    ``l1`` ... ``l6`` (``model.lmax``); ``quick`` is left to the caller.

    Raises:
      ValueError: any other token, naming ``config_file``.
    """
    for token in tokens:
        if token in ("gaunt", "cg"):
            config.model.product = token
        elif token in {f"l{k}" for k in range(1, 7)}:
            config.model.lmax = int(token[1:])
        elif token != "quick":
            raise ValueError(f"{config_file}: unknown variant token {token!r}; use gaunt|cg, l1..l6, quick")
