"""Which factor of the affine maps costs a trained affNIST-style model its accuracy.

    python -m experiments.affnist_factors --workdir workdirs/affnist_6k/runs/sl2-s0 [--maps 2]
        [--digits 1000] [--seed 1] [--json out.json]

Evaluates a finished run of ``configs/affnist.py`` (any model) on its test digits under
``--maps`` random maps per digit, drawn with one factor of affNIST's ranges at a time
(:func:`geojax.data.affnist.random_affine_maps` with the other ranges collapsed to the identity):
translation only (keeping the ink on the canvas), rotation (+-20 deg), shear (+-0.2), per-axis
scale (0.8-1.2), the linear part without translation, and all together (the test distribution,
newly drawn). The model is evaluated as in training's evaluation (its fixed sample set). Prints a
markdown table of accuracies (%); ``--json`` also writes them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from flax import nnx

from experiments.affnist import dataset, load_affnist_run
from geojax.data.affnist import AFFNIST_RANGES, affine_transform_images, random_affine_maps

IDENTITY = {"rotation_deg": 0.0, "shear": 0.0, "scale": (1.0, 1.0)}
FACTORS: dict[str, tuple[dict, bool]] = {
    # name: (ranges, translate)
    "translation only (ink kept on the canvas)": (IDENTITY, True),
    "rotation only (+-20 deg)": ({**IDENTITY, "rotation_deg": AFFNIST_RANGES["rotation_deg"]}, False),
    "shear only (+-0.2)": ({**IDENTITY, "shear": AFFNIST_RANGES["shear"]}, False),
    "scale only (0.8-1.2 per axis)": ({**IDENTITY, "scale": AFFNIST_RANGES["scale"]}, False),
    "rotation, shear and scale, no translation": (AFFNIST_RANGES, False),
    "all (the test distribution, new maps)": (AFFNIST_RANGES, True),
}


def accuracy(predict, images: np.ndarray, labels: np.ndarray, batch: int = 250) -> float:
    """Fraction of ``images [N, H, W]`` whose ``argmax predict(batch)`` equals ``labels [N]``."""
    hits = 0
    for start in range(0, len(images), batch):
        logits = np.asarray(predict(images[start : start + batch]))
        hits += int(np.sum(np.argmax(logits, -1) == labels[start : start + batch]))
    return hits / len(images)


def factor_maps(images: np.ndarray, n_maps: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{setting: (A [N n_maps, 2, 2], t [N n_maps, 2])}`` for every entry of ``FACTORS``.

    Map ``i`` is for ``images[i // n_maps]`` (``images [N, H, W]``, square canvases). Every setting
    uses the same draws from ``seed``, with the other factors collapsed to the identity; ``t = 0``
    where the setting has no translation.
    """
    repeated = np.repeat(images, n_maps, axis=0)
    out = {}
    for name, (ranges, translate) in FACTORS.items():
        A, t = random_affine_maps(seed, len(repeated), images.shape[-1], repeated, **ranges)
        out[name] = (A, t if translate else np.zeros_like(t))
    return out


def factor_accuracies(model, images: np.ndarray, labels: np.ndarray, n_maps: int, seed: int) -> dict[str, float]:
    """``{setting: accuracy}`` for the centred ``images [N, H, W]`` (labels ``[N]``) and every
    setting of :func:`factor_maps`."""
    jitted = nnx.jit(lambda m, x: m(x))
    predict = lambda x: jitted(model, x)  # noqa: E731
    out = {"centred": accuracy(predict, images, labels)}
    repeated, rep_labels = np.repeat(images, n_maps, axis=0), np.repeat(labels, n_maps)
    for name, (A, t) in factor_maps(images, n_maps, seed).items():
        out[name] = accuracy(predict, np.asarray(affine_transform_images(repeated, A, t)), rep_labels)
    return out


def main(argv: list[str] | None = None) -> None:
    """Print (and optionally write) the table of the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", required=True, help="a finished run of configs/affnist.py")
    parser.add_argument("--maps", type=int, default=2, help="maps per test digit and setting")
    parser.add_argument("--digits", type=int, default=None, help="the first N test digits (default: all)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the maps (the test set's own maps use 0)")
    parser.add_argument("--json", default=None, help="also write the accuracies here")
    args = parser.parse_args(argv)
    if args.maps < 1:
        raise ValueError(f"--maps must be >= 1, got {args.maps}")
    config, model = load_affnist_run(args.workdir)
    data = dataset(config)
    n = len(data["test_labels"]) if args.digits is None else args.digits
    if not 1 <= n <= len(data["test_labels"]):
        raise ValueError(f"--digits must be in [1, {len(data['test_labels'])}], got {n}")
    acc = factor_accuracies(model, data["test_images"][:n], data["test_labels"][:n], args.maps, args.seed)
    print(f"{args.workdir}: {n} test digits x {args.maps} maps per setting (affNIST-style, regenerated from a 5k MNIST subset)")
    print("| test maps | accuracy (%) |\n|---|---|")
    for name, value in acc.items():
        print(f"| {name} | {100 * value:.1f} |")
    if args.json:
        record = {"workdir": str(args.workdir), "digits": n, "maps": args.maps, "seed": args.seed, "accuracy": acc}
        Path(args.json).write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
