"""Compatible-mode direct I/O steps, inline on the event loop while they are quick.

A hop to a worker thread and back costs about as much as a small train step, so a session
that proves its steps quick runs them on the event loop (docs/websocket.md, Durability).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

from hanami.protocol.proto import TRAIN_TYPE, ClusterIO_Message
from hanami.server.runtime.executor import ClusterBusy
from hanami.server.runtime.registry import ClusterRegistry
from hanami.server.runtime.step_plan import StepPlan
from hanami.server.websocket.session import WsSession

__all__ = ["INLINE_AFTER", "INLINE_LIMIT_S", "TRAIN_END", "Steps"]

INLINE_LIMIT_S = 0.002
"""Steps quicker than this (CPU plus disk wait) run on the event loop."""
INLINE_AFTER = 3
"""Quick steps in a row before the next ones run inline."""

T = TypeVar("T")

TRAIN_END = ClusterIO_Message(
    isLast=True, processType=TRAIN_TYPE, numberOfValues=1, values=[0.0]
).SerializeToString()

_HELD_ON_LOOP: set[str] = set()
"""Clusters whose lock an inline step holds across its reply (see :class:`Steps`): the lock
is re-entrant, so other steps on the event loop must not take it then."""


class Steps:
    """Runs the steps of one session: inline while they are quick, else in worker threads.

    A hop to a worker thread and back costs about as much as one small train step, so
    after :data:`INLINE_AFTER` steps that each took less than :data:`INLINE_LIMIT_S`
    (measured in a worker thread, where compilation or a first allocation does no harm),
    steps run on the event loop. They do so only when the cluster's lock is free at that
    moment (never waiting for an autosave or another session), and a step slower than the
    limit sends the following ones back to worker threads.

    A train step is acknowledged once its journal record is committed. An inline step shaped
    like the last one that succeeded (same buffer names, so it cannot be refused) is
    acknowledged *before* its pass: the pass then overlaps with the client reading the
    reply and writing its next message. The cluster's lock is held from the record to the
    end of the pass, so nothing (an HTTP save, another session) comes between.
    """

    def __init__(self, session: WsSession, cluster_uuid: str, clusters: ClusterRegistry) -> None:
        self.session = session
        self.cluster_uuid = cluster_uuid
        self.clusters = clusters
        self.quick = 0
        self.known: tuple[frozenset[str], frozenset[str]] | None = None
        self.plan: StepPlan | None = None
        """The last inline step's shape, prepared (:meth:`planned`)."""

    async def train(self, inputs: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
        """One train step, and its reply (``isLast = true``) once it is committed."""
        with self.acknowledged_first(inputs, expected) as inline:
            if inline:
                await self.session.send_bytes(TRAIN_END)
        if inline:
            return
        await self.run(self.clusters.train_direct, self.cluster_uuid, inputs, expected)
        self.known = (frozenset(inputs), frozenset(expected))
        await self.session.send_bytes(TRAIN_END)

    @contextlib.contextmanager
    def acknowledged_first(
        self, inputs: dict[str, np.ndarray], expected: dict[str, np.ndarray]
    ) -> Iterator[bool]:
        """Inline: record the step, and yield True (reply inside the block); the pass runs
        when the block ends. Yields False, having done nothing, if it cannot run inline now.

        The step counts as quick by the CPU time it took on the event loop plus its wait for
        the disk (``journal_sync = always``): on a busy machine the wall time also holds the
        slices the OS gave to other processes, and would send quick steps to worker
        threads, where they cost more."""
        uuid = self.cluster_uuid
        if not self._inline_now() or self.known != (frozenset(inputs), frozenset(expected)):
            yield False
            return
        locked = False
        try:
            with self.clusters.executor.exclusive(uuid, 0.0):
                locked = True
                _HELD_ON_LOOP.add(uuid)
                try:
                    cpu = time.thread_time()
                    with self.clusters.train_after_reply(uuid, inputs, expected) as waited:
                        yield True
                    self._count(time.thread_time() - cpu + waited)
                    self.plan = self.clusters.step_plan(uuid, inputs, expected)
                finally:
                    _HELD_ON_LOOP.discard(uuid)
            return
        except ClusterBusy:  # held by an autosave or another session
            if locked:
                raise
        yield False

    def planned(
        self, inputs: dict[str, np.ndarray], name: str, y: np.ndarray, reply: Callable[[], None]
    ) -> bool:
        """The step of ``inputs`` and the expected buffer ``name`` by the step plan of the
        last inline step, if it has that shape and can run now (as :meth:`acknowledged_first`:
        ``reply()`` once committed, then the pass). False: nothing done."""
        plan = self.plan
        if plan is None or len(inputs) != 1 or not self._inline_now():
            return False
        ((in_name, x),) = inputs.items()
        if plan.key != (in_name, x.size, name, y.size):
            return False
        cpu, started = time.thread_time(), time.perf_counter()
        waited = plan.run(x, y, reply)
        if waited is None:
            return False
        # a step's CPU time and disk wait add up to no more than its wall time: the
        # thread's clock (a system call) is read again only when that does not prove it quick
        wall = time.perf_counter() - started
        self._count(wall if wall < INLINE_LIMIT_S else time.thread_time() - cpu + waited)
        return True

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        """``func(*args)``, a step on this session's cluster: inline if quick and free."""
        if self._inline_now():
            try:
                with self.clusters.executor.exclusive(self.cluster_uuid, 0.0):
                    return self._timed(func, *args)
            except ClusterBusy:  # held by an autosave or another session: wait elsewhere
                pass
        return await self.session.run_sync(self._timed, func, *args)

    def _inline_now(self) -> bool:
        """Whether a step may run on the event loop now: the last steps were quick, and no
        inline step of this cluster holds its lock across a reply."""
        return self.quick >= INLINE_AFTER and self.cluster_uuid not in _HELD_ON_LOOP

    def _timed(self, func: Callable[..., T], *args: Any) -> T:
        started = time.perf_counter()
        result = func(*args)
        self._count(time.perf_counter() - started)
        return result

    def _count(self, seconds: float) -> None:
        self.quick = self.quick + 1 if seconds < INLINE_LIMIT_S else 0
