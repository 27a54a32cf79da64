"""TimeSeries, the Monitor thread, and the JSON shapes of the monitoring endpoints."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import psutil
import pytest

from hanami.server.observability.energy import EnergyPolicy
from hanami.server.observability.monitor import Monitor, Snapshot
from hanami.server.observability.power import PackagePower
from hanami.server.observability.reports import (
    NOT_SAMPLED,
    current_thread_map,
    power_json,
    speed_json,
    system_info_json,
    temperature_json,
    threading_json,
)
from hanami.server.observability.sampler import Sample, Sampler
from hanami.server.observability.sensors import UNAVAILABLE, CpuThread, Frequency, Topology
from hanami.server.observability.series import TimeSeries

LENGTHS = {"seconds": 60, "minutes": 60, "hours": 24, "days": 365}


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def test_time_series_starts_with_zeros() -> None:
    series = TimeSeries().to_json()
    assert {name: len(values) for name, values in series.items()} == LENGTHS
    assert all(v == 0.0 for values in series.values() for v in values)


def test_time_series_is_oldest_first_and_cascades_means() -> None:
    series = TimeSeries()
    for value in range(1, 61):
        series.add(value)
    out = series.to_json()
    assert out["seconds"] == [float(v) for v in range(1, 61)]
    assert out["minutes"][-1] == pytest.approx(30.5)
    assert out["minutes"][:-1] == [0.0] * 59
    series.add(100)
    assert series.to_json()["seconds"][-2:] == [60.0, 100.0]
    assert series.to_json()["minutes"][-1] == pytest.approx(30.5)  # not a full minute yet


def test_time_series_reaches_hours_and_days() -> None:
    series = TimeSeries()
    for _ in range(24 * 3600):
        series.add(2.0)
    out = series.to_json()
    assert out["minutes"] == [2.0] * 60
    assert out["hours"] == [2.0] * 24
    assert out["days"] == [0.0] * 364 + [2.0]


class CountingSampler:
    """Returns numbered samples; can be told to fail once."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail_next = False

    def __call__(self) -> Sample:
        self.calls += 1
        if self.fail_next:
            self.fail_next = False
            raise OSError("sensor gone")
        return Sample(power_w=float(self.calls), power_source="test")


TOPOLOGY = Topology(
    threads=(CpuThread(0, 0, 0), CpuThread(1, 1, 0), CpuThread(2, 0, 0), CpuThread(3, 1, 0)),
    has_hyperthreading=True,
    source="sysfs",
)


def test_monitor_start_samples_at_once_and_stop_joins() -> None:
    sampler = CountingSampler()
    before = set(threading.enumerate())
    monitor = Monitor(sampler, topology=TOPOLOGY, interval=0.01)
    assert monitor.snapshot().latest == Sample()
    monitor.start()
    try:
        assert sampler.calls >= 1
        assert monitor.snapshot().latest.power_source == "test"
        wait_for(lambda: sampler.calls >= 4)
        with pytest.raises(RuntimeError, match="already running"):
            monitor.start()
    finally:
        monitor.stop()
    assert not monitor.running
    assert set(threading.enumerate()) == before
    calls = sampler.calls
    time.sleep(0.05)
    assert sampler.calls == calls
    seconds = monitor.snapshot().power["seconds"]
    assert seconds[-calls:] == [float(i) for i in range(1, calls + 1)]


def test_monitor_restarts_and_works_as_context_manager() -> None:
    sampler = CountingSampler()
    monitor = Monitor(sampler, topology=TOPOLOGY, interval=0.01)
    with monitor:
        wait_for(lambda: sampler.calls >= 2)
    assert not monitor.running
    with monitor:
        assert monitor.running
    assert not monitor.running


def test_monitor_survives_a_failing_sample(caplog: pytest.LogCaptureFixture) -> None:
    sampler = CountingSampler()
    with Monitor(sampler, topology=TOPOLOGY, interval=0.01) as monitor:
        sampler.fail_next = True
        wait_for(lambda: sampler.calls >= 4)
        assert monitor.running
    assert "monitoring sample failed" in caplog.text


def snapshot_with(sample: Sample) -> Snapshot:
    monitor = Monitor(lambda: sample, topology=TOPOLOGY)
    monitor.sample_once()
    return monitor.snapshot()


def test_measurement_json_shapes() -> None:
    snap = snapshot_with(
        Sample(
            speed_mhz=2400.0,
            frequency_source="sysfs:cpufreq",
            temperature_c=50.0,
            temperature_source="sysfs:thermal_zone",
            power_w=30.0,
            power_source="sysfs:powercap",
        )
    )
    for build, key, source, last in [
        (power_json, "power", "sysfs:powercap", 30.0),
        (speed_json, "current_speed", "sysfs:cpufreq", 2400.0),
        (temperature_json, "temperature", "sysfs:thermal_zone", 50.0),
    ]:
        body = build(snap)
        assert set(body) == {key, "source", "reason", "filled"}
        assert (body["source"], body["reason"]) == (source, None)
        assert body["filled"] == {"seconds": 1, "minutes": 0, "hours": 0, "days": 0}
        assert {name: len(values) for name, values in body[key].items()} == LENGTHS
        assert body[key]["seconds"][-1] == last


