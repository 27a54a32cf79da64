"""Hosts, measurements and system information (global, open to every member).

Values come from the background :class:`~hanami.server.observability.monitor.Monitor` (one
sample per second). Time series are
``{"seconds": [60], "minutes": [60], "hours": [24], "days": [365]}``, oldest first; each
answer also names its ``source`` (``"unavailable"`` when the machine offers no such sensor,
the values are then zeros), the ``reason`` it is unavailable and how many values of each
level are ``filled`` with measurements.
"""

from __future__ import annotations

import socket
from typing import Any

from fastapi import APIRouter

from hanami.protocol import models as wire
from hanami.server.api.deps import ContextDep, CurrentUser, Payload
from hanami.server.api.inputs import NoInput, PayloadRoute
from hanami.server.api.schemas import Table, table
from hanami.server.api.schemas.hosts import (
    PowerOut,
    SpeedOut,
    TemperatureOut,
)
from hanami.server.observability.reports import (
    current_thread_map,
    power_json,
    speed_json,
    system_info_json,
    temperature_json,
    threading_json,
)

__all__ = ["router"]

router = APIRouter(tags=["host"], route_class=PayloadRoute)

HOST_LIST_HEADER = ("uuid", "type")


@router.get("/host/all", response_model=Table, summary="List hosts")
async def list_hosts(user: CurrentUser, data: Payload[NoInput], ctx: ContextDep) -> Any:
    """One ``cpu`` host per CPU package; uuids are new at every start (as the original).
    (``async``: the answer is in memory, so no worker thread.)"""
    return table(HOST_LIST_HEADER, ([host.uuid, host.type] for host in ctx.clusters.hosts))


@router.get("/power_consumption", response_model=PowerOut, summary="CPU power (W)")
def power_consumption(user: CurrentUser, data: Payload[NoInput], ctx: ContextDep) -> Any:
    return power_json(ctx.monitor.snapshot())


@router.get("/speed", response_model=SpeedOut, summary="CPU frequency (MHz)")
def speed(user: CurrentUser, data: Payload[NoInput], ctx: ContextDep) -> Any:
    return speed_json(ctx.monitor.snapshot())


@router.get(
    "/temperature_production", response_model=TemperatureOut, summary="CPU temperature (°C)"
)
def temperature_production(user: CurrentUser, data: Payload[NoInput], ctx: ContextDep) -> Any:
    return temperature_json(ctx.monitor.snapshot())


@router.get("/system_info", response_model=wire.SystemInfo, summary="CPU topology")
def system_info(user: CurrentUser, data: Payload[NoInput], ctx: ContextDep) -> Any:
    """Packages, cores, threads, speeds (kHz) and package power (W) of the latest sample.

    Extension: ``info.cpu_load`` = ``{"average", "per_cpu", "source"}``, the busy
    percentage of each hardware thread over the last sampling interval (dashboard chart).
    """
    snapshot = ctx.monitor.snapshot()
    body = system_info_json(snapshot, socket.gethostname())
    load = snapshot.latest.load
    body["info"]["cpu_load"] = {
        "average": round(sum(load) / len(load), 2) if load else 0.0,
        "per_cpu": [round(value, 2) for value in load],
        "source": snapshot.latest.load_source,
    }
    return body


@router.get("/threading", response_model=wire.ThreadMapping, summary="Thread-to-CPU map")
def threading_map(user: CurrentUser, data: Payload[NoInput]) -> Any:
    """The CPUs each thread of the service may run on, by thread name."""
    return threading_json(current_thread_map())
