"""The training loop: one readable function from config to trained, checkpointed, evaluated model."""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx
from jax.experimental import multihost_utils

from geojax.train.checkpoint import Checkpointer, PreemptionGuard
from geojax.train.mesh import make_data_mesh, replicate, shard_batch
from geojax.train.metrics import MetricWriter, progress_bar
from geojax.train.optim import ema_decay_at, ema_decay_of, make_optimizer
from geojax.train.plots import plot_metrics
from geojax.train.task import Task
from geojax.train.workdir import prepare_workdir

log = logging.getLogger("geojax.train")


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or inf; the last good checkpoint is kept."""


@dataclasses.dataclass
class RunResult:
    """What a call to :func:`train_and_evaluate` did."""

    workdir: Path
    start_step: int
    final_step: int
    preempted: bool
    eval_metrics: dict[str, float]
    model: nnx.Module


def train_and_evaluate(
    config: ml_collections.ConfigDict,
    workdir: str | Path,
    task: Task,
    *,
    overwrite: bool = False,
    on_step: Callable[[int], None] | None = None,
) -> RunResult:
    """Train ``task`` as ``config`` says, resuming from ``workdir`` if it holds a checkpoint.

    Config fields used: ``seed``; ``train.{steps, batch_size, log_every, eval_every,
    checkpoint_every, keep_checkpoints, num_devices}``; ``optimizer.*`` (see
    :func:`geojax.train.optim.make_optimizer`); everything else is the task's.

    With ``optimizer.ema_decay > 0`` the state also carries an exponential moving average of the
    parameters (:func:`geojax.train.optim.ema_decay_at`), checkpointed with the rest; evaluation,
    the returned model and :func:`load_trained_model` then use the averaged parameters.

    Randomness: ``seed`` is split once into init / data / step keys; step ``s`` uses
    ``fold_in(key, s)``, so data order and dropout are a function of the step and a resumed run is
    bitwise identical to an uninterrupted one on the same hardware.

    ``on_step(step)`` is called after each completed step (for tests and custom hooks).

    Raises:
      NonFiniteLossError: a non-finite loss; nothing after the last good checkpoint is saved.
      WorkdirConflict: the workdir holds a run of another config and ``overwrite`` is False.
    """
    # ---- Setup: workdir, mesh, keys ----------------------------------------------------------
    workdir = prepare_workdir(workdir, config, overwrite=overwrite)
    tc = config.train
    mesh = make_data_mesh(tc.get("num_devices") or None)
    init_key, data_key, step_key = jax.random.split(jax.random.key(config.seed), 3)

    # ---- Model and optimizer -----------------------------------------------------------------
    model = task.make_model(config, nnx.Rngs(params=init_key))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx, schedule = make_optimizer(config.optimizer, tc.steps)
    ema_decay = ema_decay_of(config.optimizer)
    state = _initial_state(params, tx, rest, ema_decay)
    state = replicate(state, mesh)
    n_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))
    log.info("model %s with %d parameters on %d devices", type(model).__name__, n_params, mesh.devices.size)

    # ---- Resume ------------------------------------------------------------------------------
    checkpointer = Checkpointer(workdir, every=tc.checkpoint_every, keep=tc.keep_checkpoints)
    writer = MetricWriter(workdir)
    start_step = 0
    if checkpointer.latest_step() is not None:
        start_step, state = checkpointer.restore(state)
        log.info("resumed from step %d in %s", start_step, workdir)
    writer.resume_from(start_step)  # also at 0: a run killed before its first checkpoint left records

    # ---- Compiled steps ----------------------------------------------------------------------
    def train_step(state, batch, key, step):
        def loss_fn(params):
            return task.loss(nnx.merge(graphdef, params, state["rest"]), batch, key)

        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = jax.tree.map(lambda p, u: p + u, state["params"], updates)
        new_state = {"params": params, "opt_state": opt_state, "rest": state["rest"]}
        if ema_decay:
            decay = ema_decay_at(ema_decay, step)
            new_state["ema_params"] = optax.incremental_update(params, state["ema_params"], 1.0 - decay)
        return new_state, {"loss": loss, **aux}

    train_step = jax.jit(train_step, donate_argnums=(0,))

    @jax.jit
    def eval_step(state, batch):
        model = nnx.merge(graphdef, _eval_params(state), state["rest"])
        per_example = task.eval_metrics(model, batch)
        weight = batch["_weight"]
        return {k: jnp.sum(v * weight) for k, v in per_example.items()}, jnp.sum(weight)

    def evaluate(state) -> dict[str, float]:
        totals, count = {}, 0.0
        for batch in task.eval_batches(config):
            batch = _pad_for_devices(batch, mesh.devices.size)
            sums, n = eval_step(state, shard_batch(_local_slice(batch), mesh))
            for k, v in sums.items():
                totals[k] = totals.get(k, 0.0) + float(v)
            count += float(n)
        return {f"eval/{k}": v / count for k, v in totals.items()}

    # ---- Loop --------------------------------------------------------------------------------
    step, preempted, eval_metrics = start_step, False, {}
    last_time, last_step = time.perf_counter(), start_step
    try:
        with PreemptionGuard() as guard, progress_bar(start_step, tc.steps) as bar:
            while step < tc.steps:
                local = task.train_batch(config, jax.random.fold_in(data_key, step), jax.process_index(), jax.process_count())
                new_state, metrics = train_step(state, shard_batch(local, mesh), jax.random.fold_in(step_key, step), step + 1)
                loss = float(metrics["loss"])
                if not math.isfinite(loss):
                    raise NonFiniteLossError(
                        f"non-finite training loss ({loss}) at step {step + 1}; stopping. The last good checkpoint "
                        f"(step {checkpointer.latest_step()}) is kept in {workdir / 'checkpoints'}; lower "
                        "config.optimizer.learning_rate or tighten config.optimizer.grad_clip"
                    )
                state, step = new_state, step + 1
                bar.update(1)
                if step % tc.log_every == 0 or step == tc.steps:
                    now = time.perf_counter()
                    rate = (step - last_step) / max(now - last_time, 1e-9)
                    last_time, last_step = now, step
                    writer.write(step, **{k: float(v) for k, v in metrics.items()}, lr=float(schedule(step - 1)), steps_per_sec=rate)
                    bar.set_postfix(loss=f"{loss:.4g}")
                if step % tc.eval_every == 0 or step == tc.steps:
                    eval_metrics = evaluate(state)
                    writer.write(step, **eval_metrics)
                saved = checkpointer.save(step, state, force=step == tc.steps)
                if on_step is not None:
                    on_step(step)
                if _stop_requested(guard):
                    log.warning("stop requested (signal %s here): checkpoint at step %d, stopping", guard.requested, step)
                    if not saved:
                        checkpointer.save(step, state, force=True)
                    preempted = True
                    break
    finally:
        checkpointer.close()  # waits for the last save, also when an error ends the loop
    if step == tc.steps and not eval_metrics:
        eval_metrics = evaluate(state)
    if jax.process_index() == 0:
        plot_metrics(workdir)
    return RunResult(workdir, start_step, step, preempted, eval_metrics, nnx.merge(graphdef, _eval_params(state), state["rest"]))


def _stop_requested(guard: PreemptionGuard) -> bool:
    """Whether any process received SIGTERM/SIGINT. All processes must stop at the same step: one
    alone in the checkpoint's barrier while the others enter the next step's collectives hangs."""
    here = guard.requested is not None
    if jax.process_count() == 1:
        return here
    return bool(np.max(multihost_utils.process_allgather(np.int32(here))))


def _initial_state(params, tx: optax.GradientTransformation, rest, ema_decay: float) -> dict:
    """The trainer's state; ``ema_params`` only when averaging, so checkpoints of runs without it keep their layout."""
    state = {"params": params, "opt_state": tx.init(params), "rest": rest}
    if ema_decay:
        state["ema_params"] = jax.tree.map(jnp.copy, params)
    return state


