"""UTC timestamps as the API writes them (``YYYY-MM-DD HH:MM:SS``, no zone suffix).

The original's clients read this text, so it stays the wire form; in Python the models of
:mod:`hanami.protocol.models` hold :class:`datetime` values (aware, UTC) through
:data:`Timestamp` and :data:`OptionalTimestamp`, which read and write that text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

__all__ = [
    "NOT_SET",
    "OptionalTimestamp",
    "Timestamp",
    "format_timestamp",
    "parse_timestamp",
    "utcnow",
]

NOT_SET = "-"
"""Placeholder the API uses for a timestamp that is not set yet."""
_FORMAT = "%Y-%m-%d %H:%M:%S"


def utcnow() -> datetime:
    """Return the current UTC time as a naive datetime (the form stored in the database)."""
    return datetime.now(UTC).replace(tzinfo=None)


def format_timestamp(value: datetime | None) -> str:
    """Format a (naive UTC or aware) datetime for the API; ``None`` becomes ``-``."""
    if value is None:
        return NOT_SET
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime(_FORMAT)


def parse_timestamp(value: Any) -> datetime | None:
    """The aware UTC datetime of an API timestamp; ``-`` and ``None`` are ``None``.

    A naive datetime is taken as UTC, as the database stores them; text in another ISO 8601
    form is accepted too (a zone in it is honoured), so a newer server may write more.
    """
    if value is None or value == NOT_SET:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"not a timestamp (YYYY-MM-DD HH:MM:SS): {value!r}") from exc
    if not isinstance(value, datetime):
        raise ValueError(f"not a timestamp: {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _required(value: Any) -> datetime:
    parsed = parse_timestamp(value)
    if parsed is None:
        raise ValueError("a timestamp is required here")
    return parsed


_WIRE = PlainSerializer(format_timestamp, return_type=str, when_used="json")

Timestamp = Annotated[datetime, BeforeValidator(_required), _WIRE]
"""A timestamp that is always set: ``datetime`` in Python, ``YYYY-MM-DD HH:MM:SS`` in JSON."""
OptionalTimestamp = Annotated[datetime | None, BeforeValidator(parse_timestamp), _WIRE]
"""A timestamp that may be unset: ``None`` in Python, ``-`` in JSON."""
