"""Equivariance error of the affine-equivariant network against the number of group samples.

    python -m experiments.affnist_equivariance [--group SL2] [--digits 16] [--samples 1,2,4,8,16]
        [--workdir DIR]   # a trained run of configs/affnist.py (default: a freshly initialized model)

For test digits ``x`` and random affine maps ``A`` (affNIST's ranges, no translation), it reports
the relative change of the invariant features (``AffineConvNet.features``; RMS over digits
divided by the RMS of the features):

- ``moved``: ``x -> A x`` with the sample set moved with it (``g -> A g``,
  :func:`geojax.lie.translate`): the estimator is exactly equivariant in the continuum, so what
  remains is resampling of the image and stencil truncation; it does not shrink with ``M``;
- ``fresh``: ``x -> A x`` with an independently drawn sample set of ``M`` elements (how the model
  is used): Monte-Carlo error, which falls with ``M``;
- ``noise``: the same ``x`` with two independent sample sets: the Monte-Carlo floor alone.

``--per-layer`` adds the ``moved`` error of every layer's summary
(:meth:`AffineConvNet.layer_features`, the largest ``M``): where the grid error enters.
"""

from __future__ import annotations

import argparse
import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from experiments.affnist import load_affnist_run, make_affnist_model
from experiments.sweep_io import load_get_config
from geojax.data.affnist import (
    affine_transform_images,
    make_affnist_style,
    random_affine_maps,
)
from geojax.lie import translate


# Compiled once per model structure and input shape, across calls (the parameters are arguments).
_features = nnx.jit(lambda model, x, samples: model.features(x, samples))
_layer_features = nnx.jit(lambda model, x, samples: model.layer_features(x, samples))


def _sample_sets(model, num: int, seed: int):
    """Two independent sample sets of ``num`` elements from the model's own sampling law."""
    k1, k2 = jax.random.split(jax.random.key(seed))
    return model.draw_samples(k1, num=num), model.draw_samples(k2, num=num)


def _moved(fn, model, images: np.ndarray, A: np.ndarray, samples):
    """``fn`` of each image mapped by its ``A[i]`` with the samples moved along (``g -> A[i] g``), stacked."""
    moved_images = np.asarray(affine_transform_images(images, A, np.zeros((len(A), 2))))
    outs = [fn(jnp.asarray(moved_images[i : i + 1]), translate(model.group, samples, jnp.asarray(A[i], samples.elements.dtype))) for i in range(len(A))]
    return jax.tree.map(lambda *o: np.concatenate([np.asarray(x) for x in o]), *outs), moved_images


def _relative_change(other, base) -> float:
    base = np.asarray(base)
    return float(np.sqrt(np.mean((np.asarray(other) - base) ** 2)) / np.sqrt(np.mean(base**2)))


def measure(model, images: np.ndarray, A: np.ndarray, num: int, seed: int = 0) -> dict[str, float]:
    """The three relative errors of the module docstring for ``num`` samples (one map per image)."""
    s1, s2 = _sample_sets(model, num, seed)
    f = functools.partial(_features, model)
    base = f(jnp.asarray(images), s1)
    moved, moved_images = _moved(f, model, images, A, s1)
    return {
        "moved": _relative_change(moved, base),
        "fresh": _relative_change(f(jnp.asarray(moved_images), s2), base),
        "noise": _relative_change(f(jnp.asarray(images), s2), base),
    }


def moved_per_layer(model, images: np.ndarray, A: np.ndarray, num: int, seed: int = 0) -> list[float]:
    """The ``moved`` error of :meth:`AffineConvNet.layer_features`, one value per layer; the same
    sample set as :func:`measure`, so the last value is its ``moved``."""
    samples, _ = _sample_sets(model, num, seed)
    f = functools.partial(_layer_features, model)
    moved, _ = _moved(f, model, images, A, samples)
    return [_relative_change(m, b) for m, b in zip(moved, f(jnp.asarray(images), samples))]


def main(argv: list[str] | None = None) -> None:
    """Print the table of the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--group", default="SL2", choices=("SL2", "GL+2"))
    parser.add_argument("--digits", type=int, default=16)
    parser.add_argument("--samples", default="1,2,4,8,16")
    parser.add_argument("--workdir", default=None, help="restore the model of this trained run")
    parser.add_argument("--per-layer", action="store_true", help="also the moved error of every layer (largest M)")
    args = parser.parse_args(argv)
    if args.workdir:
        _, model = load_affnist_run(args.workdir)
    else:
        model = make_affnist_model(load_get_config("affnist.py")("gl2" if args.group == "GL+2" else "sl2"), nnx.Rngs(params=0))
    data = make_affnist_style(n_test=max(10, -(-args.digits // 10) * 10), n_maps=1)
    images = data["test_images"][: args.digits]
    A, _ = random_affine_maps(1, len(images))
    print(f"{args.group}, {'trained: ' + args.workdir if args.workdir else 'initialization'}, {len(images)} digits; "
          f"relative feature change (RMS)")
    print(f"{'M':>4} {'moved':>8} {'fresh':>8} {'noise':>8}")
    for num in [int(s) for s in args.samples.split(",")]:
        r = measure(model, images, A, num)
        print(f"{num:>4} {r['moved']:8.4f} {r['fresh']:8.4f} {r['noise']:8.4f}", flush=True)
    if args.per_layer:
        num = max(int(s) for s in args.samples.split(","))
        errors = moved_per_layer(model, images, A, num)
        print(f"moved, per layer (M = {num}): " + " ".join(f"{e:.4f}" for e in errors))


if __name__ == "__main__":
    main()
