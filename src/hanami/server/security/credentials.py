"""Passphrases (argon2id), access tokens (JWT HS256) and long-lived API tokens.

Clients send passphrases base64-encoded (as the original did); :func:`decode_passphrase`
turns them back into bytes, and only those bytes are hashed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "API_TOKEN_PREFIX",
    "JWT_ALGORITHM",
    "JWT_ISSUER",
    "AccessClaims",
    "InvalidToken",
    "create_access_token",
    "decode_access_token",
    "decode_passphrase",
    "hash_api_token",
    "hash_password",
    "new_api_token",
    "new_security_stamp",
    "verify_password",
]

JWT_ALGORITHM = "HS256"
JWT_ISSUER = "hanami"
API_TOKEN_PREFIX = "hnm_"

_HASHER = PasswordHasher()  # argon2id with the RFC 9106 "low memory" parameters


class InvalidToken(Exception):
    """A token that is malformed, forged, expired or lacks required claims."""


def decode_passphrase(encoded: str) -> bytes:
    """Decode the base64 passphrase a client sent; raises ``ValueError`` if it is not base64."""
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("passphrase is not a valid base64 string") from exc


def hash_password(passphrase: bytes | str, hasher: PasswordHasher = _HASHER) -> str:
    return hasher.hash(passphrase)


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_bytes(16))


def verify_password(
    stored_hash: str | None, passphrase: bytes | str, hasher: PasswordHasher = _HASHER
) -> tuple[bool, str | None]:
    """Check a passphrase; returns ``(ok, new_hash)``.

    ``new_hash`` is set when the stored hash used other parameters than ``hasher`` and should
    be replaced. With ``stored_hash=None`` (unknown user) a dummy hash is verified so that
    the answer takes as long as for a real user.
    """
    if stored_hash is None:
        with contextlib.suppress(VerificationError):
            hasher.verify(_dummy_hash(hasher), passphrase)
        return False, None
    try:
        hasher.verify(stored_hash, passphrase)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    if hasher.check_needs_rehash(stored_hash):
        return True, hasher.hash(passphrase)
    return True, None


def new_security_stamp() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says (the database still has the last word)."""

    user_id: str
    project_id: str
    security_stamp: str
    issued_at: int
    expires_at: int


def create_access_token(
    key: bytes,
    *,
    user: dict[str, Any],
    project_id: str,
    role: str,
    is_project_admin: bool,
    security_stamp: str,
    expires_in: int,
    now: int | None = None,
) -> str:
    """Sign a JWT for ``user`` (a dict with ``id``, ``name``, ``is_admin``, ``creator_id``,
    ``created_at``) scoped to ``project_id``.

    Standard claims ``iss``, ``sub``, ``iat``, ``exp``, ``jti`` plus ``pid``, ``role``,
    ``adm``, ``padm``, ``stamp``, and the original's ``user`` claim (a JSON *string*).
    """
    issued = int(time.time()) if now is None else now
    context = {
        "id": user["id"],
        "name": user["name"],
        "is_admin": user["is_admin"],
        "creator_id": user["creator_id"],
        "created_at": user["created_at"],
        "project_id": project_id,
        "role": role,
        "is_project_admin": is_project_admin,
    }
    payload = {
        "iss": JWT_ISSUER,
        "sub": user["id"],
        "iat": issued,
        "exp": issued + expires_in,
        "jti": uuid.uuid4().hex,
        "pid": project_id,
        "role": role,
        "adm": bool(user["is_admin"]),
        "padm": is_project_admin,
        "stamp": security_stamp,
        "user": json.dumps(context, separators=(",", ":")),
    }
    return jwt.encode(payload, key, algorithm=JWT_ALGORITHM)


def decode_access_token(key: bytes, token: str) -> AccessClaims:
    """Verify signature, issuer, ``exp`` and required claims; raises :class:`InvalidToken`."""
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[JWT_ALGORITHM],
            issuer=JWT_ISSUER,
            options={"require": ["exp", "iat", "sub", "pid", "stamp"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"token is invalid ({exc})") from exc
    if not all(isinstance(payload[k], str) for k in ("sub", "pid", "stamp")):
        raise InvalidToken("token is invalid (malformed claims)")
    return AccessClaims(
        user_id=payload["sub"],
        project_id=payload["pid"],
        security_stamp=payload["stamp"],
        issued_at=int(payload["iat"]),
        expires_at=int(payload["exp"]),
    )


def new_api_token() -> tuple[str, str]:
    """Return ``(token, sha256_hex)``; only the hash is stored."""
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_api_token(token)


def hash_api_token(token: str) -> str:
    """API tokens carry 256 random bits, so a plain SHA-256 is a safe lookup key."""
    return hashlib.sha256(token.encode()).hexdigest()
