"""Which GET endpoints the hot path runs in the event loop, and that they never wait there.

The endpoints that only read rows run in the event loop: no hop to a worker thread
(``docs/performance.md``). That is only safe while such a read cannot stall the loop: an
endpoint with an ORM session (which may write) stays in a worker thread; on SQLite a read
in WAL mode goes on while another connection holds the write lock; on a database server the
loop answers other requests while a statement waits (``hanami.server.db.loopreads``).
"""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from server_helpers import Api
from sqlalchemy import text

from hanami.server import ServerSettings, create_app
from hanami.server.api.fastget import FastGetMiddleware
from hanami.server.db.session import Database


def _inline(tmp_path: Path, **settings: str) -> dict[str, bool]:
    """Route path (without the API prefix) -> whether its plan runs in the event loop."""
    app = create_app(ServerSettings(data_dir=tmp_path, token_key="k" * 32, **settings))
    layer = app.build_middleware_stack()
    while not isinstance(layer, FastGetMiddleware):
        layer = layer.app  # type: ignore[attr-defined]
    return {path.split("/", 2)[2]: plan.inline for path, plan in layer.plans().items()}


def test_sqlite_reads_run_in_the_event_loop(tmp_path):
    inline = _inline(tmp_path)
    for path in ("cluster/all", "cluster", "dataset", "task", "user/all", "checkpoint/all"):
        assert inline[path], path
    for path in ("user/project", "api_token/all", "dataset/content", "dataset/check"):
        assert not inline[path], path  # an ORM session
    assert not inline["system_info"]  # no database read: a worker thread as before
    assert not inline["host/all"]  # async def: in the loop anyway


def test_a_database_server_runs_the_same_reads_in_the_event_loop(tmp_path):
    inline = _inline(tmp_path, database_url="postgresql+psycopg://u:p@127.0.0.1:1/none")
    assert inline == _inline(tmp_path)
    assert inline["cluster/all"]


def test_a_statement_that_waits_does_not_stall_the_loop(request, server, admin: Api):
    """A GET whose statement waits for a table lock on PostgreSQL leaves the loop to answer
    the others, then answers once the lock is gone."""
    if server.backend != "postgresql":
        pytest.skip("SQLite reads do not wait for locks (above)")
    assert admin.get("cluster/all").status_code == 200  # the token is cached: the hot path
    database = Database(request.getfixturevalue("postgres_url"))
    try:
        with database.engine.connect() as locker, ThreadPoolExecutor(1) as pool:
            locker.execute(text("LOCK TABLE clusters IN ACCESS EXCLUSIVE MODE"))
            waiting = pool.submit(admin.get, "cluster/all")
            time.sleep(0.3)
            for path in ("dataset/all", "checkpoint/all", "project/all"):
                assert admin.get(path).status_code == 200
            assert not waiting.done()  # it still waits for the lock
            locker.rollback()
            assert waiting.result(timeout=10).status_code == 200
    finally:
        database.dispose()


def test_a_read_in_the_loop_does_not_wait_for_a_writer(server, admin: Api):
    if server.backend != "sqlite":
        pytest.skip("a SQLite write lock")
    assert admin.get("cluster/all").status_code == 200  # the token is cached: the hot path
    writer = sqlite3.connect(server.data_dir / "hanami.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # holds the write lock until the rollback
        start = time.monotonic()
        for path in ("cluster/all", "dataset/all", "checkpoint/all"):
            assert admin.get(path).status_code == 200
        assert time.monotonic() - start < 5.0  # the busy timeout is 30 s
    finally:
        writer.execute("ROLLBACK")
        writer.close()


QUEUE_POOL_OVERFLOW = 10  # SQLAlchemy's default max_overflow, which the server keeps


def test_a_read_in_the_loop_does_not_wait_for_the_pool(tmp_path):
    """Worker threads can hold every pooled connection while they wait for the loop (the
    load test once got 500s after the pool's 30 s timeout): the loop reads on its own."""
    database = Database(f"sqlite:///{tmp_path / 'hanami.db'}")
    pool = database.engine.pool
    held = [database.engine.connect() for _ in range(pool.size() + QUEUE_POOL_OVERFLOW)]
    try:
        assert pool.checkedin() == 0 and pool.overflow() == QUEUE_POOL_OVERFLOW  # exhausted
        start = time.monotonic()
        for _ in range(3):
            with database.loop_read() as connection:
                assert connection.execute(text("SELECT 1")).scalar() == 1
        assert time.monotonic() - start < 5.0  # the pool's timeout is 30 s
    finally:
        for connection in held:
            connection.close()
        database.dispose()
