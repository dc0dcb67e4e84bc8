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
