"""Fixtures for the end-to-end tests.

``server`` is the fixture of ``tests/server/conftest.py`` (the real ``python -m hanami.server``
in a subprocess, once on SQLite and once on PostgreSQL), loaded from that file so that both
test folders start their servers the same way. ``mnist`` is the MNIST subset of
``e2e_data.py`` written as IDX files.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from e2e_data import MnistSubset, write_subset

SERVER_TESTS = Path(__file__).resolve().parent.parent / "server"


def load_module(name: str, path: Path) -> ModuleType:
    """Import a file as module ``name`` without putting its folder on ``sys.path`` (a
    folder with another conftest.py there would confuse pytest's conftest imports)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


load_module("server_process", SERVER_TESTS / "server_process.py")
load_module("server_helpers", SERVER_TESTS / "server_helpers.py")
load_module("postgres", SERVER_TESTS / "postgres.py")
_server_conftest = load_module("_hanami_server_conftest", SERVER_TESTS / "conftest.py")
postgres_url = _server_conftest.postgres_url
server = _server_conftest.server
RunningServer = _server_conftest.RunningServer


@pytest.fixture(scope="session")
def mnist(tmp_path_factory: pytest.TempPathFactory) -> MnistSubset:
    return write_subset(tmp_path_factory.mktemp("mnist"))
