"""What a GET endpoint reads rows with (``ReaderDep``), and the reader of the event loop.

:class:`LoopReader` runs a statement on psycopg's asyncio connection from a plain ``def``
endpoint in a greenlet (:mod:`hanami.server.db.loopreads`): ``execute`` switches back to
the event loop while the statement waits (SQLAlchemy's ``await_``). The statements are
compiled once and run as they are; rows come back as psycopg's named tuples, not through
SQLAlchemy's result layer, which reads psycopg's whole column description anew for every
statement. No psycopg import here: it is an optional dependency.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, CursorResult, Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import MultipleResultsFound
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.util import await_

if TYPE_CHECKING:
    import psycopg

__all__ = ["AnyReader", "LoopReader", "Reader", "Rows"]


class Reader:
    """The connection of a GET that only reads, checked out by its first statement in the
    thread that runs it and given back by :meth:`close`.

    FastAPI enters a dependency in one worker thread and runs a sync endpoint in another:
    a connection checked out by the dependency was held while its request waited for a
    thread, so with more concurrent requests than pooled connections every worker thread
    could end up waiting for the pool while the pool's connections belonged to requests
    waiting for a thread (``tests/server/test_server_load.py`` on PostgreSQL, whose read
    pool is smaller than anyio's 40 threads). Checked out where it is used, a connection
    is always held by a thread that is running.
    """

    __slots__ = ("_connect", "_connection")

    def __init__(self, connect: Callable[[], Connection]) -> None:
        self._connect = connect
        self._connection: Connection | None = None

    def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        if self._connection is None:
            self._connection = self._connect()
        return self._connection.execute(statement, parameters)

    def close(self) -> None:
        """Give the connection back (no-op when none was checked out)."""
        if self._connection is not None:
            self._connection, connection = None, self._connection
            connection.close()


class Rows(list[Any]):
    """The rows of one statement, with the part of SQLAlchemy's ``Result`` the GET
    endpoints use."""

    def all(self) -> list[Any]:
        return self

    def one_or_none(self) -> Any:
        if len(self) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return self[0] if self else None


class _Prepared:
    """A statement compiled for one dialect, and the maker of its rows: psycopg's named
    tuple of the result's columns, made at the first run (not for every statement, as
    psycopg's ``namedtuple_row`` factory does)."""

    __slots__ = ("compiled", "make_row", "sql")

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        self.compiled: Compiled = statement.compile(dialect=dialect)
        self.sql = self.compiled.string
        self.make_row: Callable[[Sequence[Any]], Any] | None = None


@lru_cache(maxsize=256)
def _prepared(statement: Executable, dialect: Dialect) -> _Prepared:
    """Built once per statement, as the GET statements are."""
    return _Prepared(statement, dialect)


class LoopReader:
    """What a ``ReaderDep`` endpoint gets in the loop: ``execute`` as on a ``Connection``,
    run on one psycopg connection in autocommit (its statements stay prepared) through one
    cursor, both kept between reads."""

    __slots__ = ("_cursor", "_dialect", "connection")

    def __init__(self, connection: psycopg.AsyncConnection[Any], dialect: Dialect) -> None:
        self.connection = connection
        self._cursor = connection.cursor()
        self._dialect = dialect

    def execute(self, statement: Executable, parameters: dict[str, Any] | None = None) -> Rows:
        """The rows of ``statement``; the greenlet waits in the loop for them."""
        prepared = _prepared(statement, self._dialect)
        return await_(self._fetch(prepared, prepared.compiled.construct_params(parameters)))

    async def _fetch(self, prepared: _Prepared, parameters: dict[str, Any]) -> Rows:
        cursor = self._cursor
        await cursor.execute(prepared.sql, parameters)
        rows = await cursor.fetchall()
        if prepared.make_row is None:
            from psycopg.rows import namedtuple_row  # here: psycopg is optional

            prepared.make_row = namedtuple_row(cursor)
        return Rows(map(prepared.make_row, rows))


AnyReader = Reader | LoopReader
"""What a ``ReaderDep`` endpoint reads rows with: a :class:`Reader`
in a worker thread or on SQLite, a :class:`LoopReader` in the event loop on PostgreSQL."""
