"""Fixtures for the CLI tests: a real server, and ``hanami`` run in-process with typer's
CliRunner in an isolated config folder (the saved login goes to ``tmp_path``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sdk"))

from cli_helpers import Cli
from sdk_server import (
    ADMIN_ID,
    ADMIN_PASSPHRASE,
    TEMPLATE,
    RunningServer,
    csv_text,
    running_server,
)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("cli-server")) as running:
        yield running


@pytest.fixture
def cli(tmp_path: Path, server: RunningServer) -> Cli:
    """Not logged in; ``HANAMI_ADDRESS`` points at the test server."""
    return Cli(tmp_path / "config", {"HANAMI_ADDRESS": server.url})


@pytest.fixture
def admin_cli(cli: Cli) -> Cli:
    """Logged in as the admin through ``hanami login`` (token saved in the config folder)."""
    cli.ok("login", "--user", ADMIN_ID, "--passphrase", ADMIN_PASSPHRASE)
    return cli


@pytest.fixture
def cli_factory(tmp_path: Path, server: RunningServer) -> Callable[[], Cli]:
    """More independent CLI users (each with its own config folder)."""
    count = 0

    def make() -> Cli:
        nonlocal count
        count += 1
        return Cli(tmp_path / f"config-{count}", {"HANAMI_ADDRESS": server.url})

    return make


@pytest.fixture
def template_file(tmp_path: Path) -> Path:
    path = tmp_path / "cluster_template"
    path.write_text(TEMPLATE)
    return path


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.csv"
    path.write_text(csv_text(40))
    return path
