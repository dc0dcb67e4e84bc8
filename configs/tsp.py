"""TSP (Kool et al. protocol) with an attention policy on raw or TinvNN coordinates.

Command (the default: TSP20, TinvNN input):

    python -m experiments.train --config configs/tsp.py --workdir workdirs/tsp20_tinv

Variants (comma-separated tokens): ``tinv`` (default) | ``raw``; ``n20`` (default) | ``n50``;
``quick`` (a smoke test: 8 cities, tiny model, a few steps). The first evaluation computes the
reference tours of the test set and caches them in ``data.cache_dir`` (TSP20: exact Held-Karp,
about 0.07 s per instance; TSP50: fast-tsp's local search, 0.1 s per instance).

Expected (README "TinvNN on the travelling salesman problem", one seed): TSP20, 1,500 steps of 64
in about 7 min on 2 free CPU cores, greedy gap 2.6% from city 0 and 0.6% best of 20 starts; TSP50
(``n50``: 2,500 steps of 32), about 64 min on one core plus 15 min of evaluation, 11.2% and 4.0%.
"""

from ml_collections import ConfigDict

from geojax.train.config import make_quick, optimizer_section, train_section


def get_config(arg: str | None = None) -> ConfigDict:
    """The config for ``arg`` (comma-separated variant tokens, see the module docstring).

    Raises:
      ValueError: an unknown token.
    """
    c = ConfigDict()
    c.task = "tsp"
    c.seed = 0

    c.data = ConfigDict()
    c.data.n_cities = 20
    c.data.n_test = 10_000
    c.data.solver = "exact"  # reference tours: "exact" (n <= 20) | "fast_tsp" | "ortools"
    c.data.solver_seconds = 0.1  # heuristics only
    c.data.cache_dir = "workdirs/tsp_cache"
    c.data.transform_seed = 7
    c.data.eval_batch_size = 500

    c.model = ConfigDict()
    c.model.input = "tinv"
    c.model.d = 128
    c.model.heads = 8
    c.model.layers = 3
    c.model.ff = 512
    c.model.logit_clip = 10.0
    c.model.eval_samples = 4  # sampled rollouts per start city at evaluation (0: greedy only)

    c.optimizer = optimizer_section(learning_rate=3e-4, warmup_steps=100, final_lr_fraction=0.1, weight_decay=1e-6, grad_clip=1.0)

    c.train = train_section(steps=1500, batch_size=64, log_every=50, eval_every=1500, checkpoint_every=500)

    tokens = [t for t in (arg or "").split(",") if t]
    for token in tokens:
        if token in ("tinv", "raw"):
            c.model.input = token
        elif token in ("n20", "n50"):
            c.data.n_cities = int(token[1:])
        elif token != "quick":
            raise ValueError(f"configs/tsp.py: unknown variant token {token!r}; use tinv|raw, n20|n50, quick")
    if c.data.n_cities > 20:
        c.data.solver = "fast_tsp"
        # 50 rollouts per instance: halve the batch to keep a step about as long as TSP20's
        c.train.update({"steps": 2500, "batch_size": 32, "eval_every": 2500})
    if "quick" in tokens:
        c.data.n_cities = 8
        c.data.n_test = 16
        c.data.eval_batch_size = 8
        c.model.d, c.model.heads, c.model.layers, c.model.ff = 16, 2, 1, 32
        c.model.eval_samples = 2
        make_quick(c, steps=4, batch_size=8)
    return c
