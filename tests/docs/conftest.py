"""Fixtures for the documentation tests: a real server whose admin is ``admin`` (as in the
README) and the MNIST subset as gzip-compressed IDX files with their original names."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

TESTS = Path(__file__).resolve().parent.parent


def load_module(name: str, path: Path) -> ModuleType:
    """Import a helper file of another test folder as module ``name``, without putting that
    folder (which has its own conftest.py) on ``sys.path``."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


e2e_data = load_module("e2e_data", TESTS / "e2e" / "e2e_data.py")
sdk_server = load_module("sdk_server", TESTS / "sdk" / "sdk_server.py")
RunningServer = sdk_server.RunningServer

DOCS_ADMIN_ID = "admin"
DOCS_ADMIN_PASSPHRASE = "docs admin passphrase"


@pytest.fixture(scope="session")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("docs-server")
    with sdk_server.running_server(
        folder, admin_id=DOCS_ADMIN_ID, admin_passphrase=DOCS_ADMIN_PASSPHRASE
    ) as running:
        yield running


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stands in for ``../shared/data/mnist`` (a subset, so that the examples run fast)."""
    return e2e_data.write_subset(tmp_path_factory.mktemp("docs-mnist"), gzipped=True).folder
