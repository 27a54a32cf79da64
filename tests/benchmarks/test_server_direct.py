"""``benchmarks/server.py --direct``'s batched figures: :data:`server.BATCHED_ROUNDS` rounds,
each a served run and the engine alone on the same rows, and the median of the ratios taken
within each round (a busy host slows both of a round alike)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import server


def test_the_batched_summary_keeps_the_first_round_and_the_median_of_the_round_ratios():
    rounds = [(30_000.4, 30e-6, 40_000.0), (36_000.0, 31e-6, 40_000.0), (20_000.0, 32e-6, 40_000.0)]
    summary = server.batched_summary(rounds, 1024)
    assert server.BATCHED_ROUNDS == 3
    assert summary["rounds"] == [[30_000, 40_000], [36_000, 40_000], [20_000, 40_000]]
    assert summary["ratio_median"] == 0.75  # of 0.75, 0.9 and 0.5: not the first's, nor the mean
    assert (summary["samples_per_s"], summary["engine_samples_per_s"]) == (30_000, 40_000)
    assert summary["server_cpu_us_per_sample"] == 30.0 and summary["samples"] == 1024
