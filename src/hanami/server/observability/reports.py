"""The JSON answers of the host endpoints, built from a monitor :class:`Snapshot`.

They keep the original's shapes (spec sections 2.2 and 7) and add, for each time series,
``source`` (the sensor, ``"unavailable"`` when this machine has none), ``reason`` (why it
is unavailable, else null) and ``filled`` (how many of the newest values of each level are
measurements; the rest is the original's zero padding).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hanami.server.observability.monitor import Snapshot
from hanami.server.observability.power import PackagePower
from hanami.server.observability.sensors import UNAVAILABLE, Frequency

__all__ = [
    "NOT_SAMPLED",
    "current_thread_map",
    "power_json",
    "speed_json",
    "system_info_json",
    "temperature_json",
    "threading_json",
]

NOT_SAMPLED = "not sampled yet"


def _series_json(snapshot: Snapshot, kind: str, key: str, source: str) -> dict[str, Any]:
    reason = None
    if source == UNAVAILABLE:
        reason = snapshot.latest.reasons.get(kind, NOT_SAMPLED)
    return {
        key: getattr(snapshot, kind),
        "source": source,
        "reason": reason,
        "filled": snapshot.filled.get(kind, {}),
    }


def power_json(snapshot: Snapshot) -> dict[str, Any]:
    """GET /power_consumption: ``{"power": TS, "source", "reason", "filled"}`` (W)."""
    return _series_json(snapshot, "power", "power", snapshot.latest.power_source)


def speed_json(snapshot: Snapshot) -> dict[str, Any]:
    """GET /speed: ``{"current_speed": TS, "source", "reason", "filled"}`` (MHz)."""
    return _series_json(snapshot, "speed", "current_speed", snapshot.latest.frequency_source)


def temperature_json(snapshot: Snapshot) -> dict[str, Any]:
    """GET /temperature_production: ``{"temperature": TS, "source", "reason", "filled"}``."""
    latest = snapshot.latest
    return _series_json(snapshot, "temperature", "temperature", latest.temperature_source)


def system_info_json(snapshot: Snapshot, hostname: str) -> dict[str, Any]:
    """GET /system_info: the topology with speeds (kHz) and package power (W).

    Unlike the original this does not read RAPL itself, so it does not reset the power
    baseline (spec B14); it reports the latest sample. Extension: ``energy_policy``, what
    the energy policy does and why a part of it is inactive.
    """
    sample = snapshot.latest
    packages = []
    for package_id, cores in snapshot.topology.packages().items():
        power = sample.packages.get(package_id, PackagePower())
        core_list = []
        for core_id, thread_ids in cores.items():
            freq = sample.frequencies.get(thread_ids[0], Frequency())
            core_list.append(
                {
                    "id": core_id,
                    "minimum_speed": freq.minimum,
                    "maximum_speed": freq.maximum,
                    "current_minimum_speed": freq.current_minimum,
                    "current_maximum_speed": freq.current_maximum,
                    "current_speed": freq.current,
                    "threads": [{"id": thread_id} for thread_id in thread_ids],
                }
            )
        packages.append(
            {
                "id": package_id,
                "thermal_spec": power.thermal_spec,
                "power": power.watts,
                "cores": core_list,
            }
        )
    return {
        "info": {
            "hostname": hostname,
            "has_hyperthreading": snapshot.topology.has_hyperthreading,
            "packages": packages,
            "sources": {
                "topology": snapshot.topology.source,
                "frequency": sample.frequency_source,
                "power": sample.power_source,
            },
            "energy_policy": snapshot.energy,
        }
    }


def current_thread_map(
    threads: Iterable[threading.Thread] | None = None,
) -> dict[str, list[int]]:
    """The CPUs each live Python thread may run on, keyed by thread name.

    Linux accepts a thread id for ``sched_getaffinity``; elsewhere every thread gets all
    CPUs. Duplicate names get ``_<native id>`` appended so no thread is hidden.
    """
    all_cpus = list(range(os.cpu_count() or 1))
    result: dict[str, list[int]] = {}
    for thread in threading.enumerate() if threads is None else threads:
        tid = thread.native_id
        if tid is None:  # not started
            continue
        if hasattr(os, "sched_getaffinity"):
            try:
                cpus = sorted(os.sched_getaffinity(tid))
            except OSError:  # the thread ended meanwhile
                continue
        else:
            cpus = all_cpus
        name = thread.name if thread.name not in result else f"{thread.name}_{tid}"
        result[name] = cpus
    return result


def threading_json(thread_map: Mapping[str, Sequence[int]]) -> dict[str, Any]:
    """GET /threading: ``{"thread_map": {thread name: [cpu ids]}}``."""
    return {"thread_map": {name: list(cpus) for name, cpus in thread_map.items()}}
