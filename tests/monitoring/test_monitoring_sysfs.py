"""The sysfs parsers of hanami.server.observability on fake trees laid out like real kernels."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path

import psutil
import pytest
from sysfs_fakes import CPU, fake_cpufreq, fake_cpus, fake_rapl, write

from hanami.server.observability.power import RaplMeter, energy_delta_uj
from hanami.server.observability.sampler import NO_FREQUENCY, NO_TEMPERATURE, Sampler
from hanami.server.observability.sensors import (
    UNAVAILABLE,
    CpuThread,
    Frequency,
    average_speed_mhz,
    cpu_load_percent,
    parse_cpu_list,
    read_sysfs_frequencies,
    read_thermal_zones,
    read_topology,
)

# Two sockets, two cores each, hyperthreading: siblings numbered after all first threads,
# as Intel machines enumerate them.
TWO_SOCKETS = {
    0: (0, 0),
    1: (0, 1),
    2: (1, 0),
    3: (1, 1),
    4: (0, 0),
    5: (0, 1),
    6: (1, 0),
    7: (1, 1),
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", [0]), ("0-3\n", [0, 1, 2, 3]), ("0-1,4,6-7", [0, 1, 4, 6, 7]), ("", [])],
)
def test_parse_cpu_list(text: str, expected: list[int]) -> None:
    assert parse_cpu_list(text) == expected


def test_topology_groups_threads_by_package_and_core(tmp_path: Path) -> None:
    fake_cpus(tmp_path, TWO_SOCKETS)
    topology = read_topology(tmp_path)
    assert topology.source == "sysfs"
    assert topology.has_hyperthreading is True
    assert topology.packages() == {0: {0: [0, 4], 1: [1, 5]}, 1: {0: [2, 6], 1: [3, 7]}}
    assert topology.first_threads() == [0, 1, 2, 3]


def test_topology_infers_hyperthreading_without_smt_file(tmp_path: Path) -> None:
    fake_cpus(tmp_path, TWO_SOCKETS, smt=None)
    assert read_topology(tmp_path).has_hyperthreading is True
    other = tmp_path / "other"
    fake_cpus(other, {0: (0, 0), 1: (0, 1)}, smt=None)
    assert read_topology(other).has_hyperthreading is False


def test_topology_smt_file_wins(tmp_path: Path) -> None:
    fake_cpus(tmp_path, TWO_SOCKETS, smt=0)
    assert read_topology(tmp_path).has_hyperthreading is False


def test_thread_without_topology_is_its_own_core(tmp_path: Path) -> None:
    write(tmp_path, CPU / "present", "0-1")
    (tmp_path / CPU / "cpu0").mkdir()
    (tmp_path / CPU / "cpu1").mkdir()
    topology = read_topology(tmp_path)
    assert topology.threads == (CpuThread(0, 0, 0), CpuThread(1, 1, 0))


def test_topology_without_present_file_lists_cpu_dirs(tmp_path: Path) -> None:
    fake_cpus(tmp_path, {0: (0, 0), 1: (0, 1), 2: (0, 2)})
    (tmp_path / CPU / "present").unlink()
    (tmp_path / CPU / "cpufreq").mkdir()  # a sibling that is not a CPU
    assert [t.id for t in read_topology(tmp_path).threads] == [0, 1, 2]


def test_sysfs_frequencies(tmp_path: Path) -> None:
    fake_cpus(tmp_path, {0: (0, 0), 1: (0, 1), 2: (0, 2)})
    fake_cpufreq(tmp_path, 0, 2_000_000)
    fake_cpufreq(tmp_path, 1, 3_000_000)
    freqs = read_sysfs_frequencies(tmp_path, [0, 1, 2])
    assert freqs == {
        0: Frequency(2_000_000, 800_000, 4_000_000, 900_000, 3_900_000),
        1: Frequency(3_000_000, 800_000, 4_000_000, 900_000, 3_900_000),
        2: Frequency(),  # offline or without a driver: zeros
    }


def test_sysfs_frequencies_absent(tmp_path: Path) -> None:
    fake_cpus(tmp_path, {0: (0, 0)})
    assert read_sysfs_frequencies(tmp_path, [0]) is None


def test_speed_averages_first_thread_of_each_core(tmp_path: Path) -> None:
    fake_cpus(tmp_path, TWO_SOCKETS)
    topology = read_topology(tmp_path)
    freqs = {cpu: Frequency(current=1_000_000 * (cpu + 1)) for cpu in range(8)}
    # cores' first threads are 0..3 -> 1, 2, 3, 4 GHz; siblings 4..7 are ignored
    assert average_speed_mhz(topology, freqs) == pytest.approx(2500.0)
    assert average_speed_mhz(topology, {}) == 0.0


def test_thermal_zones_average_only_package_sensors(tmp_path: Path) -> None:
    thermal = Path("sys/class/thermal")
    for index, (kind, milli) in enumerate(
        [
            ("acpitz", "27800"),
            ("x86_pkg_temp", "45000"),
            ("x86_pkg_temp", "55000"),
            ("iwlwifi_1", "38000"),
        ]
    ):
        write(tmp_path, thermal / f"thermal_zone{index}/type", kind)
        write(tmp_path, thermal / f"thermal_zone{index}/temp", milli)
    (tmp_path / thermal / "cooling_device0").mkdir()
    assert read_thermal_zones(tmp_path) == [45.0, 55.0]


def test_thermal_zones_absent(tmp_path: Path) -> None:
    write(tmp_path, "sys/class/thermal/thermal_zone0/type", "acpitz")
    write(tmp_path, "sys/class/thermal/thermal_zone0/temp", "30000")
    assert read_thermal_zones(tmp_path) is None
    assert read_thermal_zones(tmp_path / "missing") is None


def test_energy_delta_handles_wrap_around() -> None:
    assert energy_delta_uj(1_000, 5_000, 10_000) == 4_000
    assert energy_delta_uj(9_000, 500, 10_000) == 1_500


def test_rapl_power_from_energy_deltas(tmp_path: Path) -> None:
    fake_rapl(tmp_path, "intel-rapl:0", "package-0", 1_000_000, max_power_uw=65_000_000)
    fake_rapl(tmp_path, "intel-rapl:0:0", "core", 500_000)  # part of package 0: skipped
    fake_rapl(tmp_path, "intel-rapl:1", "package-1", 2_000_000, max_range=3_000_000)
    fake_rapl(tmp_path, "intel-rapl-mmio:0", "package-0", 7)  # not a RAPL MSR zone
    meter = RaplMeter(tmp_path)
    assert meter.source == "sysfs:powercap"

    first = meter.read(now=10.0)
    assert {k: v.watts for k, v in first.items()} == {0: 0.0, 1: 0.0}  # no baseline yet
    assert first[0].thermal_spec == 65.0
    assert first[1].thermal_spec == 0.0

    write(tmp_path, "sys/class/powercap/intel-rapl:0/energy_uj", str(1_000_000 + 40_000_000))
    write(tmp_path, "sys/class/powercap/intel-rapl:0:0/energy_uj", str(999_999_999))
    write(tmp_path, "sys/class/powercap/intel-rapl:1/energy_uj", "1000000")  # wrapped
    second = meter.read(now=12.0)
    assert second[0].watts == pytest.approx(20.0)  # 40 J in 2 s
    assert second[1].watts == pytest.approx(1.0)  # (3 J - 2 J) + 1 J in 2 s


def test_rapl_dies_add_up_per_package(tmp_path: Path) -> None:
    fake_rapl(tmp_path, "intel-rapl:0", "package-0-die-0", 0, max_power_uw=10_000_000)
    fake_rapl(tmp_path, "intel-rapl:1", "package-0-die-1", 0, max_power_uw=10_000_000)
    meter = RaplMeter(tmp_path)
    meter.read(now=0.0)
    write(tmp_path, "sys/class/powercap/intel-rapl:0/energy_uj", "3000000")
    write(tmp_path, "sys/class/powercap/intel-rapl:1/energy_uj", "5000000")
    packages = meter.read(now=1.0)
    assert list(packages) == [0]
    assert packages[0].watts == pytest.approx(8.0)
    assert packages[0].thermal_spec == pytest.approx(20.0)


def test_rapl_drops_implausible_spikes(tmp_path: Path) -> None:
    fake_rapl(tmp_path, "intel-rapl:0", "package-0", 0)
    meter = RaplMeter(tmp_path)
    meter.read(now=0.0)
    write(tmp_path, "sys/class/powercap/intel-rapl:0/energy_uj", str(10**13))  # 10 MW
    assert meter.read(now=1.0)[0].watts == 0.0


def test_rapl_unavailable(tmp_path: Path) -> None:
    meter = RaplMeter(tmp_path)
    assert meter.source == UNAVAILABLE
    assert meter.reason is not None and "no RAPL zone" in meter.reason
    assert meter.read() == {}


def test_rapl_readable_by_root_only(tmp_path: Path) -> None:
    fake_rapl(tmp_path, "intel-rapl:0", "package-0", 0)
    # What a non-root reader meets: the zone is listed, its counter cannot be read.
    (tmp_path / "sys/class/powercap/intel-rapl:0/energy_uj").unlink()
    meter = RaplMeter(tmp_path)
    assert meter.source == UNAVAILABLE
    assert meter.reason is not None and "root only" in meter.reason


CpuTimes = namedtuple("CpuTimes", "user nice system idle iowait guest guest_nice")


def test_cpu_load_percent() -> None:
    before = [CpuTimes(10, 0, 5, 80, 5, 0, 0), CpuTimes(0, 0, 0, 100, 0, 0, 0)]
    after = [CpuTimes(40, 0, 15, 120, 5, 0, 0), CpuTimes(0, 0, 0, 100, 0, 0, 0)]
    # cpu0: 40 busy of 80 elapsed; cpu1: no time elapsed at all
    assert cpu_load_percent(before, after) == (50.0, 0.0)


def test_sampler_reads_every_sysfs_source(tmp_path: Path) -> None:
    fake_cpus(tmp_path, {0: (0, 0), 1: (0, 0)})
    fake_cpufreq(tmp_path, 0, 2_400_000)
    fake_cpufreq(tmp_path, 1, 1_200_000)
    write(tmp_path, "sys/class/thermal/thermal_zone0/type", "x86_pkg_temp")
    write(tmp_path, "sys/class/thermal/thermal_zone0/temp", "51000")
    fake_rapl(tmp_path, "intel-rapl:0", "package-0", 0)

    sample = Sampler(tmp_path)()
    assert sample.frequency_source == "sysfs:cpufreq"
    assert sample.speed_mhz == pytest.approx(2400.0)  # cpu1 is cpu0's sibling
    assert (sample.temperature_c, sample.temperature_source) == (51.0, "sysfs:thermal_zone")
    assert (sample.power_w, sample.power_source) == (0.0, "sysfs:powercap")
    assert sample.load_source == "psutil"
    assert sample.reasons == {}


def test_sampler_degrades_to_zeros(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cpus(tmp_path, {0: (0, 0)})
    monkeypatch.setattr(psutil, "cpu_freq", lambda percpu=False: [])
    monkeypatch.setattr(psutil, "sensors_temperatures", dict, raising=False)
    sample = Sampler(tmp_path)()
    assert (sample.speed_mhz, sample.frequency_source) == (0.0, UNAVAILABLE)
    assert (sample.temperature_c, sample.temperature_source) == (0.0, UNAVAILABLE)
    assert (sample.power_w, sample.power_source) == (0.0, UNAVAILABLE)
    assert sample.reasons == {
        "frequency": NO_FREQUENCY,
        "temperature": NO_TEMPERATURE,
        "power": RaplMeter(tmp_path).reason,
    }


Freq = namedtuple("Freq", "current min max")
Temp = namedtuple("Temp", "label current high critical")


def test_sampler_psutil_fallbacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cpus(tmp_path, {0: (0, 0), 1: (0, 1)})
    monkeypatch.setattr(
        psutil,
        "cpu_freq",
        lambda percpu=False: [Freq(2596.136, 0.0, 0.0), Freq(1000.0, 400.0, 3000.0)],
    )
    readings = {
        "acpitz": [Temp("", 20.0, None, None)],
        "coretemp": [Temp("Package id 0", 60.0, 80.0, 100.0), Temp("Core 0", 99.0, 80.0, 100.0)],
    }
    monkeypatch.setattr(psutil, "sensors_temperatures", lambda: readings, raising=False)
    sample = Sampler(tmp_path)()
    assert sample.frequency_source == "psutil"
    assert sample.frequencies[0] == Frequency(current=2_596_136)
    assert sample.frequencies[1] == Frequency(1_000_000, 0, 0, 400_000, 3_000_000)
    assert sample.speed_mhz == pytest.approx((2596.136 + 1000.0) / 2)
    assert (sample.temperature_c, sample.temperature_source) == (60.0, "psutil:coretemp")


def test_sampler_first_power_reading_is_measured(tmp_path: Path) -> None:
    fake_cpus(tmp_path, {0: (0, 0)})
    fake_rapl(tmp_path, "intel-rapl:0", "package-0", 0)
    sampler = Sampler(tmp_path)  # reads the counter's baseline
    write(tmp_path, "sys/class/powercap/intel-rapl:0/energy_uj", "5000000")
    assert sampler().power_w > 0.0
