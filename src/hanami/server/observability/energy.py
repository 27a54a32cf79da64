"""The optional energy policy: pin the threads, and clock the CPUs down while the host is idle.

The original pins every worker thread to a hardware thread outside physical core 0 and
everything else (HTTP, measurement) to core 0, and its hardware library can set the scaling
limits of each CPU, a feature it never turned on (spec 7.3, 7.4). Here both are one policy,
off by default (``HANAMI_ENERGY_POLICY=true``), driven by the monitor's samples:

- **Pinning**: threads named ``HanamiTask*`` (the task workers) may run on every allowed CPU
  but those of the first core; all other threads on the first core's CPUs. The affinity each
  thread had is restored by :meth:`EnergyPolicy.stop`.
- **Frequency**: while the mean load is below :data:`BUSY_LOAD_PERCENT` the worker CPUs
  get the ``powersave`` governor (or, without that governor, ``scaling_max_freq`` at the
  CPU's minimum); when busy ``performance`` (or the maximum). The settings found at start
  are written back by :meth:`EnergyPolicy.stop`.

What cannot be done (no cpufreq, files not writable, a single core) is skipped, logged and
reported by :meth:`EnergyPolicy.status` with the reason.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import Any

from hanami.server.observability.sampler import Sample
from hanami.server.observability.sensors import CPU_DIR, Topology, read_int, read_text

__all__ = ["BUSY_LOAD_PERCENT", "OFF_REASON", "WORKER_PREFIX", "EnergyPolicy"]

logger = logging.getLogger(__name__)

BUSY_LOAD_PERCENT = 50.0
WORKER_PREFIX = "HanamiTask"
OFF_REASON = "off (HANAMI_ENERGY_POLICY=true turns it on)"

#: (governor, scaling_max_freq source) for each state.
_GOVERNORS = {"idle": "powersave", "busy": "performance"}
_LIMITS = {"idle": "cpuinfo_min_freq", "busy": "cpuinfo_max_freq"}


@dataclass(frozen=True, slots=True)
class _Saved:
    """One CPU's cpufreq settings as found at start."""

    governor: str | None
    max_freq: int | None


