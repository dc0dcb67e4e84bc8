"""One process of a two-process CPU job (used by test_runner.py's slow multi-process test).

    python tests/train/distributed_worker.py PORT PROCESS_ID NUM_PROCESSES WORKDIR [SIGTERM_STEP]
Prints ``RESULT <json>`` with the losses of the steps it trained. With SIGTERM_STEP, process 0
alone sends itself SIGTERM after that step (4 steps then, checkpoints every 4).
"""

import json
import sys

import jax

import os
import signal

port, pid, nproc, workdir = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
sigterm_step = int(sys.argv[5]) if len(sys.argv) > 5 else None
jax.config.update("jax_num_cpu_devices", 2)
jax.config.update("jax_platforms", "cpu")
jax.config.update("jax_cpu_collectives_implementation", "gloo")
if nproc > 1:
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=nproc, process_id=pid)

sys.path.insert(0, ".")
from experiments.registry import get_task  # noqa: E402
from geojax.train import read_metrics, train_and_evaluate  # noqa: E402
from tests.train.test_runner import small_config  # noqa: E402

config = small_config(steps=2) if sigterm_step is None else small_config(steps=4, checkpoint_every=4, eval_every=4)


def on_step(step):
    if pid == 0 and step == sigterm_step:
        os.kill(os.getpid(), signal.SIGTERM)


result = train_and_evaluate(config, workdir, get_task("tetris"), on_step=on_step)
losses = [r["loss"] for r in read_metrics(f"{workdir}/metrics.jsonl") if "loss" in r] if pid == 0 else []
print("RESULT " + json.dumps({"process": jax.process_index(), "devices": jax.device_count(), "losses": losses,
                              "eval": result.eval_metrics, "final_step": result.final_step,
                              "preempted": result.preempted}), flush=True)
