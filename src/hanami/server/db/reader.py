"""What a GET endpoint reads rows with (``ReaderDep``), and the reader of the event loop.

:class:`LoopReader` runs a statement on psycopg's asyncio connection from a plain ``def``
endpoint in a greenlet (:mod:`hanami.server.db.loopreads`): ``execute`` switches back to
the event loop while the statement waits (SQLAlchemy's ``await_``). The statements are
compiled once and run as they are; rows come back as psycopg's named tuples, not through
SQLAlchemy's result layer, which reads psycopg's whole column description anew for every
statement. No psycopg import here: it is an optional dependency.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import MultipleResultsFound
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.util import await_

if TYPE_CHECKING:
    import psycopg

__all__ = ["LoopReader", "Reader", "Rows"]


class Rows(list[Any]):
    """The rows of one statement, with the part of SQLAlchemy's ``Result`` the GET
    endpoints use."""

    def all(self) -> list[Any]:
        return self

    def one_or_none(self) -> Any:
        if len(self) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return self[0] if self else None


@lru_cache(maxsize=256)
def _compiled(statement: Executable, dialect: Dialect) -> tuple[str, Compiled]:
    """The SQL of ``statement`` (built once per statement, as the GET statements are)."""
    compiled = statement.compile(dialect=dialect)
    return compiled.string, compiled


class LoopReader:
    """What a ``ReaderDep`` endpoint gets in the loop: ``execute`` as on a ``Connection``,
    run on one psycopg connection in autocommit (its statements stay prepared)."""

    __slots__ = ("_connection", "_dialect")

    def __init__(self, connection: psycopg.AsyncConnection[Any], dialect: Dialect) -> None:
        self._connection = connection
        self._dialect = dialect

    def execute(self, statement: Executable, parameters: dict[str, Any] | None = None) -> Rows:
        """The rows of ``statement``; the greenlet waits in the loop for them."""
        sql, compiled = _compiled(statement, self._dialect)
        return await_(self._fetch(sql, compiled.construct_params(parameters)))

    async def _fetch(self, sql: str, parameters: dict[str, Any]) -> Rows:
        cursor = await self._connection.execute(sql, parameters)
        return Rows(await cursor.fetchall())


Reader = Connection | LoopReader
"""What a ``ReaderDep`` endpoint reads rows with: a SQLAlchemy connection in a worker thread
or on SQLite, a :class:`LoopReader` in the event loop on a database server."""
