"""Fake sysfs trees laid out like real kernels, for the monitoring tests."""

from __future__ import annotations

from pathlib import Path

CPU = Path("sys/devices/system/cpu")


def write(root: Path, relative: str | Path, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def fake_cpus(root: Path, layout: dict[int, tuple[int, int]], smt: int | None = 1) -> None:
    """layout: cpu id -> (package id, core id), like topology/ in sysfs."""
    ids = sorted(layout)
    write(root, CPU / "present", f"{ids[0]}-{ids[-1]}")
    for cpu, (package, core) in layout.items():
        write(root, CPU / f"cpu{cpu}/topology/physical_package_id", str(package))
        write(root, CPU / f"cpu{cpu}/topology/core_id", str(core))
    if smt is not None:
        write(root, CPU / "smt/active", str(smt))


def fake_cpufreq(root: Path, cpu: int, cur: int, lo: int = 800_000, hi: int = 4_000_000) -> None:
    base = CPU / f"cpu{cpu}/cpufreq"
    write(root, base / "scaling_cur_freq", str(cur))
    write(root, base / "cpuinfo_min_freq", str(lo))
    write(root, base / "cpuinfo_max_freq", str(hi))
    write(root, base / "scaling_min_freq", str(lo + 100_000))
    write(root, base / "scaling_max_freq", str(hi - 100_000))


def fake_rapl(
    root: Path,
    zone: str,
    name: str,
    energy: int,
    max_range: int = 262_143_328_850,
    max_power_uw: int | None = None,
) -> None:
    base = Path("sys/class/powercap") / zone
    write(root, base / "name", name)
    write(root, base / "energy_uj", str(energy))
    write(root, base / "max_energy_range_uj", str(max_range))
    if max_power_uw is not None:
        write(root, base / "constraint_0_max_power_uw", str(max_power_uw))
