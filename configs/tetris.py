"""3D tetris under random rotations: the default experiment.

Command (about 35 s on 2 CPU cores; ~20 s for ``:quick``, mostly compilation):

    python -m experiments.train --config configs/tetris.py --workdir workdirs/tetris

Expected result: eval/accuracy 1.000 on 1,024 randomly rotated test shapes, including the chiral
pair (the network's odd-parity scalars tell mirror images apart). ``:quick`` trains 20 steps and
is a smoke test, not a result.
"""

from ml_collections import ConfigDict


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

    c.optimizer = ConfigDict()
    c.optimizer.name = "adamw"
    c.optimizer.learning_rate = 1e-2
    c.optimizer.warmup_steps = 20
    c.optimizer.final_lr_fraction = 0.01
    c.optimizer.weight_decay = 1e-4
    c.optimizer.grad_clip = 1.0

    c.train = ConfigDict()
    c.train.steps = 400
    c.train.batch_size = 64
    c.train.log_every = 20
    c.train.eval_every = 100
    c.train.checkpoint_every = 100
    c.train.keep_checkpoints = 2
    c.train.num_devices = 0  # 0: all devices

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
