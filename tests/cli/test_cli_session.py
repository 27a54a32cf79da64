"""``hanami login/logout/whoami/health``, credentials from the environment, error lines."""

from __future__ import annotations

import json
import stat

from cli_helpers import Cli
from sdk_server import ADMIN_ID, ADMIN_PASSPHRASE, RunningServer, free_port

from hanami import __version__


def test_login_saves_a_private_token_file(cli: Cli, server: RunningServer) -> None:
    result = cli.ok("login", "-u", ADMIN_ID, "-p", ADMIN_PASSPHRASE)
    assert f"Logged in to {server.url} as {ADMIN_ID}" in result.stdout
    token_file = cli.config_dir / "token.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    saved = json.loads(token_file.read_text())
    assert (saved["address"], saved["user"], saved["project_id"]) == (server.url, ADMIN_ID, "admin")
    assert saved["token"].count(".") == 2
    session = cli.json("whoami", HANAMI_ADDRESS=None)  # the saved login names the server
    assert (session["user"], session["project_id"], session["address"]) == (
        ADMIN_ID,
        "admin",
        server.url,
    )


def test_login_json_shape_and_prompt(cli: Cli, server: RunningServer) -> None:
    result = cli.run("login", "--json", input=f"{ADMIN_ID}\n{ADMIN_PASSPHRASE}\n")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout[result.stdout.index("{") :])
    assert data["address"] == server.url
    assert (data["id"], data["is_admin"], data["project_id"]) == (ADMIN_ID, True, "admin")
    assert "token" not in data


def test_logout_forgets_the_login(admin_cli: Cli) -> None:
    assert admin_cli.json("logout") == {"logged_out": True}
    assert not (admin_cli.config_dir / "token.json").exists()
    message = admin_cli.fails("project", "list")
    assert "not logged in" in message
    assert admin_cli.json("logout") == {"logged_out": False}


def test_not_logged_in_is_one_line(cli: Cli) -> None:
    message = cli.fails("project", "list", code=1)
    assert message.startswith("not logged in")
    assert "hanami login" in message


def test_wrong_passphrase_is_one_line(cli: Cli) -> None:
    message = cli.fails("login", "-u", ADMIN_ID, "-p", "not the passphrase")
    denied = "ACCESS DENIED! User or passphrase is incorrect."
    assert message == f"{denied} (HTTP 401; log in again with 'hanami login')"
    assert not (cli.config_dir / "token.json").exists()


def test_credentials_from_the_environment(cli: Cli) -> None:
    table = cli.json("project", "list", HANAMI_USER=ADMIN_ID, HANAMI_PASSPHRASE=ADMIN_PASSPHRASE)
    assert table["header"] == ["created_at", "id", "name", "creator_id"]
    message = cli.fails("project", "list", HANAMI_USER=ADMIN_ID)
    assert "HANAMI_PASSPHRASE" in message


def test_token_from_the_environment(admin_cli: Cli) -> None:
    token = json.loads((admin_cli.config_dir / "token.json").read_text())["token"]
    (admin_cli.config_dir / "token.json").unlink()
    assert admin_cli.json("user", "show", ADMIN_ID, HANAMI_TOKEN=token)["id"] == ADMIN_ID
    message = admin_cli.fails("user", "list", HANAMI_TOKEN="garbage")
    assert "Failed to validate JWT-Token" in message
    assert "(HTTP 401" in message


def test_saved_login_is_bound_to_its_server(admin_cli: Cli) -> None:
    other = f"http://127.0.0.1:{free_port()}"
    message = admin_cli.fails("project", "list", HANAMI_ADDRESS=other)
    assert f"no saved login for {other}" in message


def test_unreachable_server_is_one_line(cli: Cli) -> None:
    address = f"http://127.0.0.1:{free_port()}"
    message = cli.fails("login", "-u", ADMIN_ID, "-p", ADMIN_PASSPHRASE, HANAMI_ADDRESS=address)
    assert message.startswith(f"cannot reach {address}")


def test_health(cli: Cli, server: RunningServer) -> None:
    assert cli.json("health") == {"address": server.url, "status": "ok", "ready": True}
    assert "ready" in cli.ok("health").stdout


def test_version_and_help(cli: Cli) -> None:
    assert cli.ok("--version").stdout.strip() == f"hanami {__version__}"
    help_text = cli.ok("--help").stdout
    for command in ("serve", "login", "cluster", "dataset", "task", "checkpoint", "bench"):
        assert command in help_text


def test_usage_errors_are_one_line_with_exit_code_2(admin_cli: Cli) -> None:
    message = admin_cli.fails("project", "create", "someproject", code=2)
    assert "Missing option" in message
    message = admin_cli.fails("cluster", "frobnicate", code=2)
    assert "No such command" in message
    message = admin_cli.fails("dataset", "content", "x", "-c", "y", "-n", "0", code=2)
    assert "--rows" in message


def test_shell_completion_is_offered(cli: Cli) -> None:
    result = cli.ok("--show-completion", "bash", SHELL="/bin/bash")
    assert "complete" in result.stdout
