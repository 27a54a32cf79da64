"""What the Ray executor keeps per actor and its calls share: the handle with its kept
lease, waiting for an answer, the error of a lost actor, and the check a queued step passes
before it is acknowledged."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import ray
from ray.exceptions import RayTaskError

from hanami.core.interfaces import as_columns
from hanami.server.runtime.executor import ClusterInfo
from hanami.server.runtime.journal import Position
from hanami.server.runtime.ray_actor import QueuedStep
from hanami.server.runtime.ray_pipe import StepPipe

__all__ = ["ActorHandle", "ClusterLost", "checked_step", "get"]


@dataclass
class ActorHandle:
    """One cluster's actor as this process knows it, and the lease it holds or keeps."""

    actor: Any = None
    info: ClusterInfo | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0
    """``exclusive`` nesting of the thread that holds ``lock``."""
    token: str | None = None
    """The actor lease: held while ``depth`` > 0, and kept until ``kept_until`` after."""
    leased_from: Any = None
    """The actor that granted ``token`` (a kept lease of a lost actor is not reused)."""
    kept_until: float = 0.0
    timer: threading.Timer | None = None
    """Gives the kept lease back once ``kept_until`` has passed."""
    revision: int = 0
    pipe: StepPipe | None = None
    """Queued direct-I/O train steps (:mod:`.ray_pipe`), made on the first."""

    def holds_lease(self) -> bool:
        return self.token is not None and self.leased_from is self.actor

    def keep(self, linger: float) -> None:
        """Keep the lease ``linger`` seconds for this process's next sequence (held lock);
        one granted by an actor lost meanwhile is given back to its successor at once."""
        if not self.holds_lease():
            self.release()
            return
        self.kept_until = time.monotonic() + linger
        if self.timer is None:
            self._arm(linger)

    def _arm(self, seconds: float) -> None:
        self.timer = threading.Timer(seconds, self._give_back)
        self.timer.daemon = True
        self.timer.start()

    def _give_back(self) -> None:
        """The timer of a kept lease: release it unless it was used again meanwhile."""
        with self.lock:
            self.timer = None
            if self.depth or self.token is None:
                return  # in use: its ``exclusive`` keeps it again at the end
            left = self.kept_until - time.monotonic()
            if left > 0:
                self._arm(left)
            else:
                self.release()

    def release(self) -> None:
        """Give the lease back once the queued steps were sent with it (held lock)."""
        if self.pipe is not None:
            self.pipe.drain()  # a failure is handled by the next call
        token, self.token = self.token, None
        if self.actor is not None and token is not None:
            self.actor.release.remote(token)  # nobody waits for the answer


class ClusterLost(ConnectionError):
    """The actor or node holding the cluster died during the call; the cluster was brought
    back from its last autosave (and step journal) on another node."""

    def __str__(self) -> str:
        return (
            f"the Ray node running cluster '{self.args[0]}' was lost during this call; the "
            "cluster was restored from its last autosave on another node"
        )


def get(ref: Any, timeout: float | None = None) -> Any:
    """``ray.get``, raising the actor's own exception (its text, not Ray's traceback)."""
    try:
        return ray.get(ref, timeout=timeout)
    except RayTaskError as exc:
        if isinstance(exc.cause, Exception):
            raise exc.cause from None
        raise


def checked_step(
    info: ClusterInfo,
    inputs: Mapping[str, np.ndarray],
    expected: Mapping[str, np.ndarray],
    position: Position,
) -> QueuedStep:
    """The step as the actor gets it, after the checks its pass would make (``ValueError``:
    names, shapes, NaN, row counts), so that a step acknowledged before its pass is not
    refused later."""
    rows = {a.shape[0] for a in as_columns(inputs, info.input_names, "input")}
    rows |= {a.shape[0] for a in as_columns(expected, info.output_names, "output")}
    if len(rows) > 1:
        raise ValueError(f"inputs and expected values differ in rows: {sorted(rows)}")
    return dict(inputs), dict(expected), position
