"""Where clusters live and compute: the narrow interface between the service and the engine.

The service never touches a :class:`hanami.core.Cluster` directly; it names clusters by
uuid and calls a :class:`ClusterExecutor`. :class:`InProcessExecutor` keeps the clusters in
this process; a Ray executor (one actor per cluster) can implement the same protocol later.

Interface (every method is safe to call from any thread)::

    create(uuid: str, template_text: str) -> ClusterInfo          # TemplateError -> 400
    load(uuid: str, path: str | PathLike) -> ClusterInfo          # new cluster from a checkpoint
    delete(uuid: str) -> None                                     # waits for the current call
    exists(uuid: str) -> bool
    uuids() -> list[str]
    info(uuid: str) -> ClusterInfo                                # never blocks on a busy cluster
    revision(uuid: str) -> int                                    # bumped by every state change
    train(uuid: str, inputs: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray],
          order: np.ndarray | None = None) -> None
    queue_train(uuid: str, inputs, expected, at: Position) -> None  # see below
    journal_position(uuid: str) -> Position | None
    request(uuid: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]
    save(uuid: str, path: str | PathLike) -> int                  # atomic; returns the revision
    restore(uuid: str, path: str | PathLike) -> ClusterInfo       # state replaced by the file
    exclusive(uuid: str, timeout: float | None = None) -> AbstractContextManager[object]
    close() -> None

``inputs`` maps *input hexagon names* to float arrays ``[rows, width]`` (a 1-D array is one
row), ``expected`` maps *output hexagon names* likewise; every input (and, for ``train``,
every output) of the template must be given. ``train`` learns the rows one by one in order
(or in ``order``, an index permutation). ``request`` returns ``{output name: [rows, width]}``
for every output hexagon. Errors: :class:`ClusterNotFound` (``KeyError``) for an unknown
uuid, ``ValueError`` for bad data (wrong names, NaN, a request before any training), and
:class:`ClusterBusy` when ``exclusive`` times out.

**Queued train steps.** ``queue_train`` is a journaled direct-I/O train step
(:mod:`hanami.server.runtime.journal`; ``at`` names its record). It checks the data
(``ValueError``) and may return before the pass ran: every other call on the cluster comes
after it, so only a crash can tell. In process it is ``train``; the Ray executor sends the
steps to the actor without waiting (:mod:`hanami.server.runtime.ray_pipe`). The cluster
remembers the position of the last queued step it applied (``journal_position``) and skips
a step at or before it, so replaying a journal past it never applies a step twice.

**One writer per cluster, clusters in parallel.** Each cluster has its own re-entrant
lock: every call holds it, so calls on one cluster run one after the other, while calls on
different clusters run at the same time (the kernels release the GIL). ``exclusive(uuid)``
holds the same lock across several calls, so a sequence (a whole task, or one direct-I/O
step made of several calls) is never interleaved with anybody else's::

    with executor.exclusive(uuid):          # e.g. the websocket direct-I/O path
        executor.train(uuid, {"picture_hex": x}, {"label_hex": y})
        out = executor.request(uuid, {"picture_hex": x})["label_hex"]

The task engine (:mod:`hanami.server.runtime.tasks`) holds ``exclusive`` for the whole duration of
a task, so direct I/O waits for a running task (it should not happen anyway: DIRECT mode
is refused while a task runs). From async code call these methods through
``anyio.to_thread.run_sync`` so the event loop is not blocked.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from hanami.core import Cluster, TrainStats
from hanami.server.runtime.journal import Position

__all__ = [
    "ClusterBusy",
    "ClusterExecutor",
    "ClusterInfo",
    "ClusterNotFound",
    "InProcessExecutor",
    "LocalEntry",
]

PathLike = str | os.PathLike[str]
Buffers = Mapping[str, np.ndarray]
"""Hexagon name -> values: the inputs or the expected values of a step."""
METRICS_REFRESH_S = 1.0
"""Seconds between two refreshes of a cluster's cached metrics."""


class ClusterNotFound(KeyError):
    """No cluster with this uuid lives in the executor."""

    def __str__(self) -> str:
        return f"cluster '{self.args[0]}' is not loaded" if self.args else "cluster not loaded"


class ClusterBusy(TimeoutError):
    """``exclusive(uuid, timeout)`` could not get the cluster in time."""


