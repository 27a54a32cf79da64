"""``benchmarks/epoch_ratio.py``: a reduced run on a small synthetic MNIST-shaped set gives a
round per request, each with the ratio of its two training times, and the medians of them."""

import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import epoch_ratio


def test_rounds_report_the_ratio_of_their_own_times():
    rng = np.random.default_rng(0)
    data = {"train_x": rng.integers(0, 256, (300, 784), dtype=np.uint8),
            "train_y": rng.integers(0, 10, 300), "test_x": rng.integers(0, 256, (50, 784),
            dtype=np.uint8), "test_y": rng.integers(0, 10, 50)}  # fmt: skip
    result = epoch_ratio.run(data, rounds=3)
    rounds = result["rounds"]
    assert len(rounds) == 3
    for r in rounds:
        assert r["hanami_train_cpu_s"] > 0 and r["mlp_train_cpu_s"] > 0
        assert r["ratio"] == round(r["hanami_train_cpu_s"] / r["mlp_train_cpu_s"], 3)
    ratios = [r["ratio"] for r in rounds]
    assert result["median_ratio"] == round(statistics.median(ratios), 3)
    assert result["ratio_range"] == [min(ratios), max(ratios)]
    table = epoch_ratio.markdown(result)
    assert len(table) == 2 + 3 + 2 and table[-1].startswith(
        f"Median ratio {result['median_ratio']:.2f}"
    )
