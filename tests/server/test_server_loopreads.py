"""PostgreSQL reads from the event loop (``hanami.server.db.loopreads``): the same answers as
a SQLAlchemy connection, a dead connection replaced, a cancelled read's slot given back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
import pytest
from postgres import new_database
from sqlalchemy import insert, text
from sqlalchemy.exc import MultipleResultsFound

from hanami.server.api.listing import resource_table
from hanami.server.db import Cluster, Database, upgrade
from hanami.server.db.loopreads import CONNECTIONS
from hanami.server.db.session import IDLE_PING_SECONDS
from hanami.server.errors import NotFound
from hanami.server.security.auth import Principal
from hanami.server.security.tenancy import row_in_scope

_ALICE = Principal("alice", "Alice", False, "p1", "member", False)
_BACKEND = text("SELECT pg_backend_pid()")


@pytest.fixture
def database(postgres_url):
    """A database of this test's own: the session's server shares ``postgres_url`` and, as
    a replica, adopts every cluster row without a holder, which raced the reads compared
    here (its ``holder`` changed between two reads in one clean-clone run)."""
    database = Database(new_database(postgres_url))
    upgrade(database)
    yield database
    database.dispose()


def _run(database: Database, function):
    """``function(reader)`` through the loop reads, in a loop of its own."""
    assert database.loop_reads is not None
    return asyncio.run(database.loop_reads.call(function))


def test_loop_reads_answer_as_a_connection_does(database):
    now = datetime.now(UTC).replace(tzinfo=None)
    with database.engine.begin() as connection:
        for uuid, owner in (("lr1", "alice"), ("lr2", "bob")):
            connection.execute(insert(Cluster.__table__).values(
                uuid=uuid, project_id="p1", owner_id=owner, visibility="private", name=uuid,
                created_at=now,
            ))  # fmt: skip

    def read(reader):
        answers = [
            resource_table(reader, _ALICE, Cluster),
            row_in_scope(reader, _ALICE, Cluster, "lr1"),
        ]
        for uuid in ("lr2", "lr9"):  # out of scope, missing: the same 404
            with pytest.raises(NotFound, match=f"Cluster with uuid '{uuid}' not found"):
                row_in_scope(reader, _ALICE, Cluster, uuid, "Cluster")
        return answers

    with database.read() as connection:
        expected = read(connection)
    table, row = _run(database, read)
    assert table == expected[0]
    assert tuple(row) == tuple(expected[1]) and row.owner_id == "alice"
    two = text("SELECT 1 UNION ALL SELECT 2")
    with pytest.raises(MultipleResultsFound):
        _run(database, lambda reader: reader.execute(two).one_or_none())


def test_an_idle_connection_is_pinged_and_replaced(database):
    """As the worker threads' pool: a connection used a moment ago is not pinged (the next
    read fails when its backend is gone), one idle for longer is, and is replaced."""
    reads = database.loop_reads
    assert reads is not None

    def backend(reader) -> int:
        return reader.execute(_BACKEND).one_or_none()[0]

    async def scenario() -> None:
        with database.engine.connect() as killer:
            for idle in (0.0, IDLE_PING_SECONDS + 0.2):
                dead = await reads.call(backend)
                killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dead})
                await asyncio.sleep(idle)
                if idle < IDLE_PING_SECONDS:
                    with pytest.raises(psycopg.OperationalError):
                        await reads.call(backend)
                    assert await reads.call(backend) != dead  # the broken one was dropped
                else:
                    assert await reads.call(backend) != dead

    asyncio.run(scenario())


def test_a_cancelled_read_gives_back_its_slot_and_connection(database):
    """A request cancelled while its statement runs (a server shutting down): psycopg
    cancels the statement, and the slot and the connection serve the next reads."""
    reads = database.loop_reads
    assert reads is not None

    def sleep(reader) -> None:
        reader.execute(text("SELECT pg_sleep(30)"))

    async def scenario() -> set[int]:
        first = await reads.call(lambda reader: reader.execute(_BACKEND).one_or_none()[0])
        cut = asyncio.create_task(reads.call(sleep))
        await asyncio.sleep(0.3)
        cut.cancel()
        async with asyncio.timeout(10):  # not the 30 s of the statement; every slot is free
            with pytest.raises(asyncio.CancelledError):
                await cut
            backends = await asyncio.gather(*(
                reads.call(lambda reader: reader.execute(_BACKEND).one_or_none()[0])
                for _ in range(CONNECTIONS)
            ))  # fmt: skip
        assert first in backends
        return set(backends)

    assert len(asyncio.run(scenario())) == CONNECTIONS
