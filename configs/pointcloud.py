"""Rotated point clouds: PointNet / DGCNN on raw xyz, TinvNN (MDS) coordinates or frame averaging.

Command (the default: PointNet on MDS coordinates, trained with z rotations, 1,000 steps of 32
clouds of 128 points; about 20 s on 2 shared CPU cores, half of it start-up and compilation):

    python -m experiments.train --config configs/pointcloud.py --workdir workdirs/pointcloud

Variants are comma-separated tokens after the colon, in any order:

- backbone: ``pointnet`` (default) | ``dgcnn``
- input: ``xyz`` | ``mds`` (default; O(3)-invariant) | ``mds_proper`` (SO(3)-invariant, chiral) |
  ``fa`` (frame averaging over E(3)) | ``fa_proper`` (over SE(3))
- training rotations: ``z`` (default) | ``so3``
- ``quick``: a smoke test (10 steps, 2 clouds per class, 64 points; about 10 s, not a result)

e.g. ``--config configs/pointcloud.py:dgcnn,xyz,so3``. The full grid (both backbones x
xyz/mds/mds_proper/fa/fa_proper x z/so3 training x 3 seeds; about 40 min) is ``python -m
experiments.pointcloud_sweep --out DIR``.

Expected result (default config, 1,200 training clouds, 480 test clouds; measured over seeds
0-2): eval/acc_z = eval/acc_so3 = 0.905 +- 0.005 (identical per seed: MDS coordinates are rotation
invariant); eval/chiral_acc_* about 0.48 (0.5 is the most an O(3)-invariant model can expect: it
cannot tell mirror images apart; ``mds_proper`` reaches 0.74, and 0.941 overall). With ``xyz``: eval/acc_z 0.96 but
eval/acc_so3 0.27. The DGCNN variants in the sweep use 400 steps. See the README table.
"""

from ml_collections import ConfigDict

from geojax.train.config import make_quick, optimizer_section, train_section

_INPUTS = {
    "xyz": ("xyz", False),
    "mds": ("mds", False),
    "mds_proper": ("mds", True),
    "fa": ("fa", False),
    "fa_proper": ("fa", True),
}


def get_config(arg: str | None = None) -> ConfigDict:
    """The config for ``arg`` (comma-separated variant tokens, see the module docstring).

    Raises:
      ValueError: an unknown token.
    """
    c = ConfigDict()
    c.task = "pointcloud"
    c.seed = 0

    c.data = ConfigDict()
    c.data.n_points = 128
    c.data.train_per_class = 100
    c.data.test_per_class = 40
    c.data.train_seed = 0
    c.data.test_seed = 1
    c.data.eval_seed = 2
    c.data.jitter = 0.01
    c.data.train_rotations = "z"
    c.data.scale_range = (0.8, 1.25)
    c.data.translation = 0.5
    c.data.eval_batch_size = 96

    c.model = ConfigDict()
    c.model.backbone = "pointnet"
    c.model.input = "mds"
    c.model.proper = False
    c.model.widths = (32, 64, 128)
    c.model.head_widths = (128,)
    c.model.embed = 128  # dgcnn only
    c.model.k = 10  # dgcnn only
    c.model.fa_train = "average"  # fa only: "average" (all frames) | "sample" (one random frame per step)

    c.optimizer = optimizer_section(learning_rate=2e-3, warmup_steps=50, final_lr_fraction=0.02, weight_decay=1e-4, grad_clip=1.0)

    c.train = train_section(steps=1000, batch_size=32, log_every=50, eval_every=500, checkpoint_every=500)

    tokens = [t for t in (arg or "").split(",") if t]
    for token in tokens:
        if token in ("pointnet", "dgcnn"):
            c.model.backbone = token
        elif token in _INPUTS:
            c.model.input, c.model.proper = _INPUTS[token]
        elif token in ("z", "so3"):
            c.data.train_rotations = token
        elif token != "quick":
            raise ValueError(
                f"configs/pointcloud.py: unknown variant token {token!r}; use comma-separated tokens from "
                f"pointnet|dgcnn, {'|'.join(_INPUTS)}, z|so3, quick"
            )
    if c.model.backbone == "dgcnn":
        c.model.widths = (32, 32, 64)
    if "quick" in tokens:
        c.data.n_points = 64
        c.data.train_per_class = 2
        c.data.test_per_class = 2
        c.data.eval_batch_size = 24
        c.model.widths = (16, 16, 32)
        c.model.head_widths = (32,)
        c.model.embed = 32
        c.model.k = 8
        make_quick(c, steps=10, batch_size=8)
    return c
