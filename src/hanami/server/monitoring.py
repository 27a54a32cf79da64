"""Host monitoring: power, temperature, CPU speed and load, CPU topology, thread affinity.

The original samples once per second in background threads and serves the values as
ring-buffer time series (spec section 7). We do the same in one thread, but read the
powercap sysfs interface instead of raw RAPL MSRs (no root, no ``msr`` module, AMD too)
and degrade to zeros where a source is missing. Every value says where it came from in a
``source`` string, ``"unavailable"`` when nothing could be read.

All sysfs reads take a ``root`` directory (``/`` in production) so the parsers can be
tested on a fake tree. The JSON builders are pure functions of a :class:`Snapshot`.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any

import psutil

__all__ = [
    "UNAVAILABLE",
    "CpuThread",
    "Frequency",
    "Monitor",
    "PackagePower",
    "RaplMeter",
    "Sample",
    "Sampler",
    "Snapshot",
    "TimeSeries",
    "Topology",
    "average_speed_mhz",
    "cpu_load_percent",
    "current_thread_map",
    "energy_delta_uj",
    "parse_cpu_list",
    "power_json",
    "psutil_frequencies",
    "psutil_package_temperature",
    "read_sysfs_frequencies",
    "read_thermal_zones",
    "read_topology",
    "speed_json",
    "system_info_json",
    "temperature_json",
    "threading_json",
]

logger = logging.getLogger(__name__)

UNAVAILABLE = "unavailable"

#: Samples above this are replaced by 0, as in the original: counters can jump after
#: resume from standby.
MAX_PLAUSIBLE_WATTS = 1_000_000.0

_CPU_DIR = Path("sys/devices/system/cpu")
_THERMAL_DIR = Path("sys/class/thermal")
_POWERCAP_DIR = Path("sys/class/powercap")
_RAPL_ZONE = re.compile(r"intel-rapl:(\d+)")
_RAPL_PACKAGE = re.compile(r"package-(\d+)")


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _read_int(path: Path) -> int | None:
    text = _read_text(path)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


# --------------------------------------------------------------------------- time series


class TimeSeries:
    """The original's cascade of ring buffers: 60 s, 60 min, 24 h, 365 days.

    Each level starts filled with zeros; whenever a level has received as many new values
    as it holds, their mean is pushed into the next level. Output is oldest first.
    """

    LEVELS: tuple[tuple[str, int], ...] = (
        ("seconds", 60),
        ("minutes", 60),
        ("hours", 24),
        ("days", 365),
    )

    def __init__(self) -> None:
        self._buffers = [deque([0.0] * size, maxlen=size) for _, size in self.LEVELS]
        self._pending = [0] * len(self.LEVELS)

    def add(self, value: float) -> None:
        """Append one per-second value, cascading averages into the coarser levels."""
        level = 0
        while True:
            buffer = self._buffers[level]
            buffer.append(float(value))
            self._pending[level] += 1
            if level + 1 == len(self._buffers) or self._pending[level] < buffer.maxlen:
                return
            self._pending[level] = 0
            value = fmean(buffer)
            level += 1

    def to_json(self) -> dict[str, list[float]]:
        """``{"seconds": [60], "minutes": [60], "hours": [24], "days": [365]}``."""
        return {name: list(buf) for (name, _), buf in zip(self.LEVELS, self._buffers, strict=True)}


# ---------------------------------------------------------------------------- topology


@dataclass(frozen=True, slots=True)
class CpuThread:
    """One hardware thread (logical CPU) and where it sits."""

    id: int
    core_id: int
    package_id: int


@dataclass(frozen=True, slots=True)
class Topology:
    """Packages, cores and hardware threads of the host."""

    threads: tuple[CpuThread, ...]
    has_hyperthreading: bool
    source: str

    def packages(self) -> dict[int, dict[int, list[int]]]:
        """``{package_id: {core_id: [thread ids]}}``, everything sorted by id."""
        grouped: dict[int, dict[int, list[int]]] = {}
        for thread in sorted(self.threads, key=lambda t: (t.package_id, t.core_id, t.id)):
            grouped.setdefault(thread.package_id, {}).setdefault(thread.core_id, []).append(
                thread.id
            )
        return grouped

    def first_threads(self) -> list[int]:
        """The first hardware thread of every physical core (the original's speed base)."""
        return [ids[0] for cores in self.packages().values() for ids in cores.values()]


def parse_cpu_list(text: str) -> list[int]:
    """Parse the kernel's CPU list format (``"0-3,8,10-11"``) into sorted ids."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return sorted(cpus)


def read_topology(root: Path = Path("/")) -> Topology:
    """Read the CPU topology from sysfs, or assume one core per thread from psutil.

    Threads come from ``cpu/present``; per thread ``topology/core_id`` and
    ``topology/physical_package_id``; hyperthreading from ``smt/active`` (or, without it,
    from whether any core has more than one thread).
    """
    cpu_dir = root / _CPU_DIR
    present = _read_text(cpu_dir / "present")
    if present is None:
        ids = sorted(int(p.name[3:]) for p in cpu_dir.glob("cpu[0-9]*") if p.name[3:].isdigit())
    else:
        ids = parse_cpu_list(present)
    if not ids:
        count = psutil.cpu_count(logical=True) or 1
        threads = tuple(CpuThread(i, i, 0) for i in range(count))
        return Topology(threads, has_hyperthreading=False, source="psutil")

    threads_list = []
    for cpu in ids:
        topo = cpu_dir / f"cpu{cpu}" / "topology"
        core_id = _read_int(topo / "core_id")
        package_id = _read_int(topo / "physical_package_id")
        # A thread without topology info (offline, or a bare VM) counts as its own core.
        threads_list.append(CpuThread(cpu, cpu if core_id is None else core_id, package_id or 0))
    smt = _read_int(cpu_dir / "smt" / "active")
    if smt is None:
        cores = {(t.package_id, t.core_id) for t in threads_list}
        smt = int(len(cores) < len(threads_list))
    return Topology(tuple(threads_list), has_hyperthreading=bool(smt), source="sysfs")


# -------------------------------------------------------------------------------- load


def _busy_and_total(times: Any) -> tuple[float, float]:
    # psutil's accounting: guest time is already inside user time, iowait counts as idle.
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    return total - times.idle - getattr(times, "iowait", 0.0), total


def cpu_load_percent(previous: Sequence[Any], current: Sequence[Any]) -> tuple[float, ...]:
    """Busy percentage per CPU between two ``psutil.cpu_times(percpu=True)`` readings."""
    loads = []
    for before, after in zip(previous, current, strict=False):
        busy0, total0 = _busy_and_total(before)
        busy1, total1 = _busy_and_total(after)
        elapsed = total1 - total0
        busy = 100.0 * (busy1 - busy0) / elapsed if elapsed > 0 else 0.0
        loads.append(min(100.0, max(0.0, busy)))
    return tuple(loads)


# --------------------------------------------------------------------------- frequency


@dataclass(frozen=True, slots=True)
class Frequency:
    """Frequencies of one hardware thread in kHz, as sysfs reports them (0 = unknown)."""

    current: int = 0
    minimum: int = 0
    maximum: int = 0
    current_minimum: int = 0
    current_maximum: int = 0


def read_sysfs_frequencies(root: Path, cpus: Iterable[int]) -> dict[int, Frequency] | None:
    """Per-thread frequencies from ``cpuN/cpufreq``; None when no thread has cpufreq."""
    cpu_dir = root / _CPU_DIR
    result: dict[int, Frequency] = {}
    found = False
    for cpu in cpus:
        freq_dir = cpu_dir / f"cpu{cpu}" / "cpufreq"
        current = _read_int(freq_dir / "scaling_cur_freq")
        found = found or current is not None
        result[cpu] = Frequency(
            current=current or 0,
            minimum=_read_int(freq_dir / "cpuinfo_min_freq") or 0,
            maximum=_read_int(freq_dir / "cpuinfo_max_freq") or 0,
            current_minimum=_read_int(freq_dir / "scaling_min_freq") or 0,
            current_maximum=_read_int(freq_dir / "scaling_max_freq") or 0,
        )
    return result if found else None


def psutil_frequencies(cpus: Sequence[int]) -> dict[int, Frequency] | None:
    """Per-thread frequencies from psutil (on Linux without cpufreq: ``/proc/cpuinfo``).

    psutil gives MHz and, in that fallback, only the current value. Its per-CPU list is in
    CPU order; a single entry applies to all threads. psutil's min/max are the scaling
    limits, so they fill ``current_minimum``/``current_maximum``.
    """
    try:
        freqs = psutil.cpu_freq(percpu=True)
    except (AttributeError, NotImplementedError, OSError):
        return None
    if not freqs:
        return None
    if len(freqs) != len(cpus):
        freqs = [freqs[0]] * len(cpus)
    return {
        cpu: Frequency(
            current=round(f.current * 1000),
            current_minimum=round(f.min * 1000),
            current_maximum=round(f.max * 1000),
        )
        for cpu, f in zip(cpus, freqs, strict=True)
    }


def average_speed_mhz(topology: Topology, frequencies: Mapping[int, Frequency]) -> float:
    """Mean current frequency in MHz over the first thread of each physical core."""
    values = [frequencies[cpu].current for cpu in topology.first_threads() if cpu in frequencies]
    return fmean(values) / 1000.0 if values else 0.0


# ------------------------------------------------------------------------- temperature


def read_thermal_zones(root: Path = Path("/")) -> list[float] | None:
    """°C of every ``thermal_zone*`` whose type is ``x86_pkg_temp``; None when there is none."""
    values = []
    for zone in sorted((root / _THERMAL_DIR).glob("thermal_zone*")):
        if _read_text(zone / "type") != "x86_pkg_temp":
            continue
        millidegrees = _read_int(zone / "temp")
        if millidegrees is not None:
            values.append(millidegrees / 1000.0)
    return values or None


def psutil_package_temperature() -> tuple[float, str] | None:
    """Mean package temperature from psutil's hwmon reading: Intel ``coretemp`` package
    sensors, else AMD ``k10temp`` Tctl. Returns (°C, source) or None."""
    read = getattr(psutil, "sensors_temperatures", None)
    if read is None:
        return None
    try:
        sensors = read()
    except OSError:
        return None
    wanted = {"coretemp": ("Package id",), "k10temp": ("Tctl", "Tdie")}
    for chip, prefixes in wanted.items():
        values = [
            entry.current for entry in sensors.get(chip, []) if entry.label.startswith(prefixes)
        ]
        if values:
            return fmean(values), f"psutil:{chip}"
    return None


# ------------------------------------------------------------------------------- power


@dataclass(frozen=True, slots=True)
class PackagePower:
    """Power of one CPU package in W and its thermal design power (0 = unknown)."""

    watts: float = 0.0
    thermal_spec: float = 0.0


def energy_delta_uj(previous: int, current: int, max_range: int) -> int:
    """Energy used between two counter reads, allowing for one wrap-around of the counter.

    The counter runs from 0 to ``max_energy_range_uj`` and then starts again at 0.
    """
    delta = current - previous
    if delta < 0:
        delta += max_range
    return delta


@dataclass(slots=True)
class _RaplZone:
    path: Path
    package_id: int
    max_range: int
    thermal_spec: float
    last_energy: int | None = None
    last_time: float = 0.0


class RaplMeter:
    """Package power from powercap RAPL (``/sys/class/powercap/intel-rapl:N``).

    Power is the energy counter's delta over the time since the previous read, so the
    first read (and every read after a failed one) gives 0. Sub-zones
    (``intel-rapl:N:M``: core, uncore, dram) are part of their package and skipped.
    Several dies of one package are added up.
    """

    def __init__(self, root: Path = Path("/")) -> None:
        self._zones: list[_RaplZone] = []
        for path in sorted((root / _POWERCAP_DIR).glob("intel-rapl:*")):
            match = _RAPL_ZONE.fullmatch(path.name)
            # energy_uj is root-only on kernels since 5.10 (CVE-2020-8694): skip then.
            if match is None or _read_int(path / "energy_uj") is None:
                continue
            name = _RAPL_PACKAGE.match(_read_text(path / "name") or "")
            package_id = int(name.group(1) if name else match.group(1))
            max_power_uw = _read_int(path / "constraint_0_max_power_uw") or 0
            self._zones.append(
                _RaplZone(
                    path=path,
                    package_id=package_id,
                    max_range=_read_int(path / "max_energy_range_uj") or 0,
                    thermal_spec=max_power_uw / 1e6,
                )
            )
        self.source = "sysfs:powercap" if self._zones else UNAVAILABLE

    def read(self, now: float | None = None) -> dict[int, PackagePower]:
        """Power per package id since the previous call (``now``: monotonic seconds)."""
        now = time.monotonic() if now is None else now
        packages: dict[int, PackagePower] = {}
        for zone in self._zones:
            energy = _read_int(zone.path / "energy_uj")
            watts = 0.0
            if energy is not None and zone.last_energy is not None and now > zone.last_time:
                delta = energy_delta_uj(zone.last_energy, energy, zone.max_range)
                watts = delta / 1e6 / (now - zone.last_time)
                if watts > MAX_PLAUSIBLE_WATTS:
                    watts = 0.0
            zone.last_energy, zone.last_time = energy, now
            before = packages.get(zone.package_id, PackagePower())
            packages[zone.package_id] = PackagePower(
                watts=before.watts + watts,
                thermal_spec=before.thermal_spec + zone.thermal_spec,
            )
        return packages


# ------------------------------------------------------------------------------ sample


@dataclass(frozen=True, slots=True)
class Sample:
    """Everything measured in one tick. Missing sources give zeros."""

    timestamp: float = 0.0
    #: Busy percentage per hardware thread, in psutil's order (online CPUs ascending).
    load: tuple[float, ...] = ()
    load_source: str = UNAVAILABLE
    frequencies: Mapping[int, Frequency] = field(default_factory=dict)
    speed_mhz: float = 0.0
    frequency_source: str = UNAVAILABLE
    temperature_c: float = 0.0
    temperature_source: str = UNAVAILABLE
    packages: Mapping[int, PackagePower] = field(default_factory=dict)
    power_w: float = 0.0
    power_source: str = UNAVAILABLE


class Sampler:
    """Takes one :class:`Sample` per call from sysfs under ``root``, falling back to psutil.

    It keeps the RAPL baseline and psutil's CPU-time baseline between calls, so it should
    be called at a steady rate by one thread.
    """

    def __init__(self, root: Path = Path("/")) -> None:
        self.root = root
        self.topology = read_topology(root)
        self._rapl = RaplMeter(root)
        # Own baseline rather than psutil.cpu_percent(), whose baseline is process-global.
        self._cpu_times = psutil.cpu_times(percpu=True)

    def __call__(self) -> Sample:
        cpus = [t.id for t in self.topology.threads]

        frequency_source = "sysfs:cpufreq"
        frequencies = read_sysfs_frequencies(self.root, cpus)
        if frequencies is None:
            frequency_source = "psutil"
            frequencies = psutil_frequencies(cpus)
        if frequencies is None:
            frequency_source, frequencies = UNAVAILABLE, {}

        temperature, temperature_source = 0.0, UNAVAILABLE
        zones = read_thermal_zones(self.root)
        if zones is not None:
            temperature, temperature_source = fmean(zones), "sysfs:thermal_zone"
        elif (reading := psutil_package_temperature()) is not None:
            temperature, temperature_source = reading

        packages = self._rapl.read()
        cpu_times, self._cpu_times = self._cpu_times, psutil.cpu_times(percpu=True)
        return Sample(
            timestamp=time.time(),
            load=cpu_load_percent(cpu_times, self._cpu_times),
            load_source="psutil",
            frequencies=frequencies,
            speed_mhz=average_speed_mhz(self.topology, frequencies),
            frequency_source=frequency_source,
            temperature_c=temperature,
            temperature_source=temperature_source,
            packages=packages,
            power_w=sum(p.watts for p in packages.values()),
            power_source=self._rapl.source,
        )


# ----------------------------------------------------------------------------- monitor


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A consistent copy of the monitor's state for the JSON builders."""

    topology: Topology
    latest: Sample
    power: dict[str, list[float]]
    temperature: dict[str, list[float]]
    speed: dict[str, list[float]]


class Monitor:
    """Samples in a background thread every ``interval`` seconds and keeps the series.

    ``start()`` takes the first sample synchronously, so a snapshot right after it has
    real values; ``stop()`` joins the thread. Usable as a context manager.
    """

    def __init__(
        self,
        sampler: Callable[[], Sample] | None = None,
        *,
        topology: Topology | None = None,
        interval: float = 1.0,
    ) -> None:
        sampler = sampler if sampler is not None else Sampler()
        if topology is None:
            topology = getattr(sampler, "topology", None) or read_topology()
        self.topology = topology
        self.interval = interval
        self._sampler = sampler
        self._lock = threading.Lock()
        self._latest = Sample()
        self._power = TimeSeries()
        self._temperature = TimeSeries()
        self._speed = TimeSeries()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the sampling thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Take one sample now, then keep sampling in a daemon thread."""
        if self.running:
            raise RuntimeError("Monitor is already running; call stop() first")
        self._stop.clear()
        self.sample_once()
        self._thread = threading.Thread(target=self._run, name="HanamiMonitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the sampling thread and wait for it to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("monitoring thread still in a read after %.1f s", timeout)
            self._thread = None

    def __enter__(self) -> Monitor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sample_once(self) -> Sample:
        """Take one sample and append it to the series."""
        sample = self._sampler()
        with self._lock:
            self._latest = sample
            self._power.add(sample.power_w)
            self._temperature.add(sample.temperature_c)
            self._speed.add(sample.speed_mhz)
        return sample

    def snapshot(self) -> Snapshot:
        """Copy the current state under the lock."""
        with self._lock:
            return Snapshot(
                topology=self.topology,
                latest=self._latest,
                power=self._power.to_json(),
                temperature=self._temperature.to_json(),
                speed=self._speed.to_json(),
            )

    def _run(self) -> None:
        # Ticks are scheduled on a fixed grid so that slow reads do not make them drift.
        next_tick = time.monotonic() + self.interval
        while not self._stop.wait(max(0.0, next_tick - time.monotonic())):
            next_tick += self.interval
            try:
                self.sample_once()
            except Exception:
                # A broken sensor must not silently end all monitoring.
                logger.exception("monitoring sample failed")


# -------------------------------------------------------------------------- JSON shapes


def power_json(snapshot: Snapshot) -> dict[str, Any]:
    """GET /power_consumption: ``{"power": TS, "source": str}`` (W)."""
    return {"power": snapshot.power, "source": snapshot.latest.power_source}


def speed_json(snapshot: Snapshot) -> dict[str, Any]:
    """GET /speed: ``{"current_speed": TS, "source": str}`` (MHz)."""
    return {"current_speed": snapshot.speed, "source": snapshot.latest.frequency_source}


def temperature_json(snapshot: Snapshot) -> dict[str, Any]:
    """GET /temperature_production: ``{"temperature": TS, "source": str}`` (°C)."""
    return {"temperature": snapshot.temperature, "source": snapshot.latest.temperature_source}


def system_info_json(snapshot: Snapshot, hostname: str) -> dict[str, Any]:
    """GET /system_info: the topology with speeds (kHz) and package power (W).

    Unlike the original this does not read RAPL itself, so it does not reset the power
    baseline (spec B14); it reports the latest sample.
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
