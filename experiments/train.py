"""Train and evaluate any geojax experiment.

    python -m experiments.train --config configs/<name>.py[:variant] --workdir <dir> [--config.a.b=value ...]

Re-running the same command resumes from the latest checkpoint in ``--workdir``. ``--overwrite``
deletes a run of a different config in that workdir; ``--multihost`` calls
``jax.distributed.initialize()`` (also done when ``JAX_COORDINATOR_ADDRESS`` is set).
"""

from __future__ import annotations

import logging
import sys

from absl import app, flags
from ml_collections import config_flags

from geojax.train.config import check_config_overrides

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file, path[:variant].", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and plots.", required=True)
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Delete a run of a different config in --workdir.")
_MULTIHOST = flags.DEFINE_bool("multihost", False, "Call jax.distributed.initialize() first.")


def main(argv) -> None:
    del argv
    from geojax.train.mesh import maybe_initialize_distributed

    maybe_initialize_distributed(_MULTIHOST.value)

    import jax

    from experiments.registry import get_task
    from geojax.train import train_and_evaluate

    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.WARNING)  # orbax logs every save at INFO
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
    train_log = logging.getLogger("geojax.train")
    train_log.addHandler(handler)
    train_log.setLevel(logging.INFO)
    train_log.propagate = False
    config = _CONFIG.value
    result = train_and_evaluate(config, _WORKDIR.value, get_task(config.task), overwrite=_OVERWRITE.value)
    if jax.process_index() == 0:
        status = "stopped by signal at" if result.preempted else "finished at"
        print(f"\n{status} step {result.final_step} (started at {result.start_step})")
        for k, v in sorted(result.eval_metrics.items()):
            print(f"  {k}: {v:.4f}")
        print(f"metrics:     {result.workdir / 'metrics.jsonl'}")
        print(f"checkpoints: {result.workdir / 'checkpoints'}")
        print(f"plots:       {result.workdir / 'plots'}")
        print(f"config:      {result.workdir / 'config.json'}")


def run(argv=None) -> None:
    argv = sys.argv if argv is None else argv
    check_config_overrides(argv)
    app.run(main, argv=argv)


if __name__ == "__main__":
    run()
