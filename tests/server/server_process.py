"""Start and stop the real service (``python -m hanami.server``) on a free port of 127.0.0.1.

The one implementation behind every test server: the ``server`` fixture of ``conftest.py``
and ``cluster_helpers.ServerProcess`` here, ``tests/sdk/sdk_server.py`` (SDK, CLI and docs
tests) and ``tests/dashboard/conftest.py``. Callers pass their own admin and token key.
Other test folders import it by name with this folder on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(
    *,
    admin_id: str,
    admin_name: str,
    admin_passphrase: str,
    token_key: str,
    database_url: str | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """This process's environment without its ``HANAMI_*`` variables, plus the server's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANAMI_")}
    env.update(
        HANAMI_ADMIN_USER_ID=admin_id,
        HANAMI_ADMIN_USER_NAME=admin_name,
        HANAMI_ADMIN_PASSPHRASE=admin_passphrase,
        HANAMI_TOKEN_KEY=token_key,
        HANAMI_ACCESS_LOG="false",
        **(extra or {}),
    )
    if database_url:
        env["HANAMI_DATABASE_URL"] = database_url
    if env.get("PYTHONPATH"):  # the server runs in its data folder: relative entries would miss
        env["PYTHONPATH"] = os.pathsep.join(
            str(Path(entry).resolve()) for entry in env["PYTHONPATH"].split(os.pathsep) if entry
        )
    return env


def start_server(
    data_dir: Path,
    port: int,
    env: dict[str, str],
    *,
    append_log: bool = False,
    timeout: float = STARTUP_TIMEOUT,
) -> subprocess.Popen[bytes]:
    """Start the server (output to ``data_dir/server.log``) and wait until ``/readyz``
    answers 200; fails the test if it exits or is not ready in ``timeout`` seconds."""
    log_file = data_dir / "server.log"
    command = [sys.executable, "-m", "hanami.server", "--data-dir", str(data_dir),
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with log_file.open("ab" if append_log else "wb") as log:
        proc = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log_file.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    pytest.fail(f"server not ready after {timeout}s:\n{log_file.read_text()}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it has not stopped within 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def serving(data_dir: Path, env: dict[str, str]) -> Iterator[str]:
    """A server for the duration of the block (SQLite in ``data_dir`` unless ``env`` names
    a database); yields its URL."""
    port = free_port()
    proc = start_server(data_dir, port, env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(proc)


class RssPeak:
    """The RSS of a process when the block started (``idle``) and its peak during it,
    sampled every 5 ms in a thread (a hostile request's memory shows only while it runs)."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.idle = self.peak = self._process.memory_info().rss
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> RssPeak:
        self._sampler.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._sampler.join()
