"""Value formats shared by the API, the bootstrap and the CLI (OpenHanami ``defines.h``)."""

from __future__ import annotations

__all__ = [
    "BASE64_RE",
    "ID_EXT_RE",
    "ID_RE",
    "MIN_PASSPHRASE_LENGTH",
    "NAME_RE",
    "NEW_PASSPHRASE_RE",
    "UUID_RE",
]

UUID_RE = r"[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}"
ID_RE = r"[a-zA-Z][a-zA-Z_0-9]*"
"""Project ids and role names."""
ID_EXT_RE = r"[a-zA-Z][a-zA-Z_0-9@]*"
"""User ids (may contain ``@``)."""
NAME_RE = r"[a-zA-Z][a-zA-Z_0-9\- ]*"
"""Display names: letters, digits, ``_``, ``-`` and space."""
BASE64_RE = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"

MIN_PASSPHRASE_LENGTH = 8
"""Minimum length of the *decoded* passphrase (the original checked the base64 text)."""
NEW_PASSPHRASE_RE = (
    r"[A-Za-z0-9+/]{8}(?:[A-Za-z0-9+/]{3}="
    r"|[A-Za-z0-9+/]{4}(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)"
)
"""Base64 of at least :data:`MIN_PASSPHRASE_LENGTH` bytes: 12 characters with at most one
``=`` (8 or 9 bytes), or more."""
