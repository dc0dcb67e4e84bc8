"""3BPA-style (GFN2-xTB labels) potential with Gaunt products or their Clebsch-Gordan twin.

Commands (generate the data once, about 30 minutes on one core; then train):

    OMP_NUM_THREADS=1 python -m geojax.data.bpa --out workdirs/bpa_cache   # --workers 2: temperatures in parallel
    python -m experiments.train --config configs/bpa.py --workdir workdirs/bpa_gaunt
    python -m experiments.train --config configs/bpa.py:cg --workdir workdirs/bpa_cg

Expected (README "3BPA-style force field"; 10,000 steps, each run pinned to one of 2 CPU cores):
about 70 min (Gaunt, ~420 ms per step as logged, two runs sharing the machine); 300 K test RMSE
about 30 meV (energy) and 68 meV/A (forces) for the Gaunt model (2 seeds); the CG twin (``:cg``,
~614 ms per step with four runs on 2 cores, on another machine's cache) reached 41 / 85. The
Gaunt products have learned rank-2 path weights (``model.path_rank = 2``,
:class:`geojax.nn.PathFactors`, the default since 2026-12-04; the CG twin ignores it;
``--config.model.path_rank=1`` gives the earlier model: about 98 meV/A) and distinct many-body
factors (``model.distinct_factors``; ``--config.model.distinct_factors=False`` gives the model
before that).

Variants (comma-separated tokens): ``gaunt`` (default) | ``cg``; ``l1`` ... ``l6`` (the degree);
``quick`` (a smoke test on a tiny data set generated in a few seconds with
``python -m geojax.data.bpa --out workdirs/bpa_cache --n-train 4 --n-test 2 --temperatures 300 1200
--stride 2 --equilibration-steps 4``).
"""

from ml_collections import ConfigDict

from geojax.train.config import apply_gaunt_tokens, gaunt_model_section, make_quick, optimizer_section, train_section


def get_config(arg: str | None = None) -> ConfigDict:
    """The config for ``arg`` (comma-separated variant tokens, see the module docstring).

    Raises:
      ValueError: an unknown token.
    """
    c = ConfigDict()
    c.task = "bpa"
    c.seed = 0

    c.data = ConfigDict()
    c.data.cache_dir = "workdirs/bpa_cache"
    c.data.n_train = 500
    c.data.n_test = 1000
    c.data.temperatures = (300, 600, 1200)
    c.data.stride = 20
    c.data.equilibration_steps = 2000
    c.data.seed = 0
    c.data.eval_split = "test_300K"
    c.data.eval_batch_size = 50

    c.model = gaunt_model_section(channels=16, lmax=2, layers=2, correlation=2, cutoff=5.0, avg_neighbours=15.0, distinct_factors=True, path_rank=2)

    c.optimizer = optimizer_section(learning_rate=3e-3, warmup_steps=100, final_lr_fraction=0.01, weight_decay=1e-8, grad_clip=10.0)

    c.train = train_section(steps=10000, batch_size=5, energy_weight=100.0, forces_weight=10.0, log_every=100, eval_every=10000, checkpoint_every=1000)

    tokens = [t for t in (arg or "").split(",") if t]
    apply_gaunt_tokens(c, tokens, "configs/bpa.py")
    if "quick" in tokens:
        c.data.n_train, c.data.n_test = 4, 2
        c.data.temperatures = (300, 1200)
        c.data.stride, c.data.equilibration_steps = 2, 4
        c.data.eval_batch_size = 2
        c.model.channels, c.model.layers, c.model.lmax = 4, 1, 1
        make_quick(c, steps=4, batch_size=2)
    return c
