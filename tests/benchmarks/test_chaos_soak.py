"""Reduced runs of ``benchmarks/chaos.py`` (three ``kill -9`` trials on SQLite) and
``benchmarks/soak.py`` (45 seconds): nothing acknowledged is lost, nothing fails.

The full runs are ``make chaos`` and ``make soak``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import chaos
import soak


def test_kill_9_trials_lose_nothing_acknowledged():
    result = chaos.run(3, ["sqlite"])["sqlite"]
    assert result["lost"] == 0, result
    assert result["queued_saves_left"] == 0, result
    acknowledged = result["acknowledged"]
    assert min(acknowledged.values()) > 0, acknowledged  # every kind of work was hit


def test_a_short_soak_has_no_errors_and_keeps_its_descriptors():
    result = soak.run(45.0, sample=1.0)
    assert result["errors"] == 0, result["error_kinds"]
    assert set(result["operations"]) == {"ping_pong", "batched", "gets", "upload", "task",
                                         "checkpoint"}  # fmt: skip
    assert result["fds_max"] < result["fds_first"] + 50, result
