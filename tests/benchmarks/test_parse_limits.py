"""A reduced run of ``benchmarks/parse_limits.py``: the shape of its results; no timings checked."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import parse_limits


def test_reduced_run_parses_every_size():
    results = parse_limits.main((10, 1000, 20_000), megabytes=0.05)
    assert [r["columns"] for r in results] == [10, 1000, 20_000]
    assert [r["repeats"] for r in results] == [1000, 7, 1]
    assert all(r["seconds_per_mb"] > 0 and r["microseconds_per_file"] > 0 for r in results)
    assert results[0]["file_bytes"] == len("c0,c1,c2,c3,c4,c5,c6,c7,c8,c9\n0,0,0,0,0,0,0,0,0,0\n")
