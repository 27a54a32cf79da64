"""The measurement answers of the host endpoints (server-only shapes: the SDK reads the
series as :class:`hanami.protocol.models.TimeSeries`)."""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["MeasuredOut", "PowerOut", "SpeedOut", "TemperatureOut", "TimeSeriesOut"]


class TimeSeriesOut(BaseModel):
    seconds: list[float]
    minutes: list[float]
    hours: list[float]
    days: list[float]


class MeasuredOut(BaseModel):
    """What every series answer adds to the original's shape (see observability.reports)."""

    source: str
    reason: str | None
    filled: dict[str, int]


class PowerOut(MeasuredOut):
    power: TimeSeriesOut


class SpeedOut(MeasuredOut):
    current_speed: TimeSeriesOut


class TemperatureOut(MeasuredOut):
    temperature: TimeSeriesOut
