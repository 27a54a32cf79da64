"""The Ray actor that holds one cluster, and the lease that serialises its callers.

The actor wraps an :class:`~hanami.server.runtime.executor.InProcessExecutor` holding just
its own cluster, so the engine calls, the revision counter and the never-blocking ``info``
are the in-process ones. The actor is threaded (``info`` must answer while a train chunk
runs), so the in-process lock cannot span several actor calls: :class:`Lease` does. A
caller that needs a sequence not interleaved with anybody else's (``exclusive``: a task, a
direct-I/O step) takes the lease with a token and passes the token with every call; a call
without a token waits until nobody holds the lease and holds it for its own duration. A
lease whose holder made no call for ``ttl`` seconds expires (its API replica died).

This module imports no Ray: :mod:`hanami.server.runtime.ray_executor` wraps the class.
"""

from __future__ import annotations

import threading
import time
import uuid as uuid_module
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np

from hanami.core import TrainStats
from hanami.server.runtime.executor import ClusterInfo, InProcessExecutor
from hanami.server.runtime.journal import Position

QueuedStep = tuple[dict[str, np.ndarray], dict[str, np.ndarray], Position]
"""A direct-I/O train step on its way to the actor: inputs, expected values, position."""

__all__ = ["ClusterActor", "Lease", "QueuedStep"]

WAKE_S = 0.5
"""How often a waiting caller looks again whether an idle lease has expired."""


class Lease:
    """One holder at a time; a holder idle for ``ttl`` seconds loses it."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.holder: str | None = None
        self._expires = 0.0
        self._active = 0
        self._cond = threading.Condition()

    def _free_for(self, token: str) -> bool:
        if self.holder is None or self.holder == token:
            return True
        return self._active == 0 and time.monotonic() > self._expires

    def acquire(self, token: str, timeout: float | None) -> bool:
        """Take (or keep) the lease for ``token``; False if not free within ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        with self._cond:
            while not self._free_for(token):
                wait = WAKE_S if deadline is None else min(WAKE_S, deadline - time.monotonic())
                if wait <= 0:
                    return False
                self._cond.wait(wait)
            self.holder = token
            self._expires = time.monotonic() + self.ttl
            return True

    def release(self, token: str) -> None:
        with self._cond:
            if self.holder == token:
                self.holder = None
                self._cond.notify_all()

    @contextmanager
    def call(self, token: str | None) -> Iterator[None]:
        """Hold the lease for one call: the caller's (``token``), or a lease of its own."""
        own = token or uuid_module.uuid4().hex
        self.acquire(own, None)
        with self._cond:
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._expires = time.monotonic() + self.ttl
            if token is None:
                self.release(own)


class ClusterActor:
    """One cluster in a Ray worker process; methods mirror ``ClusterExecutor`` for one uuid.

    The compute methods return the revision after the call with their result, so the
    executor knows it without another round trip."""

    def __init__(self, uuid: str, lease_ttl: float, max_bytes: int | None = None) -> None:
        self.uuid = uuid
        self.lease = Lease(lease_ttl)
        self.clusters = InProcessExecutor(max_bytes)

    def create(self, template_text: str) -> ClusterInfo:
        return self.clusters.create(self.uuid, template_text)

    def load(self, path: str) -> ClusterInfo:
        return self.clusters.load(self.uuid, path)

    def acquire(self, token: str, timeout: float | None) -> int | None:
        """Take the lease; the revision, or None when it stayed busy for ``timeout``."""
        return self.clusters.revision(self.uuid) if self.lease.acquire(token, timeout) else None

    def release(self, token: str) -> None:
        self.lease.release(token)

    def info(self) -> ClusterInfo:
        return self.clusters.info(self.uuid)

    def revision(self) -> int:
        return self.clusters.revision(self.uuid)

    def train(
        self,
        token: str | None,
        inputs: Mapping[str, np.ndarray],
        expected: Mapping[str, np.ndarray],
        order: np.ndarray | None,
    ) -> tuple[TrainStats, int]:
        with self.lease.call(token):
            stats = self.clusters.train(self.uuid, inputs, expected, order)
            return stats, self.clusters.revision(self.uuid)

    def train_steps(self, token: str | None, steps: list[QueuedStep]) -> tuple[int, list[str]]:
        """Queued direct-I/O steps in order (:mod:`.ray_pipe`); the revision after them and
        why steps failed. A failed step is skipped: it was checked before it was
        acknowledged, so none should, and the steps after it must still be applied."""
        failures = []
        with self.lease.call(token):
            for inputs, expected, position in steps:
                try:
                    self.clusters.queue_train(self.uuid, inputs, expected, position)
                except ValueError as exc:
                    failures.append(str(exc))
            return self.clusters.revision(self.uuid), failures

    def journal_position(self, token: str | None) -> Position | None:
        with self.lease.call(token):
            return self.clusters.journal_position(self.uuid)

    def request(
        self, token: str | None, inputs: Mapping[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], int]:
        with self.lease.call(token):
            outputs = self.clusters.request(self.uuid, inputs)
            return outputs, self.clusters.revision(self.uuid)

    def save(self, token: str | None, path: str) -> int:
        """Write the checkpoint from this process (``path`` is on the shared data root)."""
        with self.lease.call(token):
            return self.clusters.save(self.uuid, path)

    def restore(self, token: str | None, path: str) -> ClusterInfo:
        with self.lease.call(token):
            return self.clusters.restore(self.uuid, path)

    def node_id(self) -> str:
        """The Ray node this actor runs on (placement checks, the dashboard)."""
        import ray  # only ever called inside a Ray worker

        return ray.get_runtime_context().get_node_id()