def _eval_params(state: dict):
    """The parameters to evaluate: the moving average when the run keeps one."""
    return state.get("ema_params", state["params"])


def _pad_for_devices(batch: dict, n_devices: int) -> dict:
    """Pad a global eval batch to a multiple of the device count; ``_weight`` marks real examples."""
    n = len(next(iter(batch.values())))
    pad = (-n) % n_devices
    out = {k: np.concatenate([v, np.repeat(v[-1:], pad, axis=0)]) if pad else np.asarray(v) for k, v in batch.items()}
    out["_weight"] = np.concatenate([np.ones(n, np.float32), np.zeros(pad, np.float32)])
    return out


def _local_slice(batch: dict) -> dict:
    """This process's contiguous slice of a global batch."""
    n = len(batch["_weight"])
    per = n // jax.process_count()
    start = jax.process_index() * per
    return {k: v[start : start + per] for k, v in batch.items()}


def load_trained_model(config: ml_collections.ConfigDict, workdir: str | Path, task: Task) -> tuple[int, nnx.Module]:
    """``(step, model)``: the model of the latest checkpoint in ``workdir`` (a run of ``config``).

    The state is restored with the structure :func:`train_and_evaluate` saves (parameters,
    optimizer state, other variables, and the parameter average when ``optimizer.ema_decay > 0``);
    only the model is returned, with the averaged parameters where there are any, on the default device.

    Raises:
      FileNotFoundError: ``workdir`` holds no checkpoint.
    """
    init_key = jax.random.split(jax.random.key(config.seed), 3)[0]
    model = task.make_model(config, nnx.Rngs(params=init_key))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx, _ = make_optimizer(config.optimizer, config.train.steps)
    checkpointer = Checkpointer(workdir, every=1, keep=1)
    try:
        if checkpointer.latest_step() is None:
            raise FileNotFoundError(f"no checkpoint in {Path(workdir) / 'checkpoints'}")
        step, state = checkpointer.restore(_initial_state(params, tx, rest, ema_decay_of(config.optimizer)))
    finally:
        checkpointer.close()
    return step, nnx.merge(graphdef, _eval_params(state), state["rest"])
