"""Direct-I/O train steps on their way to a cluster's Ray actor, without waiting for it.

A direct-I/O train step is acknowledged once it is in the cluster's step journal
(:mod:`hanami.server.runtime.journal`). Waiting for the actor as well costs a blocking round
trip per step, more than a whole step in process, so :meth:`RayExecutor.queue_train
<hanami.server.runtime.ray_executor.RayExecutor.queue_train>` checks the step, hands it
to the cluster's :class:`StepPipe` and returns. The pipe's thread sends whatever is queued
in one call (``ClusterActor.train_steps``), one call in flight per cluster: the next steps
are journaled and acknowledged while the actor trains the previous ones, and a burst of
steps costs one round trip. At most :data:`WINDOW_STEPS` steps or :data:`WINDOW_BYTES`
bytes are on their way at once; beyond, the producer waits (back-pressure). Every other
call on the cluster first waits until the pipe is empty (:meth:`StepPipe.drain`), so the
actor sees the calls in the order they were made.

Each step carries its journal position, and the actor remembers the last one it applied:
when the API replica dies with steps in its pipe, the replica that takes the cluster over
(or the restarted server) replays the journal past that position
(:func:`hanami.server.runtime.cluster_files.catch_up`), and no step is applied twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from hanami.server.runtime.ray_actor import QueuedStep

__all__ = ["WINDOW_BYTES", "WINDOW_STEPS", "PipeBroken", "StepPipe"]

logger = logging.getLogger("hanami.server.ray")

WINDOW_STEPS = 64
"""Most steps queued or in flight per cluster."""
WINDOW_BYTES = 64 * 1024 * 1024
"""Most bytes of step data queued or in flight per cluster (a larger step goes alone)."""
GATHER_S = 0.005
"""How long the thread lets steps gather before it sends them, unless somebody waits for
them (:meth:`StepPipe.drain`) or half the window is full: fewer, larger calls, whose cost
(CPU on both sides) bounds the ping-pong rate on a busy machine."""


class PipeBroken(ConnectionError):
    """A call of the pipe failed; ``args[0]`` is the actor it went to (None: unknown). The
    steps it held (and those queued after it) are in the journal: rebuild the cluster."""


class StepPipe:
    """The queue of one cluster's train steps and the thread that sends them (see above).

    ``send(steps)`` makes the actor call and raises :class:`PipeBroken` when it failed."""

    def __init__(self, name: str, send: Callable[[list[QueuedStep]], None]) -> None:
        self._send = send
        self._cond = threading.Condition()
        self._queue: list[tuple[QueuedStep, int]] = []
        self._steps = 0  # queued or in flight
        self._bytes = 0
        self._sending = False  # a call is in flight
        self._broken: PipeBroken | None = None
        self._closed = False
        self._flush = False  # somebody waits in drain: send without gathering
        self._thread = threading.Thread(target=self._run, name=f"StepPipe-{name}", daemon=True)
        self._thread.start()

    def put(self, step: QueuedStep) -> None:
        """Queue ``step``, waiting while the window is full; raises the
        :class:`PipeBroken` of an earlier call (the step is not queued)."""
        size = sum(int(a.nbytes) for buffers in step[:2] for a in buffers.values())
        with self._cond:
            while (
                self._broken is None
                and self._steps
                and (self._steps >= WINDOW_STEPS or self._bytes + size > WINDOW_BYTES)
            ):
                self._cond.wait()
            if self._broken is not None:
                raise self._broken
            self._queue.append((step, size))
            self._steps += 1
            self._bytes += size
            if len(self._queue) == 1 or self._half_full():  # else let the thread gather
                self._cond.notify_all()

    def drain(self) -> PipeBroken | None:
        """Wait until every step was applied; the failure of a call, if one failed."""
        with self._cond:
            self._flush = True
            self._cond.notify_all()
            while self._broken is None and self._steps:
                self._cond.wait()
            return self._broken

    def reset(self) -> None:
        """Forget the queued steps and the failure: the cluster is being rebuilt from its
        autosave and journal, which hold them. Waits for the call in flight, so that no
        older step reaches the new actor after the journal's."""
        with self._cond:
            while self._sending:
                self._cond.wait()
            self._queue.clear()
            self._steps = self._bytes = 0
            self._broken = None
            self._cond.notify_all()

    def close(self) -> None:
        """Stop the thread (after :meth:`drain`, or when the cluster is gone)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                self._gather()
                if self._closed:
                    return
                batch, self._queue = self._queue, []
                self._flush, self._sending = False, True
            broken = self._call([step for step, _ in batch])
            with self._cond:
                self._sending = False
                self._steps -= len(batch)
                self._bytes -= sum(size for _, size in batch)
                if broken is not None:
                    self._broken = broken
                    self._queue.clear()
                    self._steps = self._bytes = 0
                self._cond.notify_all()

    def _gather(self) -> None:
        """Wait :data:`GATHER_S` for more steps (holding the condition)."""
        deadline = time.monotonic() + GATHER_S
        while not (self._flush or self._closed or self._half_full()):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._cond.wait(left)

    def _half_full(self) -> bool:
        return 2 * self._steps >= WINDOW_STEPS or 2 * self._bytes >= WINDOW_BYTES

    def _call(self, batch: list[QueuedStep]) -> PipeBroken | None:
        try:
            self._send(batch)
        except PipeBroken as exc:
            return exc
        except Exception as exc:  # a bug must not stop the thread and hang the producers
            logger.exception("step pipe %s: sending %d steps failed", self._thread.name,
                             len(batch))  # fmt: skip
            return PipeBroken(None, exc)
        return None
