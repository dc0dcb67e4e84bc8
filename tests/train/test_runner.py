"""The experiment runner: devices, preemption and resume, multi-process, errors."""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from configs.tetris import get_config
from experiments.registry import get_task
from geojax.train import (
    NonFiniteLossError,
    WorkdirConflict,
    check_config_overrides,
    load_trained_model,
    read_metrics,
    train_and_evaluate,
)

ROOT = Path(__file__).resolve().parents[2]


def small_config(steps: int = 6, **train):
    """The tetris config shrunk so a run compiles and trains in a few seconds."""
    c = get_config("quick")
    c.unlock()
    c.model.mul, c.model.layers, c.model.lmax = 4, 1, 1
    c.train.steps, c.train.batch_size = steps, 16
    c.train.log_every, c.train.eval_every, c.train.checkpoint_every = 1, steps, 2
    c.data.eval_batch_size, c.data.eval_batches = 20, 1  # 20 does not divide over 8 devices: padded
    c.train.update(train)
    c.lock()
    return c


def _params(result):
    return jax.tree.map(np.asarray, nnx.state(result.model, nnx.Param))


def _losses(workdir):
    return [r["loss"] for r in read_metrics(Path(workdir) / "metrics.jsonl") if "loss" in r]


def test_eight_devices_match_one_device(tmp_path):
    task = get_task("tetris")
    one = train_and_evaluate(small_config(num_devices=1), tmp_path / "one", task)
    eight = train_and_evaluate(small_config(num_devices=8), tmp_path / "eight", task)
    assert jax.device_count() == 8
    # same data and keys; only the order of float32 reductions differs
    np.testing.assert_allclose(_losses(tmp_path / "one"), _losses(tmp_path / "eight"), rtol=1e-5)
    for a, b in zip(jax.tree.leaves(_params(one)), jax.tree.leaves(_params(eight))):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert one.eval_metrics["eval/accuracy"] == pytest.approx(eight.eval_metrics["eval/accuracy"])


def test_sigterm_then_resume_is_bitwise_identical(tmp_path):
    task = get_task("tetris")
    config = small_config(steps=10, checkpoint_every=4)
    full = train_and_evaluate(config, tmp_path / "full", task)

    def preempt(step):
        if step == 6:
            os.kill(os.getpid(), signal.SIGTERM)

    first = train_and_evaluate(config, tmp_path / "resumed", task, on_step=preempt)
    assert first.preempted and first.final_step == 6
    assert 6 in [int(p.name) for p in (tmp_path / "resumed" / "checkpoints").iterdir() if p.name.isdigit()]
    second = train_and_evaluate(config, tmp_path / "resumed", task)
    assert (second.start_step, second.final_step, second.preempted) == (6, 10, False)
    assert _losses(tmp_path / "resumed") == _losses(tmp_path / "full")  # bitwise, 10 entries
    assert len(_losses(tmp_path / "full")) == 10
    for a, b in zip(jax.tree.leaves(_params(full)), jax.tree.leaves(_params(second))):
        np.testing.assert_array_equal(a, b)


