"""Fixtures for the service tests.

``server`` starts the real service (``python -m hanami.server``) as a subprocess on a free
port of 127.0.0.1, once per database backend: SQLite, and PostgreSQL when it is installed
(a throw-away cluster is created with ``initdb``; as root it runs as the ``postgres`` user).
Tests speak plain HTTP to it with httpx, sending JSON bodies without a Content-Type header,
the way the original SDKs do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from postgres import PostgresUnavailable, new_database, private_postgres
from server_helpers import (
    ADMIN_ID,
    ADMIN_NAME,
    ADMIN_PASSPHRASE,
    MEMBER_PASSPHRASE,
    TOKEN_KEY,
    Api,
    Member,
    b64,
    login,
    unique,
)
from server_process import server_env, serving

# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh database in a temporary PostgreSQL cluster (skips if not installed)."""
    try:
        with private_postgres() as url:
            yield url
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(params=["sqlite", "postgresql"])
def own_database_url(request: pytest.FixtureRequest) -> str | None:
    """A test's own database: None (the server's default SQLite file in its data folder), or
    a fresh database in the session's PostgreSQL cluster."""
    if request.param == "sqlite":
        return None
    return new_database(request.getfixturevalue("postgres_url"))


# --------------------------------------------------------------------------- the server


@dataclass(frozen=True)
class RunningServer:
    url: str
    backend: str
    data_dir: Path
    log_file: Path
    token_key: str = TOKEN_KEY
    admin_id: str = ADMIN_ID
    admin_passphrase: str = ADMIN_PASSPHRASE


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """The real service in a subprocess, once per database backend."""
    backend = request.param
    database_url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    data_dir = tmp_path_factory.mktemp(f"server-{backend}")
    env = server_env(
        admin_id=ADMIN_ID,
        admin_name=ADMIN_NAME,
        admin_passphrase=ADMIN_PASSPHRASE,
        token_key=TOKEN_KEY,
        database_url=database_url,
    )
    with serving(data_dir, env) as url:
        yield RunningServer(
            url=url, backend=backend, data_dir=data_dir, log_file=data_dir / "server.log"
        )


@pytest.fixture(scope="session")
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def admin(http: httpx.Client, server: RunningServer) -> Api:
    return Api(http, login(http, server.admin_id, server.admin_passphrase))


@pytest.fixture
def anonymous(http: httpx.Client) -> Api:
    return Api(http)


@pytest.fixture
def make_project(admin: Api) -> Callable[..., str]:
    def make(project_id: str | None = None, name: str = "Test Project") -> str:
        project_id = project_id or unique("proj")
        response = admin.post("project", {"id": project_id, "name": name})
        assert response.status_code == 200, response.text
        return project_id

    return make


@pytest.fixture
def make_member(
    admin: Api, http: httpx.Client, make_project: Callable[..., str]
) -> Callable[..., Member]:
    """A non-admin user assigned to a fresh project, logged in."""

    def make(
        role: str = "member", is_project_admin: bool = False, project_id: str | None = None
    ) -> Member:
        user_id = unique("user")
        project_id = project_id or make_project()
        response = admin.post(
            "user",
            {
                "id": user_id,
                "name": "Member User",
                "passphrase": b64(MEMBER_PASSPHRASE),
                "is_admin": False,
            },
        )
        assert response.status_code == 200, response.text
        response = admin.post(
            "user/project",
            {
                "id": user_id,
                "project_id": project_id,
                "role": role,
                "is_project_admin": is_project_admin,
            },
        )
        assert response.status_code == 200, response.text
        return Member(user_id, project_id, Api(http, login(http, user_id, MEMBER_PASSPHRASE)))

    return make


@pytest.fixture
def member(make_member: Callable[..., Member]) -> Member:
    return make_member()
