"""Password hashing, JWT round trip, API-token hashing, login rate limiter."""

from __future__ import annotations

import time

import pytest
from argon2 import PasswordHasher

from hanami.server.ratelimit import LoginRateLimiter
from hanami.server.security import (
    InvalidToken,
    create_access_token,
    decode_access_token,
    decode_passphrase,
    hash_api_token,
    hash_password,
    new_api_token,
    verify_password,
)

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


def test_rate_limiter_windows():
    now = [0.0]
    limiter = LoginRateLimiter(
        max_failures=3, max_failures_per_address=5, window=60, clock=lambda: now[0]
    )
    for _ in range(3):
        assert limiter.retry_after("u1", "a") is None
        limiter.record_failure("u1", "a")
    assert limiter.retry_after("u1", "a") == 60
    assert limiter.retry_after("u1", "b") is None  # other address
    assert limiter.retry_after("u2", "a") is None  # other user, same address
    limiter.record_failure("u2", "a")
    limiter.record_failure("u3", "a")
    assert limiter.retry_after("u4", "a") == 60  # 5 failures from this address
    now[0] = 30.0
    assert limiter.retry_after("u1", "a") == 30
    now[0] = 61.0
    assert limiter.retry_after("u1", "a") is None
    limiter.record_failure("u1", "a")
    limiter.reset("u1", "a")
    assert limiter.retry_after("u1", "a") is None
