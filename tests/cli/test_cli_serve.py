"""``hanami serve``: settings from options, configuration errors as one line."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from cli_helpers import Cli
from sdk_server import ADMIN_ID, ADMIN_PASSPHRASE, TOKEN_KEY, free_port

from hanami.sdk import HanamiClient


def test_invalid_settings_are_one_line_with_exit_code_2(cli: Cli, tmp_path: Path) -> None:
    message = cli.fails("serve", "--port", "99999", "--data-dir", str(tmp_path), code=2)
    assert message.startswith("configuration error: port:")
    message = cli.fails("serve", "--config", str(tmp_path / "missing.ini"), code=2)
    assert "cannot read configuration file" in message


def test_serve_runs_the_server(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANAMI_")}
    env.update(
        HANAMI_ADMIN_USER_ID=ADMIN_ID,
        HANAMI_ADMIN_PASSPHRASE=ADMIN_PASSPHRASE,
        HANAMI_TOKEN_KEY=TOKEN_KEY,
        HANAMI_ACCESS_LOG="false",
    )
    command = [
        sys.executable,
        "-c",
        "from hanami.cli.main import app; app()",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "data"),
    ]
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        with HanamiClient(url, user=ADMIN_ID, passphrase=ADMIN_PASSPHRASE) as client:
            assert client.login().is_admin
        assert (tmp_path / "data" / "hanami.db").exists()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
