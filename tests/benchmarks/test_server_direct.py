"""``benchmarks/server.py --direct``: batched direct I/O in :data:`server.BATCHED_ROUNDS`
rounds, each a served run and the engine alone on the same rows, and the median of the
ratios taken within each round (the helpers that talk to a server are stubbed)."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import server


class _Http:
    def __init__(self, *args, **kwargs) -> None:
        pass

    def __enter__(self) -> "_Http":
        return self

    def __exit__(self, *exc) -> None:
        pass


def test_direct_batched_reports_each_round_and_the_median_of_their_ratios(monkeypatch):
    rounds = iter([(30_000.0, 30e-6, 40_000.0), (36_000.0, 31e-6, 40_000.0),
                   (20_000.0, 32e-6, 40_000.0)])  # fmt: skip
    clusters = []

    async def _steps(*args, **kwargs) -> float:
        return 2_000.0

    monkeypatch.setattr(server.httpx, "Client", _Http)
    monkeypatch.setattr(server, "_cluster", lambda http, name: clusters.append(name) or name)
    monkeypatch.setattr(server, "_api", lambda *args, **kwargs: None)
    monkeypatch.setattr(server, "process_cpu", lambda pid: 0.0)
    monkeypatch.setattr(server, "_compatible_raw", _steps)
    monkeypatch.setattr(server, "_sdk_steps", _steps)
    monkeypatch.setattr(server, "_engine_step_cpu", lambda x, y, steps: 30e-6)
    monkeypatch.setattr(server, "_batched_round", lambda *args: next(rounds))
    fake = server.Server("http://127.0.0.1:1", Path("."), "sqlite://", type("P", (), {"pid": 0}))
    data = {"train_x": np.zeros((8, 784), np.uint8), "train_y": np.zeros(8, np.int64)}
    batched = server.bench_direct(fake, data, 4, 8)["direct_batched"]
    assert server.BATCHED_ROUNDS == 3
    assert [c for c in clusters if c.startswith("direct_batched")] == [
        f"direct_batched_{r}" for r in range(3)
    ]
    assert batched["rounds"] == [[30_000, 40_000], [36_000, 40_000], [20_000, 40_000]]
    assert batched["ratio_median"] == 0.75  # of 0.75, 0.9 and 0.5
    assert (batched["samples_per_s"], batched["engine_samples_per_s"]) == (30_000, 40_000)
