"""Hosts, measurements, system information and thread map (open to every member)."""

from __future__ import annotations

import pytest

SERIES = {"seconds": 60, "minutes": 60, "hours": 24, "days": 365}


def _series(value: dict) -> None:
    assert {key: len(value[key]) for key in SERIES} == SERIES
    assert all(isinstance(v, float) for key in SERIES for v in value[key])


def test_host_list(member):
    hosts = member.api.get("host/all")
    assert hosts.status_code == 200
    body = hosts.json()
    assert body["header"] == ["uuid", "type"]
    assert body["body"] and all(len(row[0]) == 36 and row[1] == "cpu" for row in body["body"])
    assert member.api.get("host/all").json() == body  # stable within one process


@pytest.mark.parametrize(
    ("path", "key"),
    [("power_consumption", "power"), ("speed", "current_speed"),
     ("temperature_production", "temperature")],
)  # fmt: skip
def test_time_series(member, path, key):
    response = member.api.get(path)
    assert response.status_code == 200, response.text
    body = response.json()
    _series(body[key])
    assert isinstance(body["source"], str)
    assert set(body["filled"]) == set(SERIES)
    if body["source"] == "unavailable":
        assert body["reason"] and set(body["filled"].values()) == {0}
    else:
        assert body["reason"] is None and body["filled"]["seconds"] >= 1


HOST_GAUGES = {
    "power_consumption": "hanami_host_package_power_watts",
    "speed": "hanami_host_cpu_frequency_hertz",
    "temperature_production": "hanami_host_package_temperature_celsius",
}


def test_prometheus_host_gauges_only_for_present_sensors(http, member):
    text = http.get("/metrics").text
    assert 'hanami_host_cpu_load_ratio{cpu="0"}' in text
    for path, gauge in HOST_GAUGES.items():
        present = member.api.get(path).json()["source"] != "unavailable"
        assert (f"\n{gauge}" in text) == present, gauge


def test_system_info(member):
    info = member.api.get("system_info").json()["info"]
    energy = info["energy_policy"]
    assert energy["enabled"] is False and "HANAMI_ENERGY_POLICY" in energy["pinning"]["reason"]
    assert isinstance(info["hostname"], str) and isinstance(info["has_hyperthreading"], bool)
    assert info["packages"]
    package = info["packages"][0]
    assert {"id", "thermal_spec", "power", "cores"} <= set(package)
    core = package["cores"][0]
    assert {"id", "minimum_speed", "maximum_speed", "current_minimum_speed",
            "current_maximum_speed", "current_speed", "threads"} <= set(core)  # fmt: skip
    assert all(set(thread) == {"id"} for thread in core["threads"])


def test_threading(member):
    thread_map = member.api.get("threading").json()["thread_map"]
    assert "HanamiMonitor" in thread_map and "ClusterAutosave" in thread_map
    assert all(isinstance(cpus, list) and cpus for cpus in thread_map.values())


def test_measurements_need_a_token(anonymous):
    for path in ("host/all", "power_consumption", "system_info", "threading"):
        assert anonymous.get(path).status_code == 401
    assert anonymous.get("system_info", extra="x").status_code == 401
