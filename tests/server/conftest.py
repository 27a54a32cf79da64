"""Fixtures for the service tests.

``server`` starts the real service (``python -m hanami.server``) as a subprocess on a free
port of 127.0.0.1, once per database backend: SQLite, and PostgreSQL when it is installed
(a throw-away cluster is created with ``initdb``; as root it runs as the ``postgres`` user).
Tests speak plain HTTP to it with httpx, sending JSON bodies without a Content-Type header,
the way the original SDKs do.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from server_helpers import (
    ADMIN_ID,
    ADMIN_NAME,
    ADMIN_PASSPHRASE,
    MEMBER_PASSPHRASE,
    TOKEN_KEY,
    Api,
    Member,
    b64,
    free_port,
    login,
    unique,
)
from server_process import server_env, serving

# --------------------------------------------------------------------------- PostgreSQL


def _pg_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if found := shutil.which("initdb"):
        candidates.append(str(Path(found).resolve().parent))
    for candidate in candidates:
        path = Path(candidate)
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file():
            return path
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh database in a temporary PostgreSQL cluster (skips if not installed)."""
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL is not installed (no initdb/pg_ctl; Debian: apt-get install postgresql)"
        )
    prefix: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="hanami-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(base, ignore_errors=True)
            pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
        runuser = shutil.which("runuser")
        if runuser is None:
            shutil.rmtree(base, ignore_errors=True)
            pytest.skip("running as root and 'runuser' is missing")
        prefix = [runuser, "-u", "postgres", "--"]
        os.chown(base, account.pw_uid, account.pw_gid)
    data, log = base / "data", base / "postgres.log"
    port = free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    try:
        run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "-o",
            f"-h 127.0.0.1 -p {port} -k {base} -F",
            "start",
        )
    except subprocess.CalledProcessError as exc:
        details = (exc.stderr or b"").decode(errors="replace")
        if log.exists():
            details += log.read_text(errors="replace")
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {details}")
    try:
        import psycopg

        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE hanami_test")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/hanami_test"
    finally:
        with contextlib.suppress(Exception):
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def own_database_url(request: pytest.FixtureRequest) -> str | None:
    """A test's own database: None (the server's default SQLite file in its data folder), or
    a fresh database in the session's PostgreSQL cluster."""
    if request.param == "sqlite":
        return None
    import psycopg

    base = request.getfixturevalue("postgres_url")
    name = f"own_{uuid.uuid4().hex[:12]}"
    admin_url = base.replace("+psycopg", "").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return base.rsplit("/", 1)[0] + f"/{name}"


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
