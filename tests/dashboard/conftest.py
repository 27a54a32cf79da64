"""Fixtures for the dashboard tests: the real service in a subprocess and headless Chromium.

The browser is Debian's ``/usr/bin/chromium`` driven by Playwright (no browser downloads);
the tests skip with a reason when either is missing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from dashboard_helpers import (
    ADMIN_ID,
    ADMIN_NAME,
    ADMIN_PASSPHRASE,
    TOKEN_KEY,
    DashboardServer,
)
from server_process import server_env, serving

CHROMIUM = Path(os.environ.get("HANAMI_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def playwright_api() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing (Debian: apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def chromium(playwright_api: Any) -> Iterator[Any]:
    browser = playwright_api.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def dashboard_server(
    playwright_api: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DashboardServer]:
    """``python -m hanami.server`` on a free port with a fresh SQLite database."""
    data_dir = tmp_path_factory.mktemp("dashboard-server")
    env = server_env(
        admin_id=ADMIN_ID,
        admin_name=ADMIN_NAME,
        admin_passphrase=ADMIN_PASSPHRASE,
        token_key=TOKEN_KEY,
    )
    with serving(data_dir, env) as url:
        yield DashboardServer(url=url, data_dir=data_dir, log_file=data_dir / "server.log")
