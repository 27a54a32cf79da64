"""The monitor: one background thread that samples the host sensors every second, keeps
their ring buffers and hands each sample to the energy policy."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hanami.server.observability.energy import EnergyPolicy
from hanami.server.observability.sampler import Sample, Sampler
from hanami.server.observability.sensors import UNAVAILABLE, Topology, read_topology
from hanami.server.observability.series import TimeSeries

__all__ = ["Monitor", "Snapshot"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A consistent copy of the monitor's state for the JSON builders."""

    topology: Topology
    latest: Sample
    power: dict[str, list[float]]
    temperature: dict[str, list[float]]
    speed: dict[str, list[float]]
    #: Per series (``power``, ``temperature``, ``speed``): measured values per level.
    filled: dict[str, dict[str, int]] = field(default_factory=dict)
    energy: dict[str, Any] = field(default_factory=dict)


class Monitor:
    """Samples in a background thread every ``interval`` seconds and keeps the series.

    ``start()`` takes the first sample synchronously, so a snapshot right after it has
    real values; ``stop()`` joins the thread. Usable as a context manager. A sensor whose
    source is unavailable adds nothing to its series, so the series stays unfilled.
    """

    def __init__(
        self,
        sampler: Callable[[], Sample] | None = None,
        *,
        topology: Topology | None = None,
        interval: float = 1.0,
        energy: EnergyPolicy | None = None,
    ) -> None:
        sampler = sampler if sampler is not None else Sampler()
        if topology is None:
            topology = getattr(sampler, "topology", None) or read_topology()
        self.topology = topology
        self.interval = interval
        self.energy = energy if energy is not None else EnergyPolicy()
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
        self.energy.start(self.topology)
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
        self.energy.stop()

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
            for series, value, source in (
                (self._power, sample.power_w, sample.power_source),
                (self._temperature, sample.temperature_c, sample.temperature_source),
                (self._speed, sample.speed_mhz, sample.frequency_source),
            ):
                if source != UNAVAILABLE:
                    series.add(value)
        self.energy.observe(sample)
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
                filled={
                    "power": self._power.filled(),
                    "temperature": self._temperature.filled(),
                    "speed": self._speed.filled(),
                },
                energy=self.energy.status(),
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
