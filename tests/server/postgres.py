"""A throw-away PostgreSQL cluster on loopback: for the tests and for benchmarks/chaos.py.

``initdb`` into a temporary folder, started with ``pg_ctl`` (as root it runs as the
``postgres`` user), stopped and removed on exit. Other folders import it by name with this
folder on ``sys.path``.
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
from collections.abc import Iterator
from pathlib import Path

from server_process import free_port

__all__ = ["PostgresUnavailable", "new_database", "private_postgres"]


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is not installed, or cannot run here."""


def _pg_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if found := shutil.which("initdb"):
        candidates.append(str(Path(found).resolve().parent))
    for candidate in candidates:
        path = Path(candidate)
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file():
            return path
    return None


def _run_as() -> list[str]:
    """The command prefix that runs PostgreSQL as a user it accepts (it refuses root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            "running as root and there is no 'postgres' user to run PostgreSQL as"
        ) from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("running as root and 'runuser' is missing")
    return [runuser, "-u", "postgres", "--"]


@contextlib.contextmanager
def private_postgres() -> Iterator[str]:
    """Yields the URL of a fresh database ``hanami_test`` in a temporary PostgreSQL cluster;
    raises :class:`PostgresUnavailable` (before yielding) when it cannot start one."""
    bindir = _pg_bindir()
    if bindir is None:
        raise PostgresUnavailable(
            "PostgreSQL is not installed (no initdb/pg_ctl; Debian: apt-get install postgresql)"
        )
    prefix = _run_as()
    base = Path(tempfile.mkdtemp(prefix="hanami-pg-"))
    if prefix:
        account = pwd.getpwnam("postgres")
        os.chown(base, account.pw_uid, account.pw_gid)
    data, log = base / "data", base / "postgres.log"
    port = free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--no-sync")  # fmt: skip
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
            "-o", f"-h 127.0.0.1 -p {port} -k {base} -F", "start")  # fmt: skip
    except subprocess.CalledProcessError as exc:
        details = (exc.stderr or b"").decode(errors="replace")
        if log.exists():
            details += log.read_text(errors="replace")
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {details}") from exc
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


def new_database(base_url: str) -> str:
    """A fresh, empty database next to ``base_url`` (same cluster); returns its URL."""
    import psycopg

    name = f"own_{uuid.uuid4().hex[:12]}"
    admin_url = base_url.replace("+psycopg", "").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return base_url.rsplit("/", 1)[0] + f"/{name}"
