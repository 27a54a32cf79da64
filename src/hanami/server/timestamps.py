"""UTC timestamps as the API writes them (``YYYY-MM-DD HH:MM:SS``, no zone suffix)."""

from __future__ import annotations

from datetime import UTC, datetime

NOT_SET = "-"
"""Placeholder the API uses for a timestamp that is not set yet."""


def utcnow() -> datetime:
    """Return the current UTC time as a naive datetime (the form stored in the database)."""
    return datetime.now(UTC).replace(tzinfo=None)


def format_timestamp(value: datetime | None) -> str:
    """Format a stored (naive UTC) datetime for the API; ``None`` becomes ``-``."""
    if value is None:
        return NOT_SET
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S")
