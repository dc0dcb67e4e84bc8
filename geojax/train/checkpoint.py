"""Checkpoints that survive preemption: orbax, atomic, keep-N, saved on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import orbax.checkpoint as ocp


class Checkpointer:
    """Periodic checkpoints of a pytree state in ``workdir/checkpoints``.

    orbax writes each step into a temporary directory and renames it when complete, so a run
    killed at any moment leaves the previous checkpoint intact; only the latest ``keep`` are kept.
    """

    def __init__(self, workdir: str | Path, *, every: int, keep: int):
        self.every = every
        options = ocp.CheckpointManagerOptions(
            # only the interval: orbax's default policy would also save the first step
            save_decision_policy=ocp.checkpoint_managers.FixedIntervalPolicy(max(every, 1)),
            preservation_policy=ocp.checkpoint_managers.LatestN(keep),
            create=True,
        )
        self.manager = ocp.CheckpointManager(Path(workdir).absolute() / "checkpoints", options=options)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def restore(self, target) -> tuple[int, object]:
        """``(step, state)`` of the latest checkpoint, restored with ``target``'s structure and shardings."""
        step = self.manager.latest_step()
        state = self.manager.restore(step, args=ocp.args.StandardRestore(target))
        return step, state

    def save(self, step: int, state, *, force: bool = False) -> bool:
        """Save ``state`` at ``step`` if the interval says so or ``force``; whether a save started.
        orbax refuses a step that is already saved, even with ``force``: save each step once."""
        return self.manager.save(step, args=ocp.args.StandardSave(state), force=force)

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()


class PreemptionGuard:
    """Turns SIGTERM/SIGINT into a flag the training loop checks after every step.

    A second signal of the same kind while the flag is set restores the default behaviour, so a
    user can still force an immediate exit.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.requested: int | None = None
        self._previous = {}

    def _handler(self, signum, frame):
        if self.requested is not None:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        self.requested = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                self._previous[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc):
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        return False
