"""Engine and session factory, built per application (never at import time)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from hanami.server.db.loopreads import LoopReads

__all__ = ["Database"]

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_POOL_SIZE = 40
"""Pooled SQLite connections: as many as anyio has worker threads by default."""
IDLE_PING_SECONDS = 1.0
"""A pooled server connection idle for longer is pinged before use: a ping on every
checkout cost a round trip per GET (``docs/performance.md``), while a connection the
server dropped has been idle for a while."""
_CHECKED_IN = "hanami_checked_in"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _ping_when_idle(engine: Engine) -> None:
    """Ping a connection at checkout only when it has been idle for more than
    :data:`IDLE_PING_SECONDS`; a dead one is replaced (the pool retries the checkout on
    ``DisconnectionError``). A new connection has no check-in time and is not pinged."""

    def checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get(_CHECKED_IN)
        if checked_in is None or time.monotonic() - checked_in <= IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"idle connection is gone: {exc}") from exc

    event.listen(engine, "checkin", checkin)
    event.listen(engine, "checkout", checkout)


class Database:
    """One engine plus a session factory.

    SQLite gets WAL, foreign keys and a busy timeout on every connection; the folder of a
    SQLite file is created on demand. Any other URL (``postgresql+psycopg://...``) is used as
    given.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {
                "check_same_thread": False,
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
            }
            if self.url.database in (None, "", ":memory:"):
                kwargs["poolclass"] = StaticPool
            else:
                Path(self.url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
                # Keep a connection per worker thread open: beyond the pool size every
                # checkout opens a new connection (pragmas, schema parse) and closes it again.
                kwargs["pool_size"] = SQLITE_POOL_SIZE
        self.engine: Engine = create_engine(self.url, **kwargs)
        self._loop_engine = self.engine
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            if kwargs.get("poolclass") is not StaticPool:
                loop_kwargs = {k: v for k, v in kwargs.items() if k != "pool_size"}
                self._loop_engine = create_engine(self.url, poolclass=StaticPool, **loop_kwargs)
                event.listen(self._loop_engine, "connect", _sqlite_pragmas)
        else:
            _ping_when_idle(self.engine)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.reader = self.sessionmaker
        """Sessions for requests that only read. On PostgreSQL each statement is its own
        transaction, which is what READ COMMITTED gives a statement anyway, without the
        round trips of BEGIN and ROLLBACK. (pysqlite runs reads outside transactions
        already; switching its isolation level per checkout costs more than it saves.)"""
        self._read_engine = self.engine
        if not self.is_sqlite:
            # A pool of its own, in autocommit for good: the ROLLBACK that ends a
            # transaction makes psycopg forget the statements it prepared on that
            # connection (and send DEALLOCATE ALL), so reads sharing the writers' pool were
            # parsed and planned anew every time; nor is autocommit switched on at every
            # checkout and off again at every return.
            self._read_engine = create_engine(self.url, isolation_level="AUTOCOMMIT", **kwargs)
            _ping_when_idle(self._read_engine)
            self.reader = sessionmaker(self._read_engine, expire_on_commit=False)
        self.loop_reads: LoopReads | None = None
        """On PostgreSQL through psycopg, the reads the event loop makes without waiting for
        them (:mod:`hanami.server.db.loopreads`); ``None`` on SQLite, whose reads do not wait,
        and on other servers."""
        if self.url.get_backend_name() == "postgresql" and self.url.get_driver_name() == "psycopg":
            from hanami.server.db.loopreads import LoopReads  # psycopg is optional

            self.loop_reads = LoopReads(self.url, self.engine.dialect, IDLE_PING_SECONDS)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def display_url(self) -> str:
        """The URL with any password masked, for logs."""
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that is closed (and rolled back if not committed) on exit."""
        with self.sessionmaker() as session:
            yield session

    def read(self) -> Connection:
        """A connection for a request that only reads with Core statements (autocommit on
        PostgreSQL, as :attr:`reader`); close it when done."""
        return self._read_engine.connect()

    def loop_read(self) -> Connection:
        """A connection for the reads the event loop's thread makes itself (SQLite): one of
        its own, never one from the pool. Worker threads can hold every pooled connection
        while they wait for the loop (a request on FastAPI's path gives its session back
        after the loop sends the answer), so a loop that waited for the pool waited for
        itself until the pool's timeout."""
        return self._loop_engine.connect()

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
        if self._loop_engine is not self.engine:
            self._loop_engine.dispose()
        if self._read_engine is not self.engine:
            self._read_engine.dispose()
        if self.loop_reads is not None:
            self.loop_reads.dispose()
