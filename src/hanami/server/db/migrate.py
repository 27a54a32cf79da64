"""Schema migrations, applied at start-up with Alembic's command API (no alembic.ini needed).

Developer use::

    python -m hanami.server.db.migrate revision -m "add x"   # autogenerate from the models
    python -m hanami.server.db.migrate upgrade --url sqlite:///tmp/x.db
    python -m hanami.server.db.migrate current --url ...
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from hanami.server.db.session import Database

__all__ = ["MIGRATIONS_DIR", "alembic_config", "current_revision", "upgrade"]

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the migrations shipped in this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema of ``database`` to ``revision`` (idempotent)."""
    config = alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hanami.server.db.migrate")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("upgrade", "current"):
        p = sub.add_parser(name)
        p.add_argument("--url", required=True, help="SQLAlchemy database URL")
    rev = sub.add_parser("revision", help="autogenerate a revision against a fresh database")
    rev.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)

    if args.command == "revision":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/scratch.db"
            database = Database(url)
            upgrade(database)
            database.dispose()
            command.revision(alembic_config(url), message=args.message, autogenerate=True)
        return
    database = Database(args.url)
    try:
        if args.command == "upgrade":
            upgrade(database)
        print(current_revision(database))
    finally:
        database.dispose()


if __name__ == "__main__":
    main()
