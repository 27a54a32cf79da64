"""A reduced run of ``benchmarks/stream_passes.py``: the falls it reports and its table."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import stream_passes


def test_falls_are_measured_from_the_best_so_far():
    assert stream_passes.falls([90.0, 95.0, 93.5, 96.0, 94.0]) == [0.0, 0.0, 1.5, 0.0, 2.0]


def test_reduced_run(capsys):
    results = stream_passes.main(["--passes", "3", "--seeds", "0", "--max-rows", "500"])
    seed = results["blobs_10"]["0"]
    assert seed["rows"] == 500 and len(seed["accuracy"]) == 3
    falls = stream_passes.falls(seed["accuracy"])
    assert seed["largest_fall"] == pytest.approx(max(falls), abs=1e-3)
    assert seed["falls_over_1_point"] == (seed["first_pass_over_1_point"] is not None)
    assert '"blobs_10"' in capsys.readouterr().out
    with pytest.raises(SystemExit, match="regression"):
        stream_passes.main(["--streams", "diabetes", "--passes", "1"])
