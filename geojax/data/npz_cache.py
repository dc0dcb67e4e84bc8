"""Atomic ``.npz`` files for generated datasets and reference solutions (never pickles)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np


def write_npz_atomic(path: str | Path, arrays: dict) -> None:
    """``np.savez`` to a temporary file next to ``path``, fsync, then ``os.replace`` it.

    A crash leaves either the old file or the new one, never half of one; the temporary file is
    removed on failure. Values are converted with ``np.asarray`` (strings become unicode arrays;
    object arrays raise here rather than at load time). The file gets the usual mode of a new
    file (``0666`` less the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, allow_pickle=False, **{k: np.asarray(v) for k, v in arrays.items()})
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a shared cache must be readable like any new file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
