"""Clusters on a Ray cluster (``HANAMI_EXECUTOR=ray``): one named, detached actor per cluster.

:class:`RayExecutor` implements the :class:`~hanami.server.runtime.executor.ClusterExecutor`
contract with one :class:`~hanami.server.runtime.ray_actor.ClusterActor` per cluster
(``actor_cpus`` CPUs, spread over the nodes by Ray). Rows go to the actor in bulk, as the
arguments of one call per chunk (Ray puts large arrays into its object store); the actor
writes checkpoints itself, so ``HANAMI_DATA_DIR`` must be storage every node shares.

**Exclusive.** Calls on one cluster from this process are serialised by a re-entrant lock
per cluster, as in-process; ``exclusive`` also takes the actor's lease, so a sequence is
not interleaved with another API replica's either (see :mod:`.ray_actor`). The lease is
kept :data:`LINGER_S` after the sequence ends: a direct-I/O session's next step, a few
milliseconds later, then reuses it and costs one actor call instead of two (take the lease,
train); another replica waits at most that long more for it. Actors are
named (``cluster-<uuid>`` in the ``hanami`` namespace) and detached: another replica, or
this server after a restart, finds a running cluster by its uuid.

**Queued steps.** ``queue_train`` (a journaled direct-I/O step) does not wait for the
actor: the step goes through the cluster's :class:`~.ray_pipe.StepPipe`, and every other
call first waits until the pipe is empty (``_drain``), as does giving the lease back.

**Failure.** When the actor or its node dies (``RayActorError``), the executor drops it and
calls :attr:`RayExecutor.restorer` (the registry's :meth:`revive`: a new actor from the
cluster's autosave, its step journal replayed on top), which Ray places on a live node. A
call that was running on the lost actor raises :class:`ClusterLost`, whose text a failed
task shows; ``info``, ``revision`` and a new ``exclusive`` simply go on with the new actor.
Queued steps whose call failed are dropped from the pipe: the journal replay brings them.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid as uuid_module
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from functools import partial
from typing import Any

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayActorError

from hanami.core import TrainStats
from hanami.server.runtime.executor import (
    Buffers,
    ClusterBusy,
    ClusterInfo,
    ClusterNotFound,
    PathLike,
)
from hanami.server.runtime.journal import Position
from hanami.server.runtime.ray_actor import ClusterActor, QueuedStep
from hanami.server.runtime.ray_calls import ActorHandle, ClusterLost, checked_step
from hanami.server.runtime.ray_calls import get as _get
from hanami.server.runtime.ray_pipe import PipeBroken, StepPipe

__all__ = ["ClusterLost", "RayExecutor"]  # ClusterLost: from .ray_calls, where it is raised

logger = logging.getLogger("hanami.server.ray")

NAMESPACE = "hanami"
MAX_CONCURRENCY = 16
"""Actor threads: a running call, ``info``/``revision`` and callers waiting for the lease."""
INFO_TIMEOUT_S = 5.0
"""``info`` answers from its cache when the actor does not answer sooner (a lost node)."""
PLACEMENT_TIMEOUT_S = 120.0
"""How long a new actor may wait for a node with a free CPU (and load its checkpoint)."""
NAME_WAIT_S = 60.0
"""How long a new actor waits for the name of a dead one to be released by Ray."""
LINGER_S = 0.5
"""How long a lease is kept after ``exclusive`` ends, for the next sequence of this process.

