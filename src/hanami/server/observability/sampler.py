"""One sample of every host sensor per call, each naming its source or why it is absent."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean

import psutil

from hanami.server.observability.power import PackagePower, RaplMeter
from hanami.server.observability.sensors import (
    UNAVAILABLE,
    Frequency,
    average_speed_mhz,
    cpu_load_percent,
    psutil_frequencies,
    psutil_package_temperature,
    read_sysfs_frequencies,
    read_thermal_zones,
    read_topology,
)

__all__ = ["NO_FREQUENCY", "NO_TEMPERATURE", "Sample", "Sampler"]

NO_FREQUENCY = "no cpufreq in sysfs and no frequency from psutil (/proc/cpuinfo)"
NO_TEMPERATURE = "no x86_pkg_temp thermal zone and no coretemp/k10temp sensor"


@dataclass(frozen=True, slots=True)
class Sample:
    """Everything measured in one tick. A missing sensor gives zeros, the source
    ``"unavailable"`` and, in ``reasons`` under ``power``/``frequency``/``temperature``, why."""

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
    reasons: Mapping[str, str] = field(default_factory=dict)


class Sampler:
    """Takes one :class:`Sample` per call from sysfs under ``root``, falling back to psutil.

    It keeps the RAPL baseline and psutil's CPU-time baseline between calls, so it should
    be called at a steady rate by one thread.
    """

    def __init__(self, root: Path = Path("/")) -> None:
        self.root = root
        self.topology = read_topology(root)
        self._rapl = RaplMeter(root)
        self._rapl.read()  # the baseline, so that the first sample's power is a measurement
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

        reasons = {
            "power": self._rapl.reason,
            "frequency": NO_FREQUENCY if frequency_source == UNAVAILABLE else None,
            "temperature": NO_TEMPERATURE if temperature_source == UNAVAILABLE else None,
        }
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
            reasons={kind: reason for kind, reason in reasons.items() if reason is not None},
        )
