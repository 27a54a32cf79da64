"""A reduced run of ``benchmarks/stream_speed.py``: one row per stream, positive times."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("river")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import stream_speed


def test_reduced_run(capsys):
    stream_speed.main(["--streams", "wine,chick_weights", "--repeats", "1"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert [r.split(" | ")[0] for r in rows[1:]] == ["| wine", "| chick_weights"]
    for row in rows[1:]:
        ours, theirs, ratio = (float(v) for v in row.strip("| ").split(" | ")[2:])
        # the times are printed to 0.1 µs and the ratio to 0.01, both from unrounded times
        rounding = 0.005 + ratio * (0.05 / ours + 0.05 / theirs)
        assert ours > 0 and theirs > 0 and ratio == pytest.approx(ours / theirs, abs=rounding)
