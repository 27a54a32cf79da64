"""Fixtures for the dashboard tests: the real service in a subprocess and headless Chromium.

The browser is Debian's ``/usr/bin/chromium`` driven by Playwright (no browser downloads);
the tests skip with a reason when either is missing.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dashboard_helpers import (
    ADMIN_ID,
    ADMIN_NAME,
    ADMIN_PASSPHRASE,
    STARTUP_TIMEOUT,
    TOKEN_KEY,
    DashboardServer,
)

CHROMIUM = Path(os.environ.get("HANAMI_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    log_file = data_dir / "server.log"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANAMI_")}
    env.update(
        HANAMI_ADMIN_USER_ID=ADMIN_ID,
        HANAMI_ADMIN_USER_NAME=ADMIN_NAME,
        HANAMI_ADMIN_PASSPHRASE=ADMIN_PASSPHRASE,
        HANAMI_TOKEN_KEY=TOKEN_KEY,
        HANAMI_ACCESS_LOG="false",
    )
    command = [sys.executable, "-m", "hanami.server", "--data-dir", str(data_dir),
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{log_file.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"server not ready after {STARTUP_TIMEOUT}s:\n{log_file.read_text()}")
            time.sleep(0.1)
        yield DashboardServer(url=url, data_dir=data_dir, log_file=log_file)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
