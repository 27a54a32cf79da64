"""The measurement answers of the host endpoints (server-only shapes: the SDK reads the
series as :class:`hanami.protocol.models.TimeSeries`)."""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["PowerOut", "SpeedOut", "TemperatureOut", "TimeSeriesOut"]


class TimeSeriesOut(BaseModel):
    seconds: list[float]
    minutes: list[float]
    hours: list[float]
    days: list[float]


class PowerOut(BaseModel):
    power: TimeSeriesOut
    source: str


class SpeedOut(BaseModel):
    current_speed: TimeSeriesOut
    source: str


class TemperatureOut(BaseModel):
    temperature: TimeSeriesOut
    source: str