Capped at a quarter of the lease's ttl, so a kept lease never expires on the actor while
it is reused."""


class RayExecutor:
    """Clusters as Ray actors; connects to the Ray cluster at ``address`` (``host:port``)."""

    shared = True

    def __init__(
        self,
        address: str,
        *,
        actor_cpus: float = 1.0,
        lease_ttl: float = 60.0,
        cluster_max_bytes: int | None = None,
    ) -> None:
        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False,
                 ignore_reinit_error=True, logging_level=logging.WARNING)  # fmt: skip
        self._actor_class = ray.remote(ClusterActor)
        self._options: dict[str, Any] = {
            "namespace": NAMESPACE,
            "lifetime": "detached",
            "num_cpus": actor_cpus,
            "max_concurrency": MAX_CONCURRENCY,
            "max_restarts": 0,
            "scheduling_strategy": "SPREAD",
        }
        self._lease_ttl = lease_ttl
        self._max_bytes = cluster_max_bytes
        self._linger = min(LINGER_S, lease_ttl / 4)
        self._handles: dict[str, ActorHandle] = {}
        self._lock = threading.Lock()
        self.restorer: Callable[[str], None] | None = None
        """Rebuilds a lost cluster through ``load``/``create`` (+ replayed steps)."""

    # ------------------------------------------------------------------ actors

    @staticmethod
    def actor_name(uuid: str) -> str:
        return f"cluster-{uuid}"

    def _spawn(self, uuid: str) -> Any:
        deadline = time.monotonic() + NAME_WAIT_S
        options = {"name": self.actor_name(uuid), **self._options}
        while True:
            try:
                actor = self._actor_class.options(**options)
                return actor.remote(uuid, self._lease_ttl, self._max_bytes)
            except ValueError:  # the name of a dead actor Ray has not released yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _add(self, uuid: str, method: str, argument: str) -> ClusterInfo:
        with self._lock:
            handle = self._handles.get(uuid)
            if handle is not None and handle.actor is not None:
                raise ValueError(f"cluster '{uuid}' already exists")
            fresh = handle is None
            if handle is None:
                handle = self._handles[uuid] = ActorHandle()
        actor = self._spawn(uuid)
        try:
            info = _get(getattr(actor, method).remote(argument), PLACEMENT_TIMEOUT_S)
        except BaseException as exc:
            ray.kill(actor, no_restart=True)
            if fresh:
                with self._lock:
                    self._handles.pop(uuid, None)
            if isinstance(exc, GetTimeoutError):
                raise ClusterBusy(
                    f"no Ray node has room for cluster '{uuid}' within "
                    f"{PLACEMENT_TIMEOUT_S:.0f} s (each takes HANAMI_RAY_ACTOR_CPUS CPUs)"
                ) from None
            raise
        handle.actor, handle.info, handle.revision = actor, info, info.revision
        return info

    def _handle(self, uuid: str) -> ActorHandle:
        handle = self._handles.get(uuid)
        if handle is None and self.exists(uuid):
            handle = self._handles.get(uuid)
        if handle is None:
            raise ClusterNotFound(uuid)
        return handle

    def _revive(self, uuid: str, handle: ActorHandle, dead: Any) -> None:
        """Replace the lost actor ``dead`` (unless another thread already did)."""
        with handle.lock:
            if handle.actor is not dead:
                return
            handle.actor = None
            if handle.pipe is not None:  # the journal replayed by the restorer has them
                handle.pipe.reset()
            logger.warning("cluster %s: its Ray actor was lost; restoring it", uuid)
            with suppress(Exception):
                ray.kill(dead, no_restart=True)
            if self.restorer is not None:
                self.restorer(uuid)
            if handle.actor is None:
                with self._lock:
                    self._handles.pop(uuid, None)
                logger.error("cluster %s could not be restored after its actor was lost", uuid)

    def _call(self, uuid: str, method: str, *args: Any) -> Any:
        """One compute call under the cluster's lock, with this thread's lease if any."""
        handle = self._handle(uuid)
        with handle.lock:
            self._drain(uuid, handle)
            actor = handle.actor
            if actor is None:
                raise ClusterNotFound(uuid)
            try:
                return _get(getattr(actor, method).remote(handle.token, *args))
            except RayActorError:
                self._revive(uuid, handle, actor)
                if handle.actor is None:  # deleted meanwhile (by another replica)
                    raise ClusterNotFound(uuid) from None
                raise ClusterLost(uuid) from None

    def _drain(self, uuid: str, handle: ActorHandle) -> None:
        """Wait until the queued steps were applied (held lock); when a call of the pipe
        failed, rebuild the cluster from its autosave and journal, which hold them."""
        broken = None if handle.pipe is None else handle.pipe.drain()
        if broken is not None and handle.pipe is not None:
            logger.error("cluster %s: sending queued steps failed: %r", uuid, broken.__cause__)
            handle.pipe.reset()  # before the restorer queues the journal's steps again
            self._revive(uuid, handle, broken.args[0] or handle.actor)
            if handle.actor is None:
                raise ClusterNotFound(uuid)

    def _send(self, uuid: str, handle: ActorHandle, steps: list[QueuedStep]) -> None:
        """One call of the pipe's thread: ``steps`` applied by the actor, in order."""
        actor = handle.actor
        if actor is None:  # being rebuilt (the journal has the steps) or deleted
            return
        try:
            revision, failures = _get(actor.train_steps.remote(handle.token, steps))
        except Exception as exc:
            raise PipeBroken(actor) from exc
        handle.revision = revision
        for failure in failures:
            logger.error("cluster %s: an acknowledged step failed: %s", uuid, failure)

    def node_of(self, uuid: str) -> str:
        """The Ray node id of the cluster's actor."""
        return str(_get(self._handle(uuid).actor.node_id.remote()))

    # ------------------------------------------------------------------ registry

    def create(self, uuid: str, template_text: str) -> ClusterInfo:
        return self._add(uuid, "create", template_text)

    def load(self, uuid: str, path: PathLike) -> ClusterInfo:
        return self._add(uuid, "load", str(path))

    def delete(self, uuid: str) -> None:
        handle = self._handle(uuid)
        with self.exclusive(uuid):
            self._drain(uuid, handle)
            if handle.pipe is not None:
                handle.pipe.close()
            actor, handle.actor = handle.actor, None
            with self._lock:
                self._handles.pop(uuid, None)
            if actor is not None:
                ray.kill(actor, no_restart=True)

    def exists(self, uuid: str) -> bool:
        """Known here, or a running actor another replica (or an earlier run) started."""
        handle = self._handles.get(uuid)
        if handle is not None:
            return handle.actor is not None
        try:
            actor = ray.get_actor(self.actor_name(uuid), namespace=NAMESPACE)
        except ValueError:
            return False
        with self._lock:
            self._handles.setdefault(uuid, ActorHandle(actor=actor))
        return True

    def uuids(self) -> list[str]:
        with self._lock:
            return [uuid for uuid, handle in self._handles.items() if handle.actor is not None]

    def info(self, uuid: str) -> ClusterInfo:
        handle = self._handle(uuid)
        if handle.lock.acquire(blocking=False):  # queued steps first, unless it is busy
            try:
                self._drain(uuid, handle)
            finally:
                handle.lock.release()
        actor = handle.actor
        if actor is None:
            raise ClusterNotFound(uuid)
        try:
            handle.info = _get(actor.info.remote(), INFO_TIMEOUT_S)
        except GetTimeoutError:
            pass
        except RayActorError:
            if handle.lock.acquire(blocking=False):  # never wait for a running call
                try:
                    self._revive(uuid, handle, actor)
                finally:
                    handle.lock.release()
            if handle.actor is not None and handle.actor is not actor:
                handle.info = _get(handle.actor.info.remote(), INFO_TIMEOUT_S)
        if handle.info is None:
            raise ClusterNotFound(uuid)
        return handle.info

    def revision(self, uuid: str) -> int:
        handle = self._handle(uuid)
        if handle.lock.acquire(blocking=False):
            try:
                self._drain(uuid, handle)
                if handle.holds_lease():  # nobody else changes the cluster
                    return handle.revision
            finally:
                handle.lock.release()
        actor = handle.actor
        if actor is None:
            raise ClusterNotFound(uuid)
        with suppress(RayActorError, GetTimeoutError):
            return int(_get(actor.revision.remote(), INFO_TIMEOUT_S))
        return handle.revision

    # ------------------------------------------------------------------ compute

    def train(
        self,
        uuid: str,
        inputs: Mapping[str, np.ndarray],
        expected: Mapping[str, np.ndarray],
        order: np.ndarray | None = None,
    ) -> TrainStats:
        stats, revision = self._call(uuid, "train", dict(inputs), dict(expected), order)
        self._remember(uuid, revision)
        return stats

    def queue_train(self, uuid: str, inputs: Buffers, expected: Buffers, at: Position) -> None:
        """Check the step and queue it for the actor (:mod:`.ray_pipe`)."""
        handle = self._handle(uuid)
        with handle.lock:
            info = handle.info or self.info(uuid)
            step = checked_step(info, inputs, expected, at)
            if handle.pipe is None:
                handle.pipe = StepPipe(uuid, partial(self._send, uuid, handle))
            try:
                handle.pipe.put(step)
            except PipeBroken:
                self._drain(uuid, handle)  # rebuilt from the journal, this step included
                raise ClusterLost(uuid) from None

    def journal_position(self, uuid: str) -> Position | None:
        position: Position | None = self._call(uuid, "journal_position")
        return position

    def request(self, uuid: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs, revision = self._call(uuid, "request", dict(inputs))
        self._remember(uuid, revision)
        return outputs

    def save(self, uuid: str, path: PathLike) -> int:
        return int(self._call(uuid, "save", str(path)))

    def restore(self, uuid: str, path: PathLike) -> ClusterInfo:
        info: ClusterInfo = self._call(uuid, "restore", str(path))
        self._remember(uuid, info.revision, info)
        return info

    def _remember(self, uuid: str, revision: int, info: ClusterInfo | None = None) -> None:
        handle = self._handles.get(uuid)
        if handle is not None:
            handle.revision = revision
            handle.info = info or handle.info

    @contextmanager
    def exclusive(self, uuid: str, timeout: float | None = None) -> Iterator[None]:
        handle = self._handle(uuid)
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        if not handle.lock.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
            raise ClusterBusy(f"cluster '{uuid}' is busy")
        try:
            if handle.depth == 0 and not handle.holds_lease():
                self._lease(uuid, handle, deadline)
            handle.depth += 1
            try:
                yield
            finally:
                handle.depth -= 1
                if handle.depth == 0:
                    handle.keep(self._linger)
        finally:
            handle.lock.release()

    def _lease(self, uuid: str, handle: ActorHandle, deadline: float | None) -> None:
        """Take the actor's lease (a lost actor is revived first)."""
        token = uuid_module.uuid4().hex
        for _ in range(2):
            actor = handle.actor
            if actor is None:
                raise ClusterNotFound(uuid)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                revision = _get(actor.acquire.remote(token, remaining))
            except RayActorError:
                self._revive(uuid, handle, actor)
                continue
            if revision is None:
                raise ClusterBusy(f"cluster '{uuid}' is busy")
            handle.token, handle.revision, handle.leased_from = token, revision, actor
            return
        raise ClusterLost(uuid)

    def close(self) -> None:
        """Disconnect; the detached actors keep running for other replicas and restarts."""
        with self._lock:
            handles, self._handles = list(self._handles.values()), {}
        for handle in handles:
            if handle.timer is not None:
                handle.timer.cancel()
            if handle.depth == 0:
                handle.release()
            if handle.pipe is not None:
                handle.pipe.close()
        ray.shutdown()