@dataclass(frozen=True)
class ClusterInfo:
    """What the service shows about a cluster; ``metrics`` may lag a running task a little."""

    uuid: str
    template: str
    input_sizes: dict[str, int]
    """Input hexagon name -> current width (0 until data arrived), template order."""
    output_sizes: dict[str, int]
    """Output hexagon name -> current width (0 until trained), template order."""
    metrics: dict[str, int] = field(default_factory=dict)
    """:meth:`hanami.core.Cluster.metrics` (blocks, sections, synapses, bytes, ...)."""
    revision: int = 0

    @property
    def input_names(self) -> list[str]:
        return list(self.input_sizes)

    @property
    def output_names(self) -> list[str]:
        return list(self.output_sizes)


@runtime_checkable
class ClusterExecutor(Protocol):
    """Runs clusters by uuid; see the module docstring for the contract."""

    shared: bool
    """Whether every API replica reaches every cluster (Ray), not only the one holding it."""

    def create(self, uuid: str, template_text: str) -> ClusterInfo: ...

    def load(self, uuid: str, path: PathLike) -> ClusterInfo: ...

    def delete(self, uuid: str) -> None: ...

    def exists(self, uuid: str) -> bool: ...

    def uuids(self) -> list[str]: ...

    def info(self, uuid: str) -> ClusterInfo: ...

    def revision(self, uuid: str) -> int: ...

    def train(
        self,
        uuid: str,
        inputs: Mapping[str, np.ndarray],
        expected: Mapping[str, np.ndarray],
        order: np.ndarray | None = None,
    ) -> TrainStats: ...

    def queue_train(self, uuid: str, inputs: Buffers, expected: Buffers, at: Position) -> None: ...

    def journal_position(self, uuid: str) -> Position | None: ...

    def request(self, uuid: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def save(self, uuid: str, path: PathLike) -> int: ...

    def restore(self, uuid: str, path: PathLike) -> ClusterInfo: ...

    def exclusive(
        self, uuid: str, timeout: float | None = None
    ) -> AbstractContextManager[object]: ...

    def close(self) -> None: ...


@dataclass
class LocalEntry:
    """A cluster of :class:`InProcessExecutor` and what it keeps beside it."""

    cluster: Cluster
    info: ClusterInfo
    lock: threading.RLock = field(default_factory=threading.RLock)
    revision: int = 0
    metrics_at: float = 0.0
    deleted: bool = False
    position: Position | None = None


class _Held:
    """A cluster's lock held for a block, its entry as the value (a class, not a generator:
    a direct-I/O step takes the lock three times, docs/performance.md)."""

    __slots__ = ("entry", "timeout", "uuid")

    def __init__(self, entry: LocalEntry, uuid: str, timeout: float | None) -> None:
        self.entry, self.uuid, self.timeout = entry, uuid, timeout

    def __enter__(self) -> LocalEntry:
        entry, timeout = self.entry, self.timeout
        if not entry.lock.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
            raise ClusterBusy(f"cluster '{self.uuid}' is busy")
        if entry.deleted:
            entry.lock.release()
            raise ClusterNotFound(self.uuid)
        return entry

    def __exit__(self, *exc: object) -> None:
        self.entry.lock.release()


def _info_of(uuid: str, cluster: Cluster, revision: int) -> ClusterInfo:
    return ClusterInfo(
        uuid=uuid,
        template=cluster.template.to_text(),
        input_sizes=cluster.input_sizes,
        output_sizes=cluster.output_sizes,
        metrics=cluster.metrics(),
        revision=revision,
    )


class InProcessExecutor:
    """Clusters in this process, one re-entrant lock each (see the module docstring)."""

    shared = False

    def __init__(self, cluster_max_bytes: int | None = None) -> None:
        self._entries: dict[str, LocalEntry] = {}
        self._lock = threading.Lock()
        self._max_bytes = cluster_max_bytes
        """Every cluster's :attr:`~hanami.core.Cluster.max_bytes` (a checkpoint has none)."""

    # ------------------------------------------------------------------ registry

    def _add(self, uuid: str, cluster: Cluster) -> ClusterInfo:
        cluster.max_bytes = self._max_bytes
        entry = LocalEntry(cluster=cluster, info=_info_of(uuid, cluster, 0), metrics_at=time.time())
        with self._lock:
            if uuid in self._entries:
                raise ValueError(f"cluster '{uuid}' already exists")
            self._entries[uuid] = entry
        return entry.info

    def _entry(self, uuid: str) -> LocalEntry:
        try:
            return self._entries[uuid]
        except KeyError:
            raise ClusterNotFound(uuid) from None

    def local_entry(self, uuid: str) -> LocalEntry:
        """The cluster's entry, for a step plan in this process
        (:mod:`hanami.server.runtime.step_plan`), which takes its lock itself."""
        return self._entry(uuid)

    def refresh(self, uuid: str) -> None:
        """Refresh the cluster's cached info now; call it holding the cluster."""
        self._refresh(uuid, self._entry(uuid), force=True)

    def _held(self, uuid: str, timeout: float | None = None) -> _Held:
        return _Held(self._entry(uuid), uuid, timeout)

    def create(self, uuid: str, template_text: str) -> ClusterInfo:
        return self._add(uuid, Cluster(template_text))

    def load(self, uuid: str, path: PathLike) -> ClusterInfo:
        return self._add(uuid, Cluster.load(path))

    def delete(self, uuid: str) -> None:
        with self._held(uuid) as entry:
            entry.deleted = True
            with self._lock:
                self._entries.pop(uuid, None)

    def exists(self, uuid: str) -> bool:
        return uuid in self._entries

    def uuids(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def revision(self, uuid: str) -> int:
        return self._entry(uuid).revision

    def info(self, uuid: str) -> ClusterInfo:
        entry = self._entry(uuid)
        if entry.lock.acquire(blocking=False):
            try:
                if not entry.deleted:
                    self._refresh(uuid, entry, force=True)
            finally:
                entry.lock.release()
        return entry.info

    def _refresh(self, uuid: str, entry: LocalEntry, *, force: bool) -> None:
        """Update the cached info: sizes when they changed, everything at most once a second
        (``revision()`` is the live counter)."""
        cluster = entry.cluster
        now = time.time()
        if force or now - entry.metrics_at >= METRICS_REFRESH_S:
            entry.info = _info_of(uuid, cluster, entry.revision)
            entry.metrics_at = now
        else:
            inputs, outputs = cluster.input_sizes, cluster.output_sizes
            if inputs != entry.info.input_sizes or outputs != entry.info.output_sizes:
                entry.info = replace(
                    entry.info, input_sizes=inputs, output_sizes=outputs, revision=entry.revision
                )

    # ------------------------------------------------------------------ compute

    def train(
        self,
        uuid: str,
        inputs: Mapping[str, np.ndarray],
        expected: Mapping[str, np.ndarray],
        order: np.ndarray | None = None,
    ) -> TrainStats:
        with self._held(uuid) as entry:
            entry.revision += 1
            try:
                return entry.cluster.train(dict(inputs), dict(expected), order=order)
            finally:
                self._refresh(uuid, entry, force=False)

    def queue_train(self, uuid: str, inputs: Buffers, expected: Buffers, at: Position) -> None:
        """``train`` now, unless the cluster already applied the step at ``at``."""
        with self._held(uuid) as entry:
            last = entry.position
            if last is not None and last[0] == at[0] and at[1] <= last[1]:
                return
            self.train(uuid, inputs, expected)
            entry.position = at

    def journal_position(self, uuid: str) -> Position | None:
        return self._entry(uuid).position

    def request(self, uuid: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self._held(uuid) as entry:
            sizes_before = entry.cluster.input_sizes
            result = entry.cluster.request(dict(inputs))
            if entry.cluster.input_sizes != sizes_before:  # inputs grew: the state changed
                entry.revision += 1
                self._refresh(uuid, entry, force=False)
        if isinstance(result, dict):
            return result
        return {entry.cluster.output_names[0]: result}

    def save(self, uuid: str, path: PathLike) -> int:
        with self._held(uuid) as entry:
            entry.cluster.save(Path(path))
            return entry.revision

    def restore(self, uuid: str, path: PathLike) -> ClusterInfo:
        cluster = Cluster.load(path)  # read and verify before taking the lock
        cluster.max_bytes = self._max_bytes
        with self._held(uuid) as entry:
            entry.cluster = cluster
            entry.revision += 1
            self._refresh(uuid, entry, force=True)
            return entry.info

    def exclusive(self, uuid: str, timeout: float | None = None) -> _Held:
        return self._held(uuid, timeout)

    def close(self) -> None:
        with self._lock:
            self._entries.clear()
