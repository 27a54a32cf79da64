"""``benchmarks/seed_spread.py``: the figures of a table and a reduced run."""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import seed_spread


def test_summary_tells_order_and_network_apart():
    table = np.array([[90.0, 92.0], [88.0, 88.0], [91.0, 89.0]])
    figures = seed_spread.summary(table, target=2.0)
    assert figures["mean"] == pytest.approx(89.666667)
    assert figures["order_spread"] == pytest.approx(3.0)  # order means 91, 88, 90
    assert figures["net_std"] == pytest.approx((np.sqrt(2) + 0 + np.sqrt(2)) / 3)
    # triples (one network per order; order 1's two networks tie, so each twice):
    # (90, 88, 91) 3, (90, 88, 89) 2, (92, 88, 91) 4, (92, 88, 89) 4
    assert figures["p_within_target"] == pytest.approx(0.25)
    assert figures["mean_range"] == pytest.approx(26 / 8)
    assert figures["same_seed_range"] == pytest.approx(2.0)  # 90 and 88
    assert seed_spread.summary(table, target=3.0)["p_within_target"] == pytest.approx(0.5)


def test_pairs_reads_python_literals():
    assert seed_spread.pairs("initial_weight=0.02,INPUT_FANOUT=512,cross_entropy=False") == {
        "initial_weight": 0.02, "INPUT_FANOUT": 512, "cross_entropy": False}  # fmt: skip
    assert seed_spread.pairs("") == {}


def test_reduced_run(capsys):
    seed_spread.main(["--streams", "wine", "--nets", "2", "--orders", "0,1", "--max-rows", "60"])
    line = capsys.readouterr().out.split()
    assert line[0] == "wine" and line[1::2][1:] == [
        "order_spread", "net_std", "p_within_target", "mean_range", "same_seed_range"]  # fmt: skip
