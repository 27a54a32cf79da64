"""Hidden roots chosen from the number of outputs (``Profile.hidden_roots == 0``), and the
hidden split rule that follows them (``Profile.hidden_split_roots``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("sklearn")

from hanami.core import Cluster
from hanami.core.profiles import PROFILES, hidden_fields, hidden_roots
from hanami.estimators import HanamiClassifier, prequential
from hanami.estimators._common import generated_template_text


def test_hidden_roots_follow_the_number_of_outputs():
    stream = PROFILES["stream"]
    assert [hidden_roots(stream, n) for n in (2, 10, 12, 50, 500)] == [1, 1, 1, 4, 8]
    assert hidden_roots(PROFILES["default"], 50) == 1


def test_a_cluster_resolves_its_hidden_roots_when_outputs_arrive():
    c = Cluster(generated_template_text("stream", 1), seed=0)
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 10, (20, 4)).astype(np.float32)
    c.train(X, np.eye(50, dtype=np.float32)[np.arange(20) % 50])
    assert (c._params.hidden_roots, c._params.hidden_split) == (4, 1)
    again = Cluster.from_bytes(c.to_bytes())
    assert (again._params.hidden_roots, again._params.hidden_split) == (4, 1)


def _rings(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two noisy concentric rings in 2-D: a narrow, non-linear two-class stream."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    radius = np.where(y == 1, 2.0, 1.0) + rng.normal(0, 0.25, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.c_[radius * np.cos(angle), radius * np.sin(angle)], y


def _ring_accuracies() -> list[float]:
    """Prequential accuracy of one pass over the rings, seeds 0-2, with the profiles now."""
    scores = []
    for seed in range(3):
        X, y = _rings(1500, seed)
        p = prequential(HanamiClassifier(random_state=seed), X, y, classes=[0, 1])
        scores.append(float(np.mean(p == y)))
    return scores


def test_one_hidden_root_learns_two_classes_better_than_four(monkeypatch):
    """One pass over the rings: with two outputs the stream profile gives hidden neurons one
    root; four roots each (the value before this lever) learn worse on every seed."""
    chosen = _ring_accuracies()
    monkeypatch.setitem(PROFILES, "stream", dataclasses.replace(PROFILES["stream"], hidden_roots=4))
    four = _ring_accuracies()
    assert all(a > b for a, b in zip(chosen, four, strict=True)), (chosen, four)


def test_hidden_splits_run_only_with_several_hidden_roots():
    def split(profile, outputs):
        fields = hidden_fields(profile, outputs)
        return fields["hidden_roots"], fields["hidden_split"]

    stream = PROFILES["stream"]
    assert split(stream, 10) == (1, 0)
    assert split(stream, 50) == (4, stream.hidden_split)
    assert split(PROFILES["default"], 50) == (1, 0)


def test_hidden_neurons_with_one_root_learn_better_without_splits(monkeypatch):
    """One pass over the rings (two outputs, so one hidden root): no hidden splits there
    beats splitting hidden sections as before this lever, on each of three seeds."""
    chosen = _ring_accuracies()
    splitting = dataclasses.replace(PROFILES["stream"], hidden_split_roots=1)
    monkeypatch.setitem(PROFILES, "stream", splitting)
    split = _ring_accuracies()
    assert all(a > b for a, b in zip(chosen, split, strict=True)), (chosen, split)