class EnergyPolicy:
    """Applies the policy on :meth:`observe` (one call per monitor sample); no thread."""

    def __init__(self, enabled: bool = False, *, root: Path = Path("/")) -> None:
        self.enabled = enabled
        self.root = root
        self.state = "idle"
        self.service_cpus: list[int] = []
        self.worker_cpus: list[int] = []
        self.pinning_reason: str | None = OFF_REASON
        self.frequency_reason: str | None = OFF_REASON
        self.frequency_mode: str | None = None
        self._saved: dict[int, _Saved] = {}
        self._affinity: dict[int, set[int]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------- lifecycle

    def start(self, topology: Topology) -> None:
        """Decide what can be done on this machine, log why not, and go to idle."""
        if not self.enabled:
            return
        with self._lock:
            self.state = "idle"
            self.pinning_reason = self._plan_pinning(topology)
            self.frequency_reason = self._plan_frequency(topology)
            for what, reason in (("pinning", self.pinning_reason),
                                 ("frequency control", self.frequency_reason)):  # fmt: skip
                if reason is None:
                    logger.info("energy policy: %s active", what)
                else:
                    logger.warning("energy policy: %s inactive: %s", what, reason)
            self._apply_frequency()

    def observe(self, sample: Sample) -> None:
        """Follow the load with the frequency settings and pin threads started since."""
        if not self.enabled:
            return
        with self._lock:
            busy = bool(sample.load) and fmean(sample.load) >= BUSY_LOAD_PERCENT
            state = "busy" if busy else "idle"
            if state != self.state:
                self.state = state
                self._apply_frequency()
            self._pin_threads()

    def stop(self) -> None:
        """Write back the cpufreq settings and thread affinities found before."""
        with self._lock:
            for cpu, saved in self._saved.items():
                base = self._cpufreq_dir(cpu)
                if saved.governor is not None:
                    _write(base / "scaling_governor", saved.governor)
                if saved.max_freq is not None:
                    _write(base / "scaling_max_freq", str(saved.max_freq))
            self._saved.clear()
            for tid, cpus in self._affinity.items():
                with contextlib.suppress(OSError):  # the thread has ended
                    os.sched_setaffinity(tid, cpus)
            self._affinity.clear()

    def status(self) -> dict[str, Any]:
        """What the policy does and, for each part that is inactive, why (for the API)."""
        with self._lock:
            return {
                "enabled": self.enabled,
                "state": self.state if self.enabled else None,
                "pinning": {
                    "active": self.pinning_reason is None,
                    "reason": self.pinning_reason,
                    "service_cpus": list(self.service_cpus),
                    "worker_cpus": list(self.worker_cpus),
                },
                "frequency": {
                    "active": self.frequency_reason is None,
                    "reason": self.frequency_reason,
                    "mode": self.frequency_mode,
                    "cpus": sorted(self._saved),
                },
            }

    # ------------------------------------------------------------------------- planning

    def _plan_pinning(self, topology: Topology) -> str | None:
        if not hasattr(os, "sched_setaffinity"):
            return "this system has no sched_setaffinity"
        allowed = os.sched_getaffinity(0)
        cores = [
            [cpu for cpu in threads if cpu in allowed]
            for package in topology.packages().values()
            for threads in package.values()
        ]
        cores = [threads for threads in cores if threads]
        if len(cores) < 2:
            return "fewer than two physical cores may be used: nothing to separate"
        self.service_cpus = cores[0]
        self.worker_cpus = sorted(cpu for threads in cores[1:] for cpu in threads)
        return None

    def _plan_frequency(self, topology: Topology) -> str | None:
        cpus = self.worker_cpus or [thread.id for thread in topology.threads]
        base = self._cpufreq_dir(cpus[0]) if cpus else None
        if base is None or not base.is_dir():
            return f"no cpufreq in /{CPU_DIR} (a VM, or no frequency driver)"
        governors = (read_text(base / "scaling_available_governors") or "").split()
        if set(_GOVERNORS.values()) <= set(governors):
            self.frequency_mode, name = "governor", "scaling_governor"
        else:
            self.frequency_mode, name = "max_freq", "scaling_max_freq"
        if not os.access(base / name, os.W_OK):
            self.frequency_mode = None
            return f"/{CPU_DIR}/cpu{cpus[0]}/cpufreq/{name} is not writable (needs root)"
        for cpu in cpus:
            cpu_dir = self._cpufreq_dir(cpu)
            if cpu_dir.is_dir():
                self._saved[cpu] = _Saved(
                    governor=read_text(cpu_dir / "scaling_governor"),
                    max_freq=read_int(cpu_dir / "scaling_max_freq"),
                )
        return None

    # ------------------------------------------------------------------------- applying

    def _cpufreq_dir(self, cpu: int) -> Path:
        return self.root / CPU_DIR / f"cpu{cpu}" / "cpufreq"

    def _apply_frequency(self) -> None:
        for cpu in self._saved:
            base = self._cpufreq_dir(cpu)
            if self.frequency_mode == "governor":
                _write(base / "scaling_governor", _GOVERNORS[self.state])
            elif (limit := read_int(base / _LIMITS[self.state])) is not None:
                _write(base / "scaling_max_freq", str(limit))

    def _pin_threads(self) -> None:
        if self.pinning_reason is not None:
            return
        for thread in threading.enumerate():
            tid = thread.native_id
            if tid is None or tid in self._affinity:
                continue
            worker = thread.name.startswith(WORKER_PREFIX)
            try:
                before = os.sched_getaffinity(tid)
                os.sched_setaffinity(tid, self.worker_cpus if worker else self.service_cpus)
            except OSError:  # ended meanwhile
                continue
            self._affinity[tid] = before


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as exc:  # a driver may refuse a value; the policy goes on
        logger.warning("energy policy: cannot write %s to %s: %s", text, path, exc)
