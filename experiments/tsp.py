"""TSP with an attention policy on raw or TinvNN (MDS) coordinates, trained with POMO-style REINFORCE.

Training (``loss``): random instances (``n`` cities uniform in the unit square), ``P = n``
rollouts per instance, one from every start city, sampled; REINFORCE with the shared baseline of
POMO (Kwon et al., 2020): ``loss = mean((L - mean_P L) log p)`` (advantage not differentiated).

Inputs (``config.model.input``): ``"raw"``: the coordinates; ``"tinv"``:
``geojax.invariant.mds_coords(x, scale=True)`` (TinvNN: invariant to rotations, reflections,
translations and scaling; a tour is invariant to them, so the policy loses nothing).

Evaluation: the fixed test instances (``random_instances(n, n_test, KOOL_TEST_SEED)``, Kool et al.'s
test stream) against reference tours (:func:`geojax.data.tsp.reference_tours`, cached on disk),
each also under a fixed random similarity transform (rotation, reflection with probability 1/2,
scale log-uniform in [0.5, 2], translation uniform in [-2, 2]^2): the tour is decoded from the
transformed instance and measured on the original one. Per-instance metrics:

- ``len_greedy`` (greedy from city 0), ``len_pomo`` (best greedy tour over all ``n`` starts),
  ``len_sample`` (best of ``eval_samples`` sampled tours from every start), ``len_ref``;
- ``gap_*`` = ``len_* / len_ref - 1``; the same on the transformed instance as ``*_moved``.
"""

from __future__ import annotations

import functools
from typing import Any, Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from geojax.data.tsp import KOOL_TEST_SEED, random_instances, reference_tours
from geojax.invariant import mds_coords
from geojax.nn.tsp_policy import TSPPolicy, tour_lengths
from geojax.train.task import host_rng, process_slice

INPUTS = ("raw", "tinv")


class TSPModel(nnx.Module):
    """The policy plus its input map: raw coordinates or TinvNN coordinates (module docstring)."""

    def __init__(self, policy: TSPPolicy, input: str, eval_samples: int = 0):
        if input not in INPUTS:
            raise ValueError(f"config.model.input must be one of {INPUTS}, got {input!r}")
        self.policy, self.input, self.eval_samples = policy, input, int(eval_samples)

    def features(self, coords: jax.Array) -> jax.Array:
        """``[B, n, 2]`` policy inputs for ``coords [B, n, 2]``."""
        if self.input == "raw":
            return coords
        return mds_coords(coords, scale=True)[0]

    def __call__(self, coords: jax.Array, starts: jax.Array, key: jax.Array | None = None):
        return self.policy.rollout(self.features(coords), starts, key)


def _all_starts(b: int, n: int) -> jax.Array:
    return jnp.broadcast_to(jnp.arange(n, dtype=jnp.int32), (b, n))


def random_similarities(rng: np.random.Generator, coords: np.ndarray) -> np.ndarray:
    """``s x R^T + t`` per instance: ``R`` a random rotation, a reflection with probability 1/2,
    ``s`` log-uniform in [0.5, 2], ``t`` uniform in [-2, 2]^2; ``coords [B, n, 2]`` -> same shape."""
    b = len(coords)
    theta = rng.uniform(0, 2 * np.pi, b)
    c, s = np.cos(theta), np.sin(theta)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    rot[rng.random(b) < 0.5, :, 1] *= -1
    scale = np.exp(rng.uniform(np.log(0.5), np.log(2.0), b))[:, None, None]
    t = rng.uniform(-2, 2, (b, 1, 2))
    return scale * np.einsum("bnj,bij->bni", coords, rot) + t


@functools.lru_cache(maxsize=2)
def _test_set(n: int, n_test: int, solver: str, seconds: float, cache_dir: str) -> tuple[np.ndarray, np.ndarray]:
    coords = random_instances(n, n_test, KOOL_TEST_SEED)
    ref = reference_tours(coords, solver=solver, seconds=seconds if solver != "exact" else None, cache_dir=cache_dir or None)
    return coords, ref["lengths"]


def test_set(config: ml_collections.ConfigDict) -> tuple[np.ndarray, np.ndarray]:
    """``(coords [N, n, 2], reference lengths [N])`` of ``config.data`` (references cached)."""
    d = config.data
    return _test_set(d.n_cities, d.n_test, d.solver, float(d.solver_seconds), d.cache_dir)


class TSPTask:
    """The :class:`geojax.train.task.Task` of the TSP experiment."""

    def make_model(self, config: ml_collections.ConfigDict, rngs: nnx.Rngs) -> nnx.Module:
        """``TSPModel`` for ``config.model``. Raises ``ValueError`` for an unknown input."""
        m = config.model
        policy = TSPPolicy(d=m.d, heads=m.heads, layers=m.layers, ff=m.ff, logit_clip=m.logit_clip, rngs=rngs)
        return TSPModel(policy, m.input, m.eval_samples)

    def train_batch(self, config, key, process_index, process_count) -> dict[str, np.ndarray]:
        """``{"coords": [B/P, n, 2] float32}`` uniform in the unit square; a pure function of ``key``."""
        rng = host_rng(key)
        b = config.train.batch_size
        coords = rng.random((b, config.data.n_cities, 2), dtype=np.float32)
        return {"coords": coords[process_slice(b, process_index, process_count)]}

    def eval_batches(self, config) -> Iterator[dict[str, np.ndarray]]:
        """Test instances, their transformed copies and reference lengths, in batches."""
        coords, ref = test_set(config)
        moved = random_similarities(np.random.default_rng([config.data.transform_seed]), coords)
        bs = config.data.eval_batch_size
        for i in range(0, len(coords), bs):
            sl = slice(i, i + bs)
            yield {"coords": coords[sl].astype(np.float32), "moved": moved[sl].astype(np.float32), "len_ref": ref[sl]}

    def loss(self, model, batch: dict[str, Any], key: jax.Array):
        """POMO REINFORCE loss (module docstring) and the mean sampled tour length."""
        x = batch["coords"]
        b, n = x.shape[:2]
        tours, log_prob = model(x, _all_starts(b, n), key)
        lengths = tour_lengths(x, tours)
        advantage = jax.lax.stop_gradient(lengths - jnp.mean(lengths, axis=1, keepdims=True))
        return jnp.mean(advantage * log_prob), {"length": jnp.mean(lengths), "best_length": jnp.mean(jnp.min(lengths, 1))}

    def eval_metrics(self, model, batch: dict[str, Any]) -> dict[str, jax.Array]:
        """Per-instance lengths and gaps (module docstring)."""
        x, ref = batch["coords"], batch["len_ref"]
        b, n = x.shape[:2]
        out = {"len_ref": ref}
        for suffix, inp in (("", x), ("_moved", batch["moved"])):
            greedy = tour_lengths(x, model(inp, _all_starts(b, n)).tours)  # measured on the original
            out["len_greedy" + suffix] = greedy[:, 0]
            out["len_pomo" + suffix] = jnp.min(greedy, axis=1)
        if model.eval_samples:  # fixed keys: the evaluation is deterministic
            sampled = [
                jnp.min(tour_lengths(x, model(x, _all_starts(b, n), jax.random.key(s)).tours), axis=1)
                for s in range(model.eval_samples)
            ]
            out["len_sample"] = jnp.min(jnp.stack(sampled), axis=0)
        for name in list(out):
            if name != "len_ref":
                out[name.replace("len_", "gap_")] = out[name] / ref - 1.0
        return out
