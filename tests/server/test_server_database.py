"""Migrations match the models (SQLite and PostgreSQL), admin bootstrap, tenancy filter,
the PostgreSQL pool's ping of idle connections and its reads' prepared statements."""

from __future__ import annotations

import io
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import SecretStr
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError

from hanami.server.bootstrap import bootstrap_admin
from hanami.server.config import ConfigError, ServerSettings
from hanami.server.db import Base, Cluster, Database, Task, User, upgrade
from hanami.server.db.migrate import current_revision
from hanami.server.db.session import IDLE_PING_SECONDS
from hanami.server.errors import NotFound
from hanami.server.security.auth import Principal
from hanami.server.security.credentials import verify_password
from hanami.server.security.tenancy import get_in_scope, in_scope, row_in_scope, scope_filter


@pytest.fixture
def sqlite_db(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/test.db")
    upgrade(database)
    yield database
    database.dispose()


def _assert_schema_matches_models(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_migrations_match_models_on_sqlite(sqlite_db):
    _assert_schema_matches_models(sqlite_db)
    upgrade(sqlite_db)  # idempotent
    assert current_revision(sqlite_db) == "0005"
    with sqlite_db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_upgrade_keeps_the_rows_of_an_older_schema(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/old.db")
    try:
        upgrade(database, "0001")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO clusters (uuid, project_id, owner_id, visibility, name, "
                    "created_at) VALUES ('c1', 'p', 'u', 'private', 'old', '2026-01-01')"
                )
            )
        upgrade(database)
        assert current_revision(database) == "0005"
        _assert_schema_matches_models(database)
        with database.session() as session:
            assert session.get(Cluster, "c1").mode == "TASK"  # 0002: clusters remember a mode
    finally:
        database.dispose()


def test_migrations_match_models_on_postgresql(postgres_url):
    database = Database(postgres_url)
    try:
        upgrade(database)
        _assert_schema_matches_models(database)
        assert "users" in inspect(database.engine).get_table_names()
    finally:
        database.dispose()


def test_foreign_keys_cascade(sqlite_db):
    with sqlite_db.session() as session:
        session.add(Cluster(uuid="c1", project_id="p", owner_id="u", name="c"))
        session.add(
            Task(
                uuid="t1",
                cluster_uuid="c1",
                project_id="p",
                owner_id="u",
                name="t",
                task_type="train",
            )
        )
        session.commit()
        session.execute(text("DELETE FROM clusters"))
        session.commit()
        assert session.scalar(select(Task)) is None


def _settings(tmp_path, **kwargs):
    return ServerSettings(data_dir=tmp_path, token_key="k" * 32, **kwargs)


def test_bootstrap_generates_and_prints_a_passphrase_once(sqlite_db, tmp_path):
    out = io.StringIO()
    assert bootstrap_admin(sqlite_db, _settings(tmp_path), out=out) == "admin"
    printed = out.getvalue()
    passphrase = printed.split("passphrase: ")[1].split()[0]
    assert len(passphrase) >= 24
    with sqlite_db.session() as session:
        user = session.get(User, "admin")
        assert user.is_admin and user.creator_id == "HANAMI_INIT"
        assert passphrase not in user.password_hash
        assert verify_password(user.password_hash, passphrase.encode())[0]
    again = io.StringIO()
    assert bootstrap_admin(sqlite_db, _settings(tmp_path), out=again) is None
    assert again.getvalue() == ""


def test_bootstrap_from_environment_prints_nothing(sqlite_db, tmp_path):
    out = io.StringIO()
    settings = _settings(
        tmp_path,
        admin_user_id="root_user",
        admin_user_name="Root User",
        admin_passphrase=SecretStr("chosen passphrase"),
    )
    assert bootstrap_admin(sqlite_db, settings, out=out) == "root_user"
    assert out.getvalue() == ""
    with sqlite_db.session() as session:
        user = session.get(User, "root_user")
        assert verify_password(user.password_hash, b"chosen passphrase")[0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"admin_user_id": "no"},
        {"admin_user_name": "Bad!"},
        {"admin_passphrase": SecretStr("short")},
    ],
)
def test_bootstrap_rejects_bad_values(sqlite_db, tmp_path, kwargs):
    with pytest.raises(ConfigError):
        bootstrap_admin(sqlite_db, _settings(tmp_path, **kwargs), out=io.StringIO())


def _principal(user, project, *, admin=False, project_admin=False):
    return Principal(user, user, admin, project, "admin" if admin else "member", project_admin)


def test_scope_filter(sqlite_db):
    rows = [("c1", "alice", "p1"), ("c2", "bob", "p1"), ("c3", "alice", "p2")]
    with sqlite_db.session() as session:
        for uuid, owner, project in rows:
            session.add(Cluster(uuid=uuid, owner_id=owner, project_id=project, name=uuid))
        session.commit()

        def visible(principal):
            query = select(Cluster.uuid).where(scope_filter(principal, Cluster))
            found = sorted(session.scalars(query))
            every = session.scalars(select(Cluster)).all()
            assert found == sorted(c.uuid for c in every if in_scope(principal, c))
            return found

        assert visible(_principal("root", "admin", admin=True)) == ["c1", "c2", "c3"]
        assert visible(_principal("carol", "p1", project_admin=True)) == ["c1", "c2"]
        assert visible(_principal("alice", "p1")) == ["c1"]
        assert visible(_principal("alice", "p2")) == ["c3"]
        assert visible(_principal("bob", "p2")) == []
        assert get_in_scope(session, _principal("alice", "p1"), Cluster, "c1").name == "c1"
        with pytest.raises(NotFound, match="Cluster with uuid 'c2' not found"):
            get_in_scope(session, _principal("alice", "p1"), Cluster, "c2", "Cluster")
    with sqlite_db.read() as connection:
        assert row_in_scope(connection, _principal("alice", "p1"), Cluster, "c1").name == "c1"
        for uuid in ("c2", "c9"):  # out of scope, missing: the same 404
            with pytest.raises(NotFound, match=f"Cluster with uuid '{uuid}' not found"):
                row_in_scope(connection, _principal("alice", "p1"), Cluster, uuid, "Cluster")


def test_only_an_idle_postgresql_connection_is_pinged(postgres_url):
    """A connection used a moment ago is handed out as it is (no round trip per GET); one
    idle for longer than the ping interval is pinged, and replaced when the server dropped
    it."""
    database = Database(postgres_url)
    try:

        def backend() -> int:
            with database.read() as connection:
                return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()

        with database.engine.connect() as killer:  # a second pooled connection
            for idle in (0.0, IDLE_PING_SECONDS + 0.2):
                dead = backend()
                killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dead})
                time.sleep(idle)
                if idle < IDLE_PING_SECONDS:
                    with pytest.raises(DBAPIError) as error:
                        backend()
                    assert error.value.connection_invalidated
                else:
                    assert backend() != dead
    finally:
        database.dispose()


def test_postgresql_reads_keep_their_prepared_statements(postgres_url):
    """Reads have a pool of their own: on a connection shared with transactions, each
    ROLLBACK made psycopg drop what it had prepared, so no statement of a GET ever was."""
    database = Database(postgres_url)
    try:
        for _ in range(8):
            with database.session() as session:
                session.execute(text("SELECT 1"))  # a transaction, rolled back on return
            with database.read() as connection:
                assert connection.execute(text("SELECT 2")).scalar_one() == 2
                prepared = connection.execute(
                    text("SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT 2'")
                ).scalar_one()
        assert prepared == 1
    finally:
        database.dispose()
