"""Host sensors read from sysfs, with psutil as the fallback: CPU topology, load, frequency,
package temperature.

The original reads the same files (spec section 7); where one is missing we fall back to
psutil, and a caller that finds neither reports the sensor as absent rather than as zeros.
Every reader takes a ``root`` directory (``/`` in production) so the parsers can be tested on
a fake tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import Any

import psutil

__all__ = [
    "UNAVAILABLE",
    "CpuThread",
    "Frequency",
    "Topology",
    "average_speed_mhz",
    "cpu_load_percent",
    "parse_cpu_list",
    "psutil_frequencies",
    "psutil_package_temperature",
    "read_int",
    "read_sysfs_frequencies",
    "read_text",
    "read_thermal_zones",
    "read_topology",
]

#: The ``source`` of a sensor that this machine lacks.
UNAVAILABLE = "unavailable"

CPU_DIR = Path("sys/devices/system/cpu")
_THERMAL_DIR = Path("sys/class/thermal")


def read_text(path: Path) -> str | None:
    """A sysfs file's stripped text; None where it is missing or unreadable (not root)."""
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def read_int(path: Path) -> int | None:
    """A sysfs file's integer; None where it is missing, unreadable or not a number."""
    text = read_text(path)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


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
    cpu_dir = root / CPU_DIR
    present = read_text(cpu_dir / "present")
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
        core_id = read_int(topo / "core_id")
        package_id = read_int(topo / "physical_package_id")
        # A thread without topology info (offline, or a bare VM) counts as its own core.
        threads_list.append(CpuThread(cpu, cpu if core_id is None else core_id, package_id or 0))
    smt = read_int(cpu_dir / "smt" / "active")
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
    cpu_dir = root / CPU_DIR
    result: dict[int, Frequency] = {}
    found = False
    for cpu in cpus:
        freq_dir = cpu_dir / f"cpu{cpu}" / "cpufreq"
        current = read_int(freq_dir / "scaling_cur_freq")
        found = found or current is not None
        result[cpu] = Frequency(
            current=current or 0,
            minimum=read_int(freq_dir / "cpuinfo_min_freq") or 0,
            maximum=read_int(freq_dir / "cpuinfo_max_freq") or 0,
            current_minimum=read_int(freq_dir / "scaling_min_freq") or 0,
            current_maximum=read_int(freq_dir / "scaling_max_freq") or 0,
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
        if read_text(zone / "type") != "x86_pkg_temp":
            continue
        millidegrees = read_int(zone / "temp")
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
