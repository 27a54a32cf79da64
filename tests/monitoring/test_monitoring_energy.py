"""The energy policy against a temporary sysfs tree and this process's real threads."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sysfs_fakes import CPU, fake_cpufreq, fake_cpus, write

from hanami.server.observability.energy import OFF_REASON, EnergyPolicy
from hanami.server.observability.monitor import Monitor
from hanami.server.observability.reports import system_info_json
from hanami.server.observability.sampler import Sample
from hanami.server.observability.sensors import read_topology

ALLOWED = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
needs_two_cpus = pytest.mark.skipif(len(ALLOWED) < 2, reason="needs two usable CPUs")
BUSY = Sample(load=(90.0, 95.0))
IDLE = Sample(load=(3.0, 1.0))


def two_cores(root: Path, governors: str | None) -> None:
    """Two single-thread cores on the CPUs this process may use, each with cpufreq."""
    fake_cpus(root, {ALLOWED[0]: (0, 0), ALLOWED[1]: (0, 1)}, smt=0)
    for cpu in ALLOWED[:2]:
        fake_cpufreq(root, cpu, 2_000_000, lo=800_000, hi=4_000_000)
        write(root, CPU / f"cpu{cpu}/cpufreq/scaling_governor", "schedutil")
        if governors is not None:
            write(root, CPU / f"cpu{cpu}/cpufreq/scaling_available_governors", governors)


def cpufreq(root: Path, cpu: int, name: str) -> str:
    return (root / CPU / f"cpu{cpu}/cpufreq" / name).read_text().strip()


@pytest.fixture
def worker() -> Iterator[threading.Thread]:
    """A thread named like the task engine's workers, alive during the test."""
    release = threading.Event()
    thread = threading.Thread(target=release.wait, name="HanamiTask_0")
    thread.start()
    yield thread
    release.set()
    thread.join()


@needs_two_cpus
def test_governors_follow_the_load_and_are_restored(
    tmp_path: Path, worker: threading.Thread
) -> None:
    two_cores(tmp_path, "performance powersave schedutil")
    main_before = os.sched_getaffinity(0)
    policy = EnergyPolicy(True, root=tmp_path)
    policy.start(read_topology(tmp_path))
    service, workers = ALLOWED[0], ALLOWED[1]
    try:
        status = policy.status()
        assert status["pinning"] == {
            "active": True,
            "reason": None,
            "service_cpus": [service],
            "worker_cpus": [workers],
        }
        assert status["frequency"]["mode"] == "governor"
        assert status["frequency"]["cpus"] == [workers]  # the service core is left alone
        assert cpufreq(tmp_path, workers, "scaling_governor") == "powersave"
        assert cpufreq(tmp_path, service, "scaling_governor") == "schedutil"

        policy.observe(BUSY)
        assert policy.status()["state"] == "busy"
        assert cpufreq(tmp_path, workers, "scaling_governor") == "performance"
        assert os.sched_getaffinity(worker.native_id) == {workers}
        assert os.sched_getaffinity(threading.main_thread().native_id) == {service}

        policy.observe(IDLE)
        assert cpufreq(tmp_path, workers, "scaling_governor") == "powersave"
    finally:
        policy.stop()
    assert cpufreq(tmp_path, workers, "scaling_governor") == "schedutil"
    assert os.sched_getaffinity(0) == main_before
    assert os.sched_getaffinity(worker.native_id) == main_before


@needs_two_cpus
def test_without_governors_the_frequency_limit_moves(tmp_path: Path) -> None:
    two_cores(tmp_path, governors=None)
    workers = ALLOWED[1]
    with Monitor(lambda: BUSY, topology=read_topology(tmp_path), interval=60,
                 energy=EnergyPolicy(True, root=tmp_path)) as monitor:  # fmt: skip
        # start() went to idle, then its first sample (busy) raised the limit.
        assert cpufreq(tmp_path, workers, "scaling_max_freq") == "4000000"
        monitor.energy.observe(IDLE)
        assert cpufreq(tmp_path, workers, "scaling_max_freq") == "800000"
        energy = system_info_json(monitor.snapshot(), "h")["info"]["energy_policy"]
        assert energy["frequency"] == {
            "active": True,
            "reason": None,
            "mode": "max_freq",
            "cpus": [workers],
        }
    assert cpufreq(tmp_path, workers, "scaling_max_freq") == "3900000"  # as found


def test_without_cpufreq_it_says_why(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake_cpus(tmp_path, {0: (0, 0)})
    policy = EnergyPolicy(True, root=tmp_path)
    with caplog.at_level(logging.WARNING):
        policy.start(read_topology(tmp_path))
    status = policy.status()
    assert status["frequency"]["active"] is False
    assert "no cpufreq" in status["frequency"]["reason"]
    assert status["pinning"]["active"] is False
    assert "fewer than two physical cores" in status["pinning"]["reason"]
    assert "frequency control inactive: no cpufreq" in caplog.text
    policy.observe(BUSY)  # nothing to do, nothing breaks
    policy.stop()


def test_unwritable_cpufreq_is_reported(tmp_path: Path) -> None:
    fake_cpus(tmp_path, {0: (0, 0)})
    fake_cpufreq(tmp_path, 0, 2_000_000)
    # os.access says no for a file that is missing (tests run as root, who may write any).
    (tmp_path / CPU / "cpu0/cpufreq/scaling_max_freq").unlink()
    policy = EnergyPolicy(True, root=tmp_path)
    policy.start(read_topology(tmp_path))
    assert "scaling_max_freq is not writable" in policy.status()["frequency"]["reason"]


def test_off_by_default(tmp_path: Path) -> None:
    fake_cpus(tmp_path, {0: (0, 0), 1: (0, 1)})
    fake_cpufreq(tmp_path, 1, 2_000_000)
    policy = EnergyPolicy(root=tmp_path)
    policy.start(read_topology(tmp_path))
    policy.observe(BUSY)
    status = policy.status()
    assert status["enabled"] is False and status["state"] is None
    assert status["pinning"]["reason"] == status["frequency"]["reason"] == OFF_REASON
    assert not (tmp_path / CPU / "cpu1/cpufreq/scaling_governor").exists()
