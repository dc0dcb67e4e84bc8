"""An attention encoder-decoder policy for the Euclidean TSP (Kool et al., 2019; POMO, Kwon et al., 2020).

Encoder: ``h = Linear(features)``, then ``layers`` x (``h = LN(h + MHA(h))``, ``h = LN(h + FF(h))``)
(LayerNorm where Kool et al. use BatchNorm: no batch statistics, the same result for any batch
split). Decoder, for every rollout at every step: the context ``[mean_i h_i, h_first, h_last]``
is projected to a query, a multi-head glimpse attends over the unvisited cities, and the
probabilities are ``softmax(C tanh(q . k_i / sqrt(d)))`` over the unvisited cities (``C`` =
``logit_clip`` = 10).

Rollouts start at given cities (POMO: every city is a start, ``P = n`` rollouts per instance) and
decode the other ``n - 1`` cities greedily or by sampling, in one ``lax.scan``. What the policy sees
is a choice of the caller: raw coordinates, or transformation-invariant TinvNN coordinates
(``geojax.invariant.mds_coords``), which makes the tours invariant to rotations, reflections,
translations and scaling of the instance.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

Array = jax.Array


class Rollouts(NamedTuple):
    """``tours [B, P, n]`` int32 and their log-probabilities ``log_prob [B, P]``."""

    tours: Array
    log_prob: Array


class _EncoderLayer(nnx.Module):
    def __init__(self, d: int, heads: int, ff: int, *, rngs: nnx.Rngs):
        self.attention = nnx.MultiHeadAttention(num_heads=heads, in_features=d, decode=False, rngs=rngs)
        self.norm1 = nnx.LayerNorm(d, rngs=rngs)
        self.ff1 = nnx.Linear(d, ff, rngs=rngs)
        self.ff2 = nnx.Linear(ff, d, rngs=rngs)
        self.norm2 = nnx.LayerNorm(d, rngs=rngs)

    def __call__(self, h: Array) -> Array:
        h = self.norm1(h + self.attention(h))
        return self.norm2(h + self.ff2(jax.nn.relu(self.ff1(h))))


class TSPPolicy(nnx.Module):
    """Attention policy ``p(tour | features)`` (module docstring).

    Args:
      in_features: input features per city (2 for coordinates).
      d: embedding width; heads: attention heads (``d % heads == 0``); layers: encoder layers;
      ff: feed-forward width; logit_clip: ``C``.

    Raises:
      ValueError: ``d`` not divisible by ``heads``, non-positive sizes.
    """

    def __init__(
        self,
        *,
        in_features: int = 2,
        d: int = 128,
        heads: int = 8,
        layers: int = 3,
        ff: int = 512,
        logit_clip: float = 10.0,
        rngs: nnx.Rngs,
    ):
        if min(in_features, d, heads, layers, ff) < 1 or d % heads:
            raise ValueError(f"need positive sizes and d % heads == 0, got d={d}, heads={heads}, layers={layers}, ff={ff}")
        self.d, self.heads, self.logit_clip = d, heads, float(logit_clip)
        self.embed = nnx.Linear(in_features, d, rngs=rngs)
        self.encoder = nnx.List([_EncoderLayer(d, heads, ff, rngs=rngs) for _ in range(layers)])
        self.node_keys = nnx.Linear(d, 3 * d, use_bias=False, rngs=rngs)  # glimpse K, V and logit K
        self.context = nnx.Linear(3 * d, d, use_bias=False, rngs=rngs)
        self.glimpse_out = nnx.Linear(d, d, use_bias=False, rngs=rngs)

    def encode(self, features: Array) -> Array:
        """City embeddings ``[B, n, d]`` of ``features [B, n, in_features]``.

        Raises:
          ValueError: ``features`` not ``[B, n, in_features]`` with ``n >= 3``.
        """
        if features.ndim != 3 or features.shape[1] < 3 or features.shape[2] != self.embed.in_features:
            raise ValueError(
                f"features must be [B, n, {self.embed.in_features}] with n >= 3 cities, got shape {tuple(features.shape)}"
            )
        h = self.embed(features)
        for layer in self.encoder:
            h = layer(h)
        return h

    def rollout(self, features: Array, starts: Array, key: Array | None = None) -> Rollouts:
        """Tours from every start city: greedy if ``key`` is None, else sampled.

        Args:
          features: ``[B, n, in_features]``.
          starts: ``[B, P]`` int start cities (POMO: ``arange(n)`` for every instance).
          key: PRNG key for sampling; None for greedy decoding.
        Returns:
          :class:`Rollouts` with ``tours [B, P, n]`` (``tours[..., 0] == starts``) and the summed
          log-probabilities of the ``n - 1`` decisions ``[B, P]``.
        Raises:
          ValueError: bad ``features``; ``starts`` not ``[B, P]``.
        """
        h = self.encode(features)
        b, n, d = h.shape
        if starts.ndim != 2 or starts.shape[0] != b:
            raise ValueError(f"starts must be [B, P] with B = {b}, got shape {tuple(starts.shape)}")
        p, heads, dh = starts.shape[1], self.heads, d // self.heads
        kg, vg, kl = jnp.split(self.node_keys(h), 3, axis=-1)  # [B, n, d] each
        kg, vg = kg.reshape(b, n, heads, dh), vg.reshape(b, n, heads, dh)
        graph = jnp.broadcast_to(jnp.mean(h, axis=1)[:, None], (b, p, d))
        take = jax.vmap(lambda x, i: x[i])  # [B, n, d], [B, P] -> [B, P, d]
        h_first = take(h, starts)
        visited = jax.nn.one_hot(starts, n, dtype=bool)  # [B, P, n]

        def step(carry, step_key):
            visited, last, log_prob = carry
            q = self.context(jnp.concatenate([graph, h_first, take(h, last)], axis=-1)).reshape(b, p, heads, dh)
            scores = jnp.einsum("bphk,bnhk->bphn", q, kg) / math.sqrt(dh)
            scores = jnp.where(visited[:, :, None, :], -jnp.inf, scores)
            glimpse = jnp.einsum("bphn,bnhk->bphk", jax.nn.softmax(scores, axis=-1), vg).reshape(b, p, d)
            logits = jnp.einsum("bpd,bnd->bpn", self.glimpse_out(glimpse), kl) / math.sqrt(d)
            logits = jnp.where(visited, -jnp.inf, self.logit_clip * jnp.tanh(logits))
            log_p = jax.nn.log_softmax(logits, axis=-1)
            if step_key is None:
                city = jnp.argmax(logits, axis=-1)
            else:
                city = jax.random.categorical(step_key, logits, axis=-1)
            chosen = jnp.take_along_axis(log_p, city[..., None], axis=-1)[..., 0]
            visited = visited | jax.nn.one_hot(city, n, dtype=bool)
            city = city.astype(starts.dtype)
            return (visited, city, log_prob + chosen), city

        keys = None if key is None else jax.random.split(key, n - 1)
        init = (visited, starts, jnp.zeros((b, p), h.dtype))
        if keys is None:
            (_, _, log_prob), cities = jax.lax.scan(lambda c, _: step(c, None), init, None, length=n - 1)
        else:
            (_, _, log_prob), cities = jax.lax.scan(step, init, keys)
        tours = jnp.concatenate([starts[None], cities], axis=0).astype(jnp.int32)  # [n, B, P]
        return Rollouts(jnp.moveaxis(tours, 0, -1), log_prob)


def tour_lengths(coords: Array, tours: Array) -> Array:
    """Closed-tour lengths: ``coords [B, n, 2]``, ``tours [B, P, n]`` -> ``[B, P]``.

    ``L = sum_k |x[t_{k+1 mod n}] - x[t_k]|`` (the JAX twin of :func:`geojax.data.tsp.tour_length`,
    without its validation).
    """
    pts = jax.vmap(lambda x, t: x[t])(coords, tours)  # [B, P, n, 2]
    return jnp.sum(jnp.linalg.norm(jnp.roll(pts, -1, axis=-2) - pts, axis=-1), axis=-1)
