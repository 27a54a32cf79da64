"""Logs, hosts and measurements."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from hanami.protocol.models.base import Model
from hanami.protocol.timestamps import Timestamp

__all__ = ["AuditLogRow", "ErrorLogRow", "HostRow", "SystemInfo", "ThreadMapping", "TimeSeries"]


class AuditLogRow(Model):
    created_at: Timestamp
    user_id: str
    endpoint: str
    request_type: str


class ErrorLogRow(Model):
    created_at: Timestamp
    user_id: str
    component: str
    context: str
    input_values: Any = None
    message: str


class HostRow(Model):
    uuid: str
    type: str


class TimeSeries(Model):
    """A measurement ring buffer, oldest first: 60 s, 60 min, 24 h, 365 days.

    ``source`` (Hanami) names the sensor, ``"unavailable"`` when the values are zeros."""

    seconds: list[float] = Field(default_factory=list)
    minutes: list[float] = Field(default_factory=list)
    hours: list[float] = Field(default_factory=list)
    days: list[float] = Field(default_factory=list)
    source: str | None = None


class SystemInfo(Model):
    info: dict[str, Any]


class ThreadMapping(Model):
    thread_map: dict[str, list[int]]
