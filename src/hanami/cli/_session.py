"""Tokens kept between commands: the login saved by ``hanami login`` (config folder) and the
token cache that lets environment credentials log in once per token lifetime (cache folder).

This is the only CLI module that reads JWT claims.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import typer

from hanami.cli._errors import CliError
from hanami.sdk import token_claims, token_project

__all__ = [
    "ENV_TOKEN_CACHE",
    "TokenCache",
    "delete_login",
    "load_login",
    "save_login",
    "token_file",
    "token_summary",
]

TOKEN_FILE = "token.json"
ENV_TOKEN_CACHE = "HANAMI_TOKEN_CACHE"
MIN_VALIDITY = 60.0
"""A cached token that expires sooner is not used: a fresh login is cheaper than a renewal
that could fail half-way through a command."""


def token_summary(token: str) -> dict[str, Any]:
    """``user``, ``project_id`` and ``expires_at`` (Unix time) of a JWT, read unverified;
    empty for API tokens and anything else that is not a JWT."""
    claims = token_claims(token)
    if not claims:
        return {}
    return {
        "user": claims.get("sub"),
        "project_id": token_project(claims),
        "expires_at": claims.get("exp"),
    }


def _write_private(path: Path, data: Any) -> None:
    """Write JSON atomically with mode 0600 (folder 0700): the file holds bearer tokens."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def _read_json(path: Path, what: str, hint: str = "") -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {what} {path}: {exc}{hint}") from exc


# ------------------------------------------------------------------------------ saved login


def config_dir() -> Path:
    """``$HANAMI_CONFIG_DIR``, else the platform config folder (``$XDG_CONFIG_HOME/hanami``)."""
    override = os.environ.get("HANAMI_CONFIG_DIR")
    return Path(override) if override else Path(typer.get_app_dir("hanami"))


def token_file() -> Path:
    return config_dir() / TOKEN_FILE


def load_login() -> dict[str, Any] | None:
    data = _read_json(token_file(), "the saved login", "; run 'hanami login'")
    return data if isinstance(data, dict) and isinstance(data.get("token"), str) else None


def save_login(address: str, user: str | None, token: str) -> Path:
    """Save the login of ``hanami login`` (and its renewals) for the next commands."""
    path = token_file()
    summary = token_summary(token)
    data = {
        "address": address,
        "user": user or summary.get("user"),
        "project_id": summary.get("project_id"),
        "expires_at": summary.get("expires_at"),
        "token": token,
    }
    _write_private(path, data)
    return path


def delete_login() -> bool:
    try:
        token_file().unlink()
    except FileNotFoundError:
        return False
    return True


# ------------------------------------------------------------------------------ token cache


def _cache_file() -> Path:
    """``$HANAMI_TOKEN_CACHE``, else ``$XDG_CACHE_HOME/hanami/tokens.json``."""
    override = os.environ.get(ENV_TOKEN_CACHE)
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hanami" / "tokens.json"


def _expires_at(entry: Any) -> float:
    """The expiry of a usable cache entry; 0 for anything else."""
    if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
        return 0.0
    expires = entry.get("expires_at")
    return float(expires) if isinstance(expires, int | float) else 0.0


class TokenCache:
    """Tokens of environment credentials, one per server address and user."""

    def __init__(self, address: str) -> None:
        self.address = address.rstrip("/")
        self.path = _cache_file()

    def _entries(self) -> dict[str, Any]:
        data = _read_json(self.path, "the token cache", f"; delete it or set {ENV_TOKEN_CACHE}")
        return data if isinstance(data, dict) else {}

    def _key(self, user: str) -> str:
        return f"{user}@{self.address}"

    def load(self, user: str) -> str | None:
        """The cached token of ``user``, unless it expires within a minute."""
        entry = self._entries().get(self._key(user))
        if _expires_at(entry) - time.time() < MIN_VALIDITY:
            return None
        return entry["token"]

    def store(self, user: str, token: str) -> None:
        """Keep ``token`` for ``user`` (and drop the entries that have expired)."""
        now = time.time()
        entries = {k: e for k, e in self._entries().items() if _expires_at(e) > now}
        entries[self._key(user)] = {
            "token": token,
            "expires_at": token_summary(token).get("expires_at"),
        }
        _write_private(self.path, entries)

    def forget(self, user: str) -> None:
        entries = self._entries()
        if entries.pop(self._key(user), None) is not None:
            _write_private(self.path, entries)
