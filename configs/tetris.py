"""3D tetris under random rotations: the default experiment.

Command (about 35 s on 2 CPU cores; ~20 s for ``:quick``, mostly compilation):

    python -m experiments.train --config configs/tetris.py --workdir workdirs/tetris

Expected result: eval/accuracy 1.000 on 1,024 randomly rotated test shapes, which include the
chiral pair (no separate metric for it: at accuracy 1.000 the network's odd-parity scalars tell the
mirror images apart). ``:quick`` trains 20 steps and
is a smoke test, not a result.
"""

from ml_collections import ConfigDict

from geojax.train.config import optimizer_section, train_section


def get_config(arg: str | None = None) -> ConfigDict:
    c = ConfigDict()
    c.task = "tetris"
    c.seed = 0

    c.data = ConfigDict()
    c.data.train_rotations = True
    c.data.noise = 0.0
    c.data.eval_seed = 1234
    c.data.eval_batches = 4
    c.data.eval_batch_size = 256

    c.model = ConfigDict()
    c.model.mul = 8
    c.model.lmax = 2
    c.model.layers = 3
    c.model.n_radial = 8
    c.model.cutoff = 3.5

    c.optimizer = optimizer_section(learning_rate=1e-2, warmup_steps=20, final_lr_fraction=0.01, weight_decay=1e-4, grad_clip=1.0)

    c.train = train_section(steps=400, batch_size=64, log_every=20, eval_every=100, checkpoint_every=100, keep_checkpoints=2, num_devices=0)

    if arg == "quick":
        c.train.steps = 20
        c.train.log_every = 5
        c.train.eval_every = 10
        c.train.checkpoint_every = 10
        c.data.eval_batches = 1
        c.data.eval_batch_size = 64
    elif arg not in (None, ""):
        raise ValueError(f"configs/tetris.py: unknown variant {arg!r}; use ':quick' or none")
    return c
