"""Long request work (converting an upload) that a cancellation or a server stop ends.

A plain ``anyio.to_thread.run_sync`` cannot be cancelled: the request waits for the thread.
:func:`run_stoppable` hands the work a stop flag instead, which the readers of
:mod:`hanami.datasets` check between chunks, so a cancelled request ends within one chunk,
after the work's own clean-up has run.

After SIGTERM, uvicorn waits for running requests up to its graceful-shutdown timeout,
cancels the rest, runs the lifespan shutdown and then ends the process at once (it raises
the signal again), so clean-up that has not run by then never runs. Work therefore runs
inside a :meth:`StoppableWork.section`, and the lifespan shutdown calls
:meth:`StoppableWork.drain`, which stops every section and waits until each has cleaned up.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio
import anyio.to_thread

__all__ = ["StoppableWork", "run_stoppable"]

T = TypeVar("T")

_POLL_SECONDS = 0.02


class StoppableWork:
    """The sections of request work in flight in this server process."""

    def __init__(self) -> None:
        self._stops: set[threading.Event] = set()

    @asynccontextmanager
    async def section(self) -> AsyncIterator[threading.Event]:
        """A stop flag for the block's work; the block counts as running until it has exited."""
        stop = threading.Event()
        self._stops.add(stop)
        try:
            yield stop
        finally:
            self._stops.discard(stop)

    async def drain(self, timeout: float) -> None:
        """Stop every section and wait (at most ``timeout`` seconds) until all have exited."""
        for stop in list(self._stops):
            stop.set()
        with anyio.move_on_after(timeout):
            while self._stops:
                await anyio.sleep(_POLL_SECONDS)


async def run_stoppable(work: Callable[[threading.Event], T], stop: threading.Event) -> T:
    """``work(stop)`` in a worker thread; on cancellation set ``stop`` and wait for it to end."""
    finished = threading.Event()

    def run() -> T:
        try:
            return work(stop)
        finally:
            finished.set()

    try:
        return await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        stop.set()
        with anyio.CancelScope(shield=True):
            while not finished.is_set():
                await anyio.sleep(_POLL_SECONDS)
        raise
