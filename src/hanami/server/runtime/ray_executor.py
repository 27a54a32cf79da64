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

**Failure.** When the actor or its node dies (``RayActorError``), the executor drops it and
calls :attr:`RayExecutor.restorer` (the registry's :meth:`revive`: a new actor from the
cluster's autosave, its step journal replayed on top), which Ray places on a live node. A
call that was running on the lost actor raises :class:`ClusterLost`, whose text a failed
task shows; ``info``, ``revision`` and a new ``exclusive`` simply go on with the new actor.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid as uuid_module
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from hanami.core import TrainStats
from hanami.server.runtime.executor import (
    ClusterBusy,
    ClusterInfo,
    ClusterNotFound,
    PathLike,
)
from hanami.server.runtime.ray_actor import ClusterActor

__all__ = ["ClusterLost", "RayExecutor"]

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


class ClusterLost(ConnectionError):
    """The actor or node holding the cluster died during the call; the cluster was brought
    back from its last autosave (and step journal) on another node."""

    def __str__(self) -> str:
        return (
            f"the Ray node running cluster '{self.args[0]}' was lost during this call; the "
            "cluster was restored from its last autosave on another node"
        )


@dataclass
class _Handle:
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

    def holds_lease(self) -> bool:
        return self.token is not None and self.leased_from is self.actor


def _get(ref: Any, timeout: float | None = None) -> Any:
    """``ray.get``, raising the actor's own exception (its text, not Ray's traceback)."""
    try:
        return ray.get(ref, timeout=timeout)
    except RayTaskError as exc:
        if isinstance(exc.cause, Exception):
            raise exc.cause from None
        raise


class RayExecutor:
    """Clusters as Ray actors; connects to the Ray cluster at ``address`` (``host:port``)."""

    shared = True

    def __init__(self, address: str, *, actor_cpus: float = 1.0, lease_ttl: float = 60.0) -> None:
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
        self._linger = min(LINGER_S, lease_ttl / 4)
        self._handles: dict[str, _Handle] = {}
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
                return self._actor_class.options(**options).remote(uuid, self._lease_ttl)
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
                handle = self._handles[uuid] = _Handle()
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

    def _handle(self, uuid: str) -> _Handle:
        handle = self._handles.get(uuid)
        if handle is None and self.exists(uuid):
            handle = self._handles.get(uuid)
        if handle is None:
            raise ClusterNotFound(uuid)
        return handle

    def _revive(self, uuid: str, handle: _Handle, dead: Any) -> None:
        """Replace the lost actor ``dead`` (unless another thread already did)."""
        with handle.lock:
            if handle.actor is not dead:
                return
            handle.actor = None
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
            self._handles.setdefault(uuid, _Handle(actor=actor))
        return True

    def uuids(self) -> list[str]:
        with self._lock:
            return [uuid for uuid, handle in self._handles.items() if handle.actor is not None]

    def info(self, uuid: str) -> ClusterInfo:
        handle = self._handle(uuid)
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
                    self._keep(handle)
        finally:
            handle.lock.release()

    def _keep(self, handle: _Handle) -> None:
        """Keep the lease :data:`LINGER_S` for this process's next sequence (held lock); one
        granted by an actor lost meanwhile is given back to its successor at once."""
        if not handle.holds_lease():
            self._release(handle)
            return
        handle.kept_until = time.monotonic() + self._linger
        if handle.timer is None:
            self._arm(handle, self._linger)

    def _arm(self, handle: _Handle, seconds: float) -> None:
        handle.timer = threading.Timer(seconds, self._give_back, (handle,))
        handle.timer.daemon = True
        handle.timer.start()

    def _give_back(self, handle: _Handle) -> None:
        """The timer of a kept lease: release it unless it was used again meanwhile."""
        with handle.lock:
            handle.timer = None
            if handle.depth or handle.token is None:
                return  # in use: its ``exclusive`` keeps it again at the end
            left = handle.kept_until - time.monotonic()
            if left > 0:
                self._arm(handle, left)
            else:
                self._release(handle)

    @staticmethod
    def _release(handle: _Handle) -> None:
        token, handle.token = handle.token, None
        if handle.actor is not None and token is not None:
            handle.actor.release.remote(token)  # nobody waits for the answer

    def _lease(self, uuid: str, handle: _Handle, deadline: float | None) -> None:
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
                self._release(handle)
        ray.shutdown()
