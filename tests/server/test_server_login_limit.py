"""The login limit: keyed on the peer address, forwarded headers only from trusted proxies,
shared by every server process through the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_helpers import ADMIN_ID, ADMIN_NAME, ADMIN_PASSPHRASE, TOKEN_KEY, Api, b64, unique
from server_process import server_env, serving

LIMITS = {"HANAMI_LOGIN_MAX_FAILURES": "3", "HANAMI_LOGIN_MAX_FAILURES_PER_ADDRESS": "5"}


def _login(http: httpx.Client, user_id: str, passphrase: str, **headers: str) -> int:
    response = Api(http).post(
        "token", {"id": user_id, "passphrase": b64(passphrase)}, headers=headers
    )
    return response.status_code


def _make_user(http: httpx.Client, passphrase: str) -> str:
    token = Api(http).post("token", {"id": ADMIN_ID, "passphrase": b64(ADMIN_PASSPHRASE)})
    admin = Api(http, token.json()["token"])
    user_id = unique("user")
    body = {"id": user_id, "name": "Some User", "passphrase": b64(passphrase), "is_admin": True}
    assert admin.post("user", body).status_code == 200
    return user_id


def _env(database_url: str | None = None, **extra: str) -> dict[str, str]:
    return server_env(
        admin_id=ADMIN_ID,
        admin_name=ADMIN_NAME,
        admin_passphrase=ADMIN_PASSPHRASE,
        token_key=TOKEN_KEY,
        database_url=database_url,
        extra={**LIMITS, **extra},
    )


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A server that trusts 127.0.0.1 (the tests) as its proxy."""
    data_dir = tmp_path_factory.mktemp("behind-proxy")
    env = _env(HANAMI_TRUSTED_PROXIES="10.9.0.0/16, 127.0.0.1")
    with serving(data_dir, env) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http


def test_rotating_forwarded_for_from_an_untrusted_peer_is_limited(anonymous, admin):
    user_id = unique("victim")
    body = {"id": user_id, "name": "Victim", "passphrase": b64("right pass"), "is_admin": True}
    assert admin.post("user", body).status_code == 200
    for n in range(10):
        headers = {"X-Forwarded-For": f"198.51.100.{n}", "Forwarded": f"for=198.51.100.{n}"}
        response = anonymous.post(
            "token", {"id": user_id, "passphrase": b64("wrong")}, headers=headers
        )
        assert response.status_code == 401
    response = anonymous.post(
        "token",
        {"id": user_id, "passphrase": b64("right pass")},
        headers={"X-Forwarded-For": "198.51.100.99"},
    )
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1


def test_a_trusted_proxys_forwarded_address_is_used(behind_proxy: httpx.Client):
    user_id = _make_user(behind_proxy, "right pass")
    # The client's own part of the header (left) is ignored; the proxies' hops are skipped.
    for n in range(3):
        chain = f"192.0.2.{n}, 203.0.113.7, 10.9.1.1"
        assert _login(behind_proxy, user_id, "wrong", **{"X-Forwarded-For": chain}) == 401
    assert _login(behind_proxy, user_id, "right pass", **{"X-Forwarded-For": "203.0.113.7"}) == 429
    assert _login(behind_proxy, user_id, "right pass", **{"X-Forwarded-For": "203.0.113.8"}) == 200


def test_a_spoofer_cannot_lock_out_the_victims_address(behind_proxy: httpx.Client):
    victim = _make_user(behind_proxy, "victim pass")
    # The attacker claims the victim's address; the proxy appends the attacker's real one.
    spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.66"}
    for _ in range(5):
        assert _login(behind_proxy, unique("guess"), "wrong", **spoofed) == 401
    assert _login(behind_proxy, victim, "victim pass", **spoofed) == 429  # the attacker's address
    assert _login(behind_proxy, victim, "victim pass", **{"X-Forwarded-For": "198.51.100.1"}) == 200


def test_the_forwarded_header_can_be_the_rfc_7239_one(tmp_path: Path):
    env = _env(HANAMI_TRUSTED_PROXIES="127.0.0.1", HANAMI_FORWARDED_HEADER="Forwarded")
    with serving(tmp_path, env) as url, httpx.Client(base_url=url, timeout=30) as http:
        user_id = _make_user(http, "right pass")
        hop = {"Forwarded": 'for="[2001:db8::1]:4711";proto=https'}
        for _ in range(3):
            assert _login(http, user_id, "wrong", **hop) == 401
        # The same /64, and an X-Forwarded-For the proxy does not write, count the same.
        other = {"Forwarded": 'for="[2001:db8::2]"', "X-Forwarded-For": "192.0.2.1"}
        assert _login(http, user_id, "right pass", **other) == 429
        assert _login(http, user_id, "right pass", **{"Forwarded": "for=192.0.2.1"}) == 200


def test_two_processes_sharing_a_database_share_the_limit(own_database_url, tmp_path: Path):
    env = _env(own_database_url)
    if own_database_url is None:  # both use one SQLite file
        env["HANAMI_DATABASE"] = str(tmp_path / "shared.db")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        serving(tmp_path / "a", env) as url_a,
        serving(tmp_path / "b", env) as url_b,
        httpx.Client(base_url=url_a, timeout=30) as a,
        httpx.Client(base_url=url_b, timeout=30) as b,
    ):
        user_id = _make_user(a, "right pass")
        assert _login(a, user_id, "wrong") == 401
        assert _login(b, user_id, "wrong") == 401
        assert _login(a, user_id, "wrong") == 401
        assert _login(b, user_id, "right pass") == 429
        assert _login(a, user_id, "right pass") == 429
