"""Environment credentials log in once per token lifetime (the token cache)."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator

import pytest
from cli_helpers import Cli
from sdk_server import ADMIN_ID, ADMIN_PASSPHRASE, RunningServer, count_logins

from hanami.sdk import HanamiClient

ENV = {"HANAMI_USER": ADMIN_ID, "HANAMI_PASSPHRASE": ADMIN_PASSPHRASE}


@pytest.fixture
def audit(server: RunningServer) -> Iterator[HanamiClient]:
    """An admin client that reads the audit log (it logs in before the first count)."""
    with HanamiClient(server.url, user=ADMIN_ID, passphrase=ADMIN_PASSPHRASE) as client:
        client.login()
        yield client


def logins(audit: HanamiClient) -> int:
    return count_logins(audit, ADMIN_ID)


def cached_entry(cli: Cli, server: RunningServer) -> dict:
    return json.loads(cli.token_cache.read_text())[f"{ADMIN_ID}@{server.url}"]


def test_environment_credentials_log_in_once(
    cli: Cli, server: RunningServer, audit: HanamiClient
) -> None:
    cli.env.update(ENV)
    before = logins(audit)
    for command in (["project", "list"], ["user", "list"], ["whoami"], ["cluster", "list"]):
        cli.ok(*command)
    cli.ok("project", "create", "cacheproject", "-n", "Cache project")
    cli.ok("project", "delete", "cacheproject")
    assert logins(audit) - before == 1
    assert stat.S_IMODE(cli.token_cache.stat().st_mode) == 0o600
    assert cached_entry(cli, server)["expires_at"] > time.time()
    assert not (cli.config_dir / "token.json").exists()  # the saved login is another thing


def test_refused_cached_token_leads_to_one_login(
    cli: Cli, server: RunningServer, audit: HanamiClient
) -> None:
    cli.env.update(ENV)
    cli.ok("whoami")
    entry = cached_entry(cli, server)
    forged = {f"{ADMIN_ID}@{server.url}": {**entry, "token": "not.a.token"}}
    cli.token_cache.write_text(json.dumps(forged))
    before = logins(audit)
    assert cli.json("whoami")["user"] == ADMIN_ID
    assert logins(audit) - before == 1
    assert cached_entry(cli, server)["token"] not in ("not.a.token", entry["token"])


def test_expiring_cached_token_is_not_used(
    cli: Cli, server: RunningServer, audit: HanamiClient
) -> None:
    cli.env.update(ENV)
    cli.ok("whoami")
    entry = cached_entry(cli, server)
    soon = {f"{ADMIN_ID}@{server.url}": {**entry, "expires_at": time.time() + 5}}
    cli.token_cache.write_text(json.dumps(soon))
    before = logins(audit)
    cli.ok("project", "list")
    cli.ok("project", "list")
    assert logins(audit) - before == 1


def test_a_wrong_user_is_not_served_another_users_token(cli: Cli) -> None:
    cli.env.update(ENV)
    cli.ok("whoami")
    message = cli.fails("whoami", HANAMI_USER="nobody_here")
    assert "ACCESS DENIED" in message


def test_project_switch_is_not_cached(cli: Cli, server: RunningServer) -> None:
    cli.env.update(ENV)
    cli.ok("project", "create", "switchcache", "-n", "Switch cache")
    cli.ok("user", "add-project", ADMIN_ID, "switchcache")
    try:
        assert "switchcache" in cli.ok("project", "switch", "switchcache").stdout
        assert cli.json("whoami")["project_id"] == "admin"
    finally:
        cli.ok("user", "remove-project", ADMIN_ID, "switchcache")
        cli.ok("project", "delete", "switchcache")


def test_unreadable_cache_is_one_line(cli: Cli) -> None:
    cli.env.update(ENV)
    cli.token_cache.parent.mkdir(parents=True, exist_ok=True)
    cli.token_cache.write_text("{not json")
    message = cli.fails("whoami")
    assert message.startswith(f"cannot read the token cache {cli.token_cache}")
    assert "HANAMI_TOKEN_CACHE" in message
