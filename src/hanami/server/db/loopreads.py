"""PostgreSQL reads from the event loop: a GET's statement without a worker thread.

On PostgreSQL a GET's endpoint ran in a worker thread, since each statement waits for a
round trip; under the GET mix the worker threads cost more CPU than the event loop's whole
share of the request (``docs/performance.md``, "PostgreSQL reads in the event loop"): the
hop, and the loop and the workers taking turns at the GIL. Here the same plain ``def``
endpoint runs in a greenlet in the loop with a :class:`~hanami.server.db.reader.LoopReader`
(SQLAlchemy's ``greenlet_spawn``, without its asyncio engine: its adapted cursors and pool
cost more than the hop they save).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import URL
from sqlalchemy.engine import Dialect
from sqlalchemy.util import greenlet_spawn

from hanami.server.db.reader import LoopReader

__all__ = ["CONNECTIONS", "LoopReads"]

T = TypeVar("T")

CONNECTIONS = 8
"""Connections reading at once: a statement takes a fraction of a millisecond, and the
loop can only start so many."""


class LoopReads:
    """At most :data:`CONNECTIONS` psycopg asyncio connections of one event loop, kept
    open between reads; a connection idle for more than ``ping_after`` seconds is pinged
    before use and replaced when the ping fails, as the worker threads' pool does."""

    def __init__(self, url: URL, dialect: Dialect, ping_after: float) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._dialect = dialect
        self._ping_after = ping_after
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: list[tuple[LoopReader, float]] = []
        self._slots = asyncio.Semaphore(CONNECTIONS)

    async def call(self, function: Callable[[LoopReader], T]) -> T:
        """``function(reader)`` in a greenlet of the running loop, on a connection of its
        own for the call."""
        reader = await self._checkout()
        try:
            return await greenlet_spawn(function, reader)
        finally:
            self._checkin(reader)

    async def _checkout(self) -> LoopReader:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # connections and slots belong to one loop
            self.dispose()
            self._loop, self._slots = loop, asyncio.Semaphore(CONNECTIONS)
        await self._slots.acquire()
        try:
            while self._idle:
                reader, since = self._idle.pop()
                if time.monotonic() - since <= self._ping_after or await _alive(reader):
                    return reader
            connection = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            return LoopReader(connection, self._dialect)
        except BaseException:
            self._slots.release()
            raise

    def _checkin(self, reader: LoopReader) -> None:
        """Keep ``reader`` unless its connection broke or a statement was left running."""
        if reader.connection.info.transaction_status == TransactionStatus.IDLE:
            self._idle.append((reader, time.monotonic()))
        else:
            reader.connection.pgconn.finish()
        self._slots.release()

    def dispose(self) -> None:
        """Close the idle connections (no I/O to wait for: the socket is closed)."""
        while self._idle:
            self._idle.pop()[0].connection.pgconn.finish()


async def _alive(reader: LoopReader) -> bool:
    try:
        await reader.connection.execute("SELECT 1")
    except psycopg.Error:
        reader.connection.pgconn.finish()
        return False
    return True
