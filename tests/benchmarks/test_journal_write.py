"""``benchmarks/journal_write.py``: every append is timed, and its time is split into time
on a core, waiting for one and asleep, none of them more than the wall time."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import journal_write


@pytest.mark.parametrize("sync", [False, True])
def test_appends_are_timed_and_their_time_split(tmp_path, sync):
    seconds, (on_cpu, waiting, asleep) = journal_write.appends(tmp_path, 3, sync=sync)
    assert len(seconds) == 3 and seconds == sorted(seconds) and seconds[0] > 0
    total = sum(seconds)
    assert 0 < on_cpu <= total and 0 <= waiting <= total
    assert asleep <= total
    assert list(tmp_path.iterdir()) == []  # the journal is removed