def test_resume_drops_metrics_written_after_the_last_checkpoint(tmp_path):
    task = get_task("tetris")
    config = small_config(steps=5, checkpoint_every=2)
    train_and_evaluate(config, tmp_path, task)
    # simulate a crash after step 5 was logged but before it was checkpointed
    import shutil

    shutil.rmtree(tmp_path / "checkpoints" / "5")
    again = train_and_evaluate(config, tmp_path, task)
    assert again.start_step == 4
    steps = [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl") if "loss" in r]
    assert steps == [1, 2, 3, 4, 5]


def _checkpoint_steps(workdir):
    return sorted(int(p.name) for p in (Path(workdir) / "checkpoints").iterdir() if p.name.isdigit())


def test_sigterm_at_a_checkpoint_step_saves_once_and_resumes(tmp_path):
    """A signal at a step that was just checkpointed must not save it again (orbax refuses), and
    checkpoints follow the interval only (no extra one at step 1)."""
    task = get_task("tetris")
    config = small_config(steps=6, checkpoint_every=4, eval_every=6)

    def preempt(step):
        if step == 4:
            os.kill(os.getpid(), signal.SIGTERM)

    first = train_and_evaluate(config, tmp_path, task, on_step=preempt)
    assert first.preempted and first.final_step == 4 and _checkpoint_steps(tmp_path) == [4]
    second = train_and_evaluate(config, tmp_path, task)
    assert (second.start_step, second.final_step, second.preempted) == (4, 6, False)
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl") if "loss" in r] == [1, 2, 3, 4, 5, 6]


def test_a_run_killed_before_its_first_checkpoint_restarts_with_clean_metrics(tmp_path, caplog):
    task = get_task("tetris")
    config = small_config(steps=3, checkpoint_every=100)
    train_and_evaluate(config, tmp_path, task)
    import shutil

    shutil.rmtree(tmp_path / "checkpoints")  # killed before any checkpoint was finalised ...
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 4, "loss": 0.')  # ... in the middle of writing a record
    with caplog.at_level("WARNING", logger="geojax.train.metrics"):
        again = train_and_evaluate(config, tmp_path, task)
    assert again.start_step == 0 and "torn last record" in caplog.text
    steps = [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl") if "loss" in r]
    assert steps == [1, 2, 3]  # not [1, 2, 3, 1, 2, 3]


def test_batch_must_divide_over_processes():
    from geojax.train.task import process_slice

    assert process_slice(12, 1, 4) == slice(3, 6)
    with pytest.raises(ValueError, match=r"batch_size must be a multiple of the number of processes \(4\), got 10"):
        process_slice(10, 0, 4)


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    config = small_config(steps=8, checkpoint_every=1)
    config.unlock()
    config.optimizer.learning_rate = 1e30
    config.optimizer.grad_clip = 0.0
    config.lock()
    with pytest.raises(NonFiniteLossError, match="non-finite training loss .* at step (\\d+).*last good checkpoint"):
        train_and_evaluate(config, tmp_path, get_task("tetris"))
    records = read_metrics(tmp_path / "metrics.jsonl")
    saved = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
    assert saved and max(saved) < config.train.steps
    assert all(np.isfinite(r["loss"]) for r in records if "loss" in r)


def test_workdir_of_another_config_is_refused_unless_overwrite(tmp_path):
    task = get_task("tetris")
    train_and_evaluate(small_config(steps=2), tmp_path, task)
    other = small_config(steps=3)
    with pytest.raises(WorkdirConflict, match="train.steps"):
        train_and_evaluate(other, tmp_path, task)
    result = train_and_evaluate(other, tmp_path, task, overwrite=True)
    assert (result.start_step, result.final_step) == (0, 3)


def _flat(tree) -> dict[str, np.ndarray]:
    """``{"a/b/0": array}`` of an nnx State or of the nested dicts orbax restores (which end in ``/value``)."""
    if isinstance(tree, nnx.State):
        tree = nnx.to_pure_dict(tree)
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    names = ("/".join(str(getattr(k, "key", k)) for k in path) for path, _ in flat)
    return {name.removesuffix("/value"): np.asarray(v) for name, (_, v) in zip(names, flat)}


def _raw_checkpoint(workdir, step):
    """The state saved at ``step``, restored without a target (nested dicts of arrays)."""
    import orbax.checkpoint as ocp

    manager = ocp.CheckpointManager(Path(workdir).absolute() / "checkpoints")
    try:
        return manager.restore(step, args=ocp.args.StandardRestore())
    finally:
        manager.close()


def test_parameter_ema_averages_the_trained_weights_and_is_what_gets_evaluated(tmp_path):
    task = get_task("tetris")
    steps, decay = 6, 0.3  # the ramp (1+s)/(10+s) is below 0.3 for s <= 2 and above it from s = 3: both branches
    plain_config = small_config(steps=steps, checkpoint_every=1, keep_checkpoints=steps + 1)
    plain = train_and_evaluate(plain_config, tmp_path / "plain", task)
    ema_config = small_config(steps=steps)
    ema_config.unlock()
    ema_config.optimizer.ema_decay = decay
    ema_config.lock()
    ema = train_and_evaluate(ema_config, tmp_path / "ema", task)

    # the average does not feed back into training (two compiled programs: equal up to round-off)
    np.testing.assert_allclose(_losses(tmp_path / "ema"), _losses(tmp_path / "plain"), rtol=1e-6)
    # reference: the recursion over the plain run's per-step parameters, decay min(d, (1+s)/(10+s))
    init_key = jax.random.split(jax.random.key(plain_config.seed), 3)[0]
    expected = _flat(nnx.state(task.make_model(plain_config, nnx.Rngs(params=init_key)), nnx.Param))
    for s in range(1, steps + 1):
        d = min(decay, (1 + s) / (10 + s))
        params_s = _flat(_raw_checkpoint(tmp_path / "plain", s)["params"])
        expected = {k: d * e + (1 - d) * params_s[k] for k, e in expected.items()}
    saved = _raw_checkpoint(tmp_path / "ema", steps)
    got, saved_ema = _flat(nnx.state(ema.model, nnx.Param)), _flat(saved["ema_params"])
    assert set(got) == set(expected) == set(saved_ema)
    for k in expected:
        np.testing.assert_allclose(saved_ema[k], expected[k], rtol=1e-5, atol=1e-7, err_msg=k)
        np.testing.assert_array_equal(got[k], saved_ema[k], err_msg=k)
    # the raw parameters are still trained and checkpointed (as in the plain run, up to round-off),
    # and differ from their average
    trained, saved_params = _flat(nnx.state(plain.model, nnx.Param)), _flat(saved["params"])
    for k in trained:
        np.testing.assert_allclose(saved_params[k], trained[k], rtol=1e-5, atol=1e-7, err_msg=k)
    assert any(not np.allclose(trained[k], got[k]) for k in trained)
    # evaluation and the reloaded model use the average
    step, reloaded = load_trained_model(ema_config, tmp_path / "ema", task)
    assert step == steps
    reloaded = _flat(nnx.state(reloaded, nnx.Param))
    for k in got:
        np.testing.assert_array_equal(reloaded[k], got[k], err_msg=k)
    assert ema.eval_metrics != plain.eval_metrics


def test_parameter_ema_survives_preemption_bitwise(tmp_path):
    task = get_task("tetris")
    config = small_config(steps=8, checkpoint_every=3)
    config.unlock()
    config.optimizer.ema_decay = 0.9
    config.lock()
    full = train_and_evaluate(config, tmp_path / "full", task)

    def preempt(step):
        if step == 4:
            os.kill(os.getpid(), signal.SIGTERM)

    assert train_and_evaluate(config, tmp_path / "resumed", task, on_step=preempt).preempted
    second = train_and_evaluate(config, tmp_path / "resumed", task)
    assert second.start_step == 4
    for a, b in zip(jax.tree.leaves(_params(full)), jax.tree.leaves(_params(second))):
        np.testing.assert_array_equal(a, b)


def test_ema_decay_outside_unit_interval_is_refused(tmp_path):
    config = small_config(steps=2)
    config.unlock()
    config.optimizer.ema_decay = 1.0
    config.lock()
    with pytest.raises(ValueError, match=r"config.optimizer.ema_decay must be in \[0, 1\).*got 1.0"):
        train_and_evaluate(config, tmp_path, get_task("tetris"))


def test_unknown_config_override_lists_valid_fields():
    with pytest.raises(SystemExit, match="(?s)unknown config field 'model.width'.*valid fields: .*model.mul"):
        check_config_overrides(["train", "--config", "configs/tetris.py:quick", "--config.model.width=3"])
    check_config_overrides(["train", "--config=configs/tetris.py", "--config.model.mul=3"])  # valid: no exit


def test_unknown_variant_and_task_errors():
    with pytest.raises(ValueError, match="unknown variant 'fast'"):
        get_config("fast")
    with pytest.raises(ValueError, match="config.task must be one of"):
        get_task("mnist")


def test_cli_end_to_end(tmp_path):
    cmd = [sys.executable, "-m", "experiments.train", "--config", "configs/tetris.py:quick",
           "--workdir", str(tmp_path), "--config.train.steps=4", "--config.model.layers=1"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "finished at step 4" in out.stdout and "eval/accuracy" in out.stdout
    assert json.loads((tmp_path / "config.json").read_text())["train"]["steps"] == 4
    assert "versions" in json.loads((tmp_path / "environment.json").read_text())
    assert (tmp_path / "plots" / "loss.png").exists()
    bad = subprocess.run(cmd + ["--config.nope=1"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and "unknown config field 'nope'" in bad.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_train_one_sharded_job(tmp_path):
    worker = str(ROOT / "tests" / "train" / "distributed_worker.py")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    port = _free_port()
    procs = [
        subprocess.Popen([sys.executable, worker, str(port), str(i), "2", str(tmp_path / "multi")],
                         cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    results = [json.loads(line[7:]) for out, _ in outs for line in out.splitlines() if line.startswith("RESULT ")]
    assert {r["process"] for r in results} == {0, 1} and all(r["devices"] == 4 for r in results)
    single = subprocess.run([sys.executable, worker, "0", "0", "1", str(tmp_path / "single")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    ref = json.loads(single.stdout.split("RESULT ")[1])
    multi = next(r for r in results if r["process"] == 0)
    np.testing.assert_allclose(multi["losses"], ref["losses"], rtol=1e-5)
    assert results[0]["eval"] == results[1]["eval"]  # both processes see the same global metrics


@pytest.mark.slow
def test_a_signal_to_one_process_stops_all_at_the_same_step(tmp_path):
    """Only process 0 gets SIGTERM (after step 2): both must stop after step 2 and checkpoint it,
    not leave process 0 alone in the checkpoint barrier while process 1 trains on (a hang)."""
    worker = str(ROOT / "tests" / "train" / "distributed_worker.py")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    port = _free_port()
    procs = [
        subprocess.Popen([sys.executable, worker, str(port), str(i), "2", str(tmp_path / "multi"), "2"],
                         cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    try:
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    results = [json.loads(line[7:]) for out, _ in outs for line in out.splitlines() if line.startswith("RESULT ")]
    assert [(r["final_step"], r["preempted"]) for r in results] == [(2, True), (2, True)]
    assert _checkpoint_steps(tmp_path / "multi") == [2]
