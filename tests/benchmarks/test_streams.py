"""A reduced run of ``benchmarks/streams.py``: the structure of its results, finite numbers.

Tiny row caps and one seed, so it takes seconds; nothing here checks timings or scores.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("river")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import stream_data
import stream_robustness
import streams


def quiet(_line: str) -> None:
    pass


def finite(values) -> bool:
    return all(math.isfinite(v) for v in values)


@pytest.fixture
def small_prefix(monkeypatch):
    """A prefix shorter than the row cap, so that Hanami also runs the whole (capped) stream."""
    monkeypatch.setattr(streams, "PREFIX", {"blobs_10": 40})


def test_loaders_give_float_features_and_class_codes():
    for name, loader in stream_data.streams().items():
        if name == "mnist_binary":
            continue  # covered by the robustness test where the files exist
        s = loader(0)
        assert s.X.dtype == np.float64 and s.X.ndim == 2 and len(s.X) == len(s.y), name
        assert s.kind in ("classification", "regression"), name
        if s.kind == "classification":
            assert s.y.dtype == np.int64 and set(np.unique(s.y)) == set(range(s.y.max() + 1))


def test_shuffled_streams_depend_on_the_seed_and_river_streams_do_not():
    assert not np.array_equal(stream_data.wine(0).y, stream_data.wine(1).y)
    assert np.array_equal(stream_data.phishing(0).X, stream_data.phishing(1).X)


def test_blobs_bayes_rate_is_near_the_quoted_figures():
    assert 98.0 < 100 * stream_data.blobs(10, 0).bayes_hits.mean() < 100.0
    assert 85.0 < 100 * stream_data.blobs(50, 0).bayes_hits.mean() < 95.0


def test_reduced_run_has_every_system_and_finite_numbers(tmp_path, small_prefix):
    cache = tmp_path / "peers.json"
    names = ["wine", "phishing", "blobs_10", "diabetes"]
    results = streams.run(streams=names, seeds=(0,), max_rows=60, peers_cache=cache,
                          robustness=False, log=quiet)  # fmt: skip
    assert list(results["streams"]) == names
    for name, s in results["streams"].items():
        expected = streams.CLASSIFIERS if s["kind"] == "classification" else streams.REGRESSORS
        assert list(s["systems"]) == list(expected), name
        assert s["rows"] <= 60 and s["features"] > 0
        for system in s["systems"].values():
            assert len(system["scores"]) == 1
            assert finite(system["scores"]) and finite(system["us_per_sample"])
    blobs = results["streams"]["blobs_10"]
    assert blobs["rows"] == 40 and blobs["hanami_full"]["rows"] == 60
    assert finite(blobs["bayes"]) and finite(blobs["hanami_full"]["scores"])
    report = "\n".join(streams.markdown(results))
    assert "### Classification (accuracy %)" in report and "### Regression (MAE)" in report
    assert "blobs_10 (first 40 of 60)" in report

    # the second run takes every peer from the cache, and only Hanami runs
    assert len(json.loads(cache.read_text())) == 3 * 6 + 3
    again = streams.run(streams=names, seeds=(0,), max_rows=60, peers_cache=cache,
                        robustness=False, log=quiet)  # fmt: skip
    for s in again["streams"].values():
        for name, system in s["systems"].items():
            assert (system["notes"] == ["cache"]) == (name != "hanami")
    wine = again["streams"]["wine"]["systems"]["river_lr"]["scores"]
    assert wine == results["streams"]["wine"]["systems"]["river_lr"]["scores"]


def test_peer_without_random_state_runs_once_on_a_fixed_order_stream():
    results = streams.run(streams=["phishing"], systems=["river_ht", "river_arf"], seeds=(0, 1),
                          max_rows=50, robustness=False, log=quiet)  # fmt: skip
    systems = results["streams"]["phishing"]["systems"]
    assert systems["river_ht"]["notes"] == ["same data, no random state: run once"]
    assert systems["river_arf"]["notes"] == []


def test_command_line_prints_the_tables(tmp_path, capsys):
    out = tmp_path / "out.json"
    argv = ["--streams", "wine,chick_weights", "--systems", "hanami,river_lr,river_htr",
            "--seeds", "0", "--max-rows", "30", "--no-robustness", "--json", str(out)]  # fmt: skip
    streams.main(argv)
    printed = capsys.readouterr().out
    assert "| wine (30) |" in printed and "| chick_weights (30) |" in printed
    assert set(json.loads(out.read_text())["streams"]) == {"wine", "chick_weights"}


def test_unknown_names_are_refused():
    with pytest.raises(SystemExit, match="unknown stream 'nope'"):
        streams.run(streams=["nope"], robustness=False, log=quiet)
    with pytest.raises(SystemExit, match="unknown system 'nope'"):
        streams.run(systems=["nope"], robustness=False, log=quiet)


@pytest.mark.mnist
@pytest.mark.skipif(not stream_data.mnist_available(stream_data.MNIST_DIR),
                    reason="needs ../shared/data/mnist")  # fmt: skip
def test_reduced_robustness_run():
    r = stream_robustness.run(stream_data.MNIST_DIR, (0,), 1200, quiet)
    assert r["layout"]["at"] == 600 and r["layout"]["window"] == 10
    assert set(r["systems"]) == {"hanami", "hanami_reduction", "numba_mlp", "river_lr"}
    for name, runs in r["systems"].items():
        assert list(runs) == list(stream_robustness.CONDITIONS)
        for condition, outcomes in runs.items():
            assert len(outcomes) == 1
            o = outcomes[0]
            assert finite([o["test_accuracy"], o["prequential"]])
            if condition.startswith("shift"):
                assert finite(o["windows"]) and len(o["windows"]) == 120
                rec = o["recovery"]
                assert finite([rec["before"], rec["first_window"], rec["lowest_window"]])
            if name.startswith("hanami"):
                assert set(o["synapses"]) == {"701", "710", "1200"}
    report = "\n".join(stream_robustness.markdown(r))
    assert "| Hanami (reduction on) |" in report and "| on |" in report


def test_hanami_scores_a_held_out_test_set_after_its_pass():
    s = stream_data.blobs(10, 0, n=600)
    test = (s.X[400:], s.y[400:])
    result = streams.run_one("hanami", s.X[:400], s.y[:400], s.kind, 0, test)
    assert 50.0 < result["test"] <= 100.0  # ten classes: chance is 10 %
    assert "test" not in streams.run_one("hanami", s.X[:400], s.y[:400], s.kind, 0)
