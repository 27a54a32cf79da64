"""CPU package power from the powercap RAPL counters in sysfs.

The original reads RAPL through model-specific registers (root, the ``msr`` module, Intel
only); the powercap files need neither and cover AMD on recent kernels. Where no counter can
be read, :attr:`RaplMeter.reason` says why.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from hanami.server.observability.sensors import UNAVAILABLE, read_int, read_text

__all__ = [
    "MAX_PLAUSIBLE_WATTS",
    "PackagePower",
    "RaplMeter",
    "energy_delta_uj",
]

#: Samples above this are replaced by 0, as in the original: counters can jump after
#: resume from standby.
MAX_PLAUSIBLE_WATTS = 1_000_000.0

_POWERCAP_DIR = Path("sys/class/powercap")
_RAPL_ZONE = re.compile(r"intel-rapl:(\d+)")
_RAPL_PACKAGE = re.compile(r"package-(\d+)")


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
        unreadable = 0
        for path in sorted((root / _POWERCAP_DIR).glob("intel-rapl:*")):
            match = _RAPL_ZONE.fullmatch(path.name)
            if match is None:
                continue
            # energy_uj is root-only on kernels since 5.10 (CVE-2020-8694): skip then.
            if read_int(path / "energy_uj") is None:
                unreadable += 1
                continue
            name = _RAPL_PACKAGE.match(read_text(path / "name") or "")
            package_id = int(name.group(1) if name else match.group(1))
            max_power_uw = read_int(path / "constraint_0_max_power_uw") or 0
            self._zones.append(
                _RaplZone(
                    path=path,
                    package_id=package_id,
                    max_range=read_int(path / "max_energy_range_uj") or 0,
                    thermal_spec=max_power_uw / 1e6,
                )
            )
        self.source = "sysfs:powercap" if self._zones else UNAVAILABLE
        self.reason: str | None = None
        if unreadable and not self._zones:
            self.reason = (
                f"{_POWERCAP_DIR}/intel-rapl:*/energy_uj is readable by root only"
                " (Linux 5.10 and later)"
            )
        elif not self._zones:
            self.reason = f"no RAPL zone in /{_POWERCAP_DIR} (no Intel/AMD RAPL driver, or a VM)"

    def read(self, now: float | None = None) -> dict[int, PackagePower]:
        """Power per package id since the previous call (``now``: monotonic seconds)."""
        now = time.monotonic() if now is None else now
        packages: dict[int, PackagePower] = {}
        for zone in self._zones:
            energy = read_int(zone.path / "energy_uj")
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
