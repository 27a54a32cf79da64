"""Wide inputs keep several codes per input neuron (``Profile.min_input_roots``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest

pytest.importorskip("sklearn")

from hanami.core.profiles import PROFILES, input_roots
from hanami.estimators import HanamiClassifier, prequential


def test_wide_inputs_get_at_least_the_floor_of_roots():
    stream = PROFILES["stream"]
    assert [input_roots(stream, n) for n in (85, 86, 4704)] == [3, 3, 3]
    assert input_roots(dataclasses.replace(stream, min_input_roots=1), 4704) == 1
    assert input_roots(PROFILES["default"], 4704) == 1


def one_pass_accuracies(data: Callable[[int, int], tuple[np.ndarray, np.ndarray]],
                        rows: int = 400) -> list[float]:  # fmt: skip
    """Prequential accuracy of one pass of ``HanamiClassifier(random_state=seed)`` over
    ``data(rows, seed)``, seeds 0-2 (the classes are those the rows hold)."""
    scores = []
    for seed in range(3):
        X, y = data(rows, seed)
        p = prequential(HanamiClassifier(random_state=seed), X, y, classes=np.unique(y))
        scores.append(float(np.mean(p == y)))
    return scores


def _noisy_bits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """100 binary features, eight classes: each row is its class's random bit pattern with
    30 % of the bits flipped. Coded around three quantiles that is 600 engine inputs, so
    ``INPUT_FANOUT // inputs`` alone would give each input neuron one root."""
    rng = np.random.default_rng(seed)
    patterns = rng.integers(0, 2, (8, 100))
    y = rng.integers(0, 8, n)
    flipped = rng.random((n, 100)) < 0.3
    return np.where(flipped, 1 - patterns[y], patterns[y]).astype(np.float64), y


def test_three_roots_per_input_learn_wide_binary_rows_better_than_one(monkeypatch):
    """One pass over the noisy bit patterns: the floor of three roots per input neuron
    scores higher than one root on each of three seeds."""

    floor = one_pass_accuracies(_noisy_bits)
    monkeypatch.setitem(PROFILES, "stream",
                        dataclasses.replace(PROFILES["stream"], min_input_roots=1))  # fmt: skip
    one = one_pass_accuracies(_noisy_bits)
    assert all(a > b for a, b in zip(floor, one, strict=True)), (floor, one)
