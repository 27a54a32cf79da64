"""Password hashing, JWT round trip, API-token hashing, login rate limiter, proxy headers."""

from __future__ import annotations

import ipaddress
import time

import pytest
from argon2 import PasswordHasher

from hanami.server.db import Database, upgrade
from hanami.server.security.credentials import (
    InvalidToken,
    create_access_token,
    decode_access_token,
    decode_passphrase,
    hash_api_token,
    hash_password,
    new_api_token,
    verify_password,
)
from hanami.server.security.proxies import client_host
from hanami.server.security.ratelimit import LoginRateLimiter, LoginThrottled, address_key

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
KEY = b"k" * 32
USER = {"id": "asdf", "name": "n", "is_admin": False, "creator_id": "c", "created_at": "-"}


def test_argon2id_hash_and_verify():
    stored = hash_password(b"secret passphrase", FAST)
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, b"secret passphrase", FAST) == (True, None)
    assert verify_password(stored, b"wrong", FAST) == (False, None)
    assert verify_password("not a hash", b"x", FAST) == (False, None)


def test_rehash_when_parameters_changed():
    old = hash_password(
        b"secret", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, salt_len=8)
    )
    ok, new_hash = verify_password(old, b"secret", FAST)
    assert ok and new_hash is not None and new_hash != old
    assert verify_password(new_hash, b"secret", FAST) == (True, None)


def test_unknown_user_still_costs_a_verification():
    hasher = PasswordHasher(time_cost=2, memory_cost=16384, parallelism=1)
    stored = hash_password(b"x", hasher)
    start = time.perf_counter()
    verify_password(stored, b"y", hasher)
    real = time.perf_counter() - start
    verify_password(None, b"y", hasher)  # builds the dummy hash once
    start = time.perf_counter()
    assert verify_password(None, b"y", hasher) == (False, None)
    dummy = time.perf_counter() - start
    assert dummy > real / 4


def test_passphrase_is_base64():
    assert decode_passphrase("YXNkZmFzZGY=") == b"asdfasdf"
    with pytest.raises(ValueError):
        decode_passphrase("not base64!")


def test_jwt_round_trip_and_rejections():
    token = create_access_token(
        KEY,
        user=USER,
        project_id="p1",
        role="member",
        is_project_admin=False,
        security_stamp="s",
        expires_in=60,
    )
    claims = decode_access_token(KEY, token)
    assert (claims.user_id, claims.project_id, claims.security_stamp) == ("asdf", "p1", "s")
    assert claims.expires_at - claims.issued_at == 60
    with pytest.raises(InvalidToken, match="invalid"):
        decode_access_token(b"x" * 32, token)
    expired = create_access_token(
        KEY,
        user=USER,
        project_id="p1",
        role="member",
        is_project_admin=False,
        security_stamp="s",
        expires_in=1,
        now=int(time.time()) - 100,
    )
    with pytest.raises(InvalidToken, match="expired"):
        decode_access_token(KEY, expired)


def test_api_tokens_store_only_a_hash():
    token, digest = new_api_token()
    assert token.startswith("hnm_") and digest == hash_api_token(token) and token not in digest
    assert new_api_token()[0] != token


def test_rate_limiter_windows(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'limits.db'}")
    upgrade(database)
    now = [1000.0]
    limiter = LoginRateLimiter(
        database, max_failures=3, max_failures_per_address=5, window=60, clock=lambda: now[0]
    )

    def wait(user_id: str, address: str) -> int | None:
        try:
            limiter.begin(user_id, address)
        except LoginThrottled as exc:
            return exc.retry_after
        return None

    for _ in range(3):
        assert wait("u1", "192.0.2.1") is None
    assert wait("u1", "192.0.2.1") == 60
    assert wait("u1", "192.0.2.2") is None  # other address
    assert wait("u2", "192.0.2.1") is None  # other user, same address
    assert wait("u3", "192.0.2.1") is None
    assert wait("u4", "192.0.2.1") == 60  # 5 attempts from this address
    now[0] += 30
    assert wait("u1", "192.0.2.1") == 30
    now[0] += 31
    assert wait("u1", "192.0.2.1") is None
    limiter.succeeded("u1", "192.0.2.1")
    assert wait("u1", "192.0.2.1") is None
    for _ in range(2):
        assert wait("u5", "2001:db8::1") is None
    assert wait("u5", "2001:db8::2") is None
    assert wait("u5", "2001:db8::3") == 60  # one /64
    assert wait("u5", "2001:db8:0:1::1") is None
    database.dispose()


def test_address_key():
    assert address_key("2001:db8::1") == "2001:db8::/64"
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key("192.0.2.1") == "192.0.2.1"
    assert address_key("testclient") == "testclient"


TRUSTED = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1"))


@pytest.mark.parametrize(
    ("peer", "header", "value", "expected"),
    [
        ("192.0.2.9", "x-forwarded-for", "1.2.3.4", "192.0.2.9"),  # untrusted peer
        ("10.0.0.1", "x-forwarded-for", "", "10.0.0.1"),
        ("10.0.0.1", "x-forwarded-for", "1.2.3.4, 192.0.2.5, 10.1.1.1", "192.0.2.5"),
        ("10.0.0.1", "x-forwarded-for", "10.2.2.2, 10.3.3.3", "10.2.2.2"),
        ("10.0.0.1", "x-forwarded-for", "1.2.3.4, unknown", "10.0.0.1"),
        ("10.0.0.1", "x-forwarded-for", "[2001:db8::7]:443", "2001:db8::7"),
        ("10.0.0.1", "x-forwarded-for", "192.0.2.5:1234", "192.0.2.5"),
        ("::1", "forwarded", 'for=1.2.3.4, for="[2001:db8::7]:80";proto=https', "2001:db8::7"),
        ("::1", "forwarded", "for=1.2.3.4;by=x, proto=http", "::1"),
        ("::1", "forwarded", "for=_hidden", "::1"),
    ],
)
def test_client_host(peer, header, value, expected):
    headers = [(header.encode(), value.encode()), (b"x-other", b"5.5.5.5")]
    assert client_host(peer, headers, TRUSTED, header) == expected


def test_only_the_configured_header_is_read():
    headers = [(b"forwarded", b"for=1.2.3.4"), (b"x-forwarded-for", b"192.0.2.5")]
    assert client_host("10.0.0.1", headers, TRUSTED, "x-forwarded-for") == "192.0.2.5"
    assert client_host("10.0.0.1", headers, TRUSTED, "forwarded") == "1.2.3.4"
    two_lines = [(b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-for", b"192.0.2.5, 10.0.0.2")]
    assert client_host("10.0.0.1", two_lines, TRUSTED, "x-forwarded-for") == "192.0.2.5"
