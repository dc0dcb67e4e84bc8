"""The trainer: mesh and sharding, loop, checkpoints, metrics and plots."""

from geojax.train.checkpoint import Checkpointer, PreemptionGuard
from geojax.train.config import check_config_overrides, config_fields, load_config
from geojax.train.loop import NonFiniteLossError, RunResult, load_trained_model, train_and_evaluate
from geojax.train.mesh import make_data_mesh, maybe_initialize_distributed, replicate, shard_batch
from geojax.train.metrics import MetricWriter, read_metrics
from geojax.train.optim import make_optimizer
from geojax.train.plots import plot_metrics
from geojax.train.task import Task
from geojax.environment import environment_info
from geojax.train.workdir import WorkdirConflict, prepare_workdir, saved_config

__all__ = [
    "Checkpointer",
    "MetricWriter",
    "NonFiniteLossError",
    "PreemptionGuard",
    "RunResult",
    "Task",
    "WorkdirConflict",
    "check_config_overrides",
    "config_fields",
    "environment_info",
    "load_config",
    "load_trained_model",
    "make_data_mesh",
    "make_optimizer",
    "maybe_initialize_distributed",
    "plot_metrics",
    "prepare_workdir",
    "read_metrics",
    "replicate",
    "saved_config",
    "shard_batch",
    "train_and_evaluate",
]