def test_absent_sensor_names_its_reason_and_fills_nothing() -> None:
    snap = snapshot_with(
        Sample(
            speed_mhz=2400.0,
            frequency_source="psutil",
            reasons={"power": "no RAPL zone", "temperature": "no sensor"},
        )
    )
    power, temperature = power_json(snap), temperature_json(snap)
    assert (power["source"], power["reason"]) == (UNAVAILABLE, "no RAPL zone")
    assert (temperature["source"], temperature["reason"]) == (UNAVAILABLE, "no sensor")
    for body in (power, temperature):
        assert set(body["filled"].values()) == {0}
    assert speed_json(snap)["filled"]["seconds"] == 1
    unsampled = Monitor(lambda: Sample(), topology=TOPOLOGY).snapshot()
    assert power_json(unsampled)["reason"] == NOT_SAMPLED


def test_time_series_counts_filled_values_per_level() -> None:
    series = TimeSeries()
    assert set(series.filled().values()) == {0}
    for value in range(1, 11):
        series.add(value)
    assert series.filled() == {"seconds": 10, "minutes": 0, "hours": 0, "days": 0}
    for _ in range(130):
        series.add(1.0)
    assert series.filled() == {"seconds": 60, "minutes": 2, "hours": 0, "days": 0}


def test_system_info_json() -> None:
    freq = Frequency(2_000_000, 800_000, 4_000_000, 900_000, 3_900_000)
    snap = snapshot_with(
        Sample(
            frequencies={0: freq, 1: Frequency(current=1_000_000), 2: Frequency(), 3: Frequency()},
            frequency_source="sysfs:cpufreq",
            packages={0: PackagePower(watts=12.5, thermal_spec=65.0)},
            power_source="sysfs:powercap",
        )
    )
    assert system_info_json(snap, "node-1") == {
        "info": {
            "hostname": "node-1",
            "has_hyperthreading": True,
            "packages": [
                {
                    "id": 0,
                    "thermal_spec": 65.0,
                    "power": 12.5,
                    "cores": [
                        {
                            "id": 0,
                            "minimum_speed": 800_000,
                            "maximum_speed": 4_000_000,
                            "current_minimum_speed": 900_000,
                            "current_maximum_speed": 3_900_000,
                            "current_speed": 2_000_000,
                            "threads": [{"id": 0}, {"id": 2}],
                        },
                        {
                            "id": 1,
                            "minimum_speed": 0,
                            "maximum_speed": 0,
                            "current_minimum_speed": 0,
                            "current_maximum_speed": 0,
                            "current_speed": 1_000_000,
                            "threads": [{"id": 1}, {"id": 3}],
                        },
                    ],
                }
            ],
            "sources": {
                "topology": "sysfs",
                "frequency": "sysfs:cpufreq",
                "power": "sysfs:powercap",
            },
            "energy_policy": EnergyPolicy().status(),
        }
    }


def test_system_info_without_power_or_frequency() -> None:
    info = system_info_json(snapshot_with(Sample()), "h")["info"]
    assert info["packages"][0]["power"] == 0.0
    assert info["packages"][0]["thermal_spec"] == 0.0
    assert info["packages"][0]["cores"][0]["current_speed"] == 0
    assert info["sources"] == {"topology": "sysfs", "frequency": UNAVAILABLE, "power": UNAVAILABLE}


def test_thread_map_reports_affinity_of_live_threads() -> None:
    release = threading.Event()
    workers = [threading.Thread(target=release.wait, name="Worker") for _ in range(2)]
    not_started = threading.Thread(target=release.wait, name="Idle")
    for worker in workers:
        worker.start()
    try:
        mapping = current_thread_map([threading.main_thread(), *workers, not_started])
    finally:
        release.set()
        for worker in workers:
            worker.join()
    expected_cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    assert list(mapping) == ["MainThread", "Worker", f"Worker_{workers[1].native_id}"]
    if expected_cpus is not None:
        assert all(cpus == expected_cpus for cpus in mapping.values())
    assert threading_json(mapping) == {"thread_map": mapping}


def test_real_machine_shapes_and_sources() -> None:
    """Whatever this host offers: the shapes hold and each value names its source."""
    with Monitor(Sampler(), interval=0.05) as monitor:
        time.sleep(0.12)
        snap = monitor.snapshot()
    assert power_json(snap)["source"] in {"sysfs:powercap", UNAVAILABLE}
    assert speed_json(snap)["source"] in {"sysfs:cpufreq", "psutil", UNAVAILABLE}
    assert temperature_json(snap)["source"] in {
        "sysfs:thermal_zone",
        "psutil:coretemp",
        "psutil:k10temp",
        UNAVAILABLE,
    }
    for body, key in [
        (power_json(snap), "power"),
        (speed_json(snap), "current_speed"),
        (temperature_json(snap), "temperature"),
    ]:
        assert {name: len(values) for name, values in body[key].items()} == LENGTHS
        if body["source"] == UNAVAILABLE:
            assert set(body[key]["seconds"]) == {0.0}
            assert body["filled"]["seconds"] == 0 and body["reason"]
        else:
            assert body["filled"]["seconds"] >= 2 and body["reason"] is None
    assert len(snap.latest.load) == len(psutil.cpu_times(percpu=True))  # online CPUs
    assert snap.latest.load_source == "psutil"
    assert all(0.0 <= value <= 100.0 for value in snap.latest.load)

    info = system_info_json(snap, "host")["info"]
    threads = [t["id"] for p in info["packages"] for c in p["cores"] for t in c["threads"]]
    assert sorted(threads) == sorted(t.id for t in snap.topology.threads)
    assert info["sources"]["topology"] in {"sysfs", "psutil"}
    assert "HanamiMonitor" not in current_thread_map()
