"""Wide inputs keep several codes per input neuron (``Profile.min_input_roots``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest

pytest.importorskip("sklearn")

from hanami.core.profiles import PROFILES, input_fields, input_roots
from hanami.core.state import UNUSED_TARGET
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


def test_input_sections_stop_splitting_only_where_the_roots_are_lifted():
    stream = PROFILES["stream"]
    caps = [input_fields(stream, n)["input_split_synapses"] for n in (78, 85, 86, 180, 4704)]
    assert caps == [64, 64, 8, 8, 8]  # 256 // 86 = 2 roots, lifted to 3
    default = PROFILES["default"]
    assert input_fields(default, 4704)["input_split_synapses"] == default.synapses_per_section


def test_very_narrow_inputs_stop_splitting_too():
    """Two features are 12 engine inputs: at most ``narrow_inputs`` (16), so capped; three
    or four features (18, 24) keep splitting; the default profile never splits."""
    stream = PROFILES["stream"]
    caps = [input_fields(stream, n)["input_split_synapses"] for n in (6, 12, 16, 17, 24)]
    assert caps == [8, 8, 8, 64, 64]
    default = PROFILES["default"]
    assert input_fields(default, 12)["input_split_synapses"] == default.synapses_per_section


def _input_synapses(model: HanamiClassifier) -> float:
    """Mean synapses per input section (``c_kind`` 1) of the estimator's network."""
    s = model.cluster_._state
    used = s.s_t != UNUSED_TARGET
    inputs = (s.c_kind == 1) & used[:, :, 0]
    return float(used.sum(axis=2)[inputs].mean())


def _section_lengths(features: int, rows: int = 300) -> list[float]:
    """Mean synapses per input section after one pass over ``features`` normal features
    (the class: the sign of the first features' sum), seeds 0-2."""
    out = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(rows, features))
        y = (X[:, :5].sum(axis=1) > 0).astype(int)
        model = HanamiClassifier(random_state=seed)
        prequential(model, X, y, classes=np.arange(2))
        out.append(_input_synapses(model))
    return out


def test_two_features_keep_their_input_sections_short(monkeypatch):
    """Two continuous features (12 engine inputs, eight roots each): an input section
    holds less than half the synapses it grows without the narrow-input cap, on each of
    three seeds (docs/engine.md, Time per sample, seventh round)."""
    capped = _section_lengths(2)
    free_profile = dataclasses.replace(PROFILES["stream"], narrow_inputs=0)
    monkeypatch.setitem(PROFILES, "stream", free_profile)
    free = _section_lengths(2)
    assert all(2 * a < b for a, b in zip(capped, free, strict=True)), (capped, free)


def test_wide_continuous_inputs_keep_their_sections_short(monkeypatch):
    """40 continuous features (240 engine inputs, three roots each): with the cap an input
    section holds less than half the synapses it grows without it, on each of three seeds
    (docs/engine.md, Shorter input sections for wide inputs)."""

    capped = _section_lengths(40)
    free_profile = dataclasses.replace(PROFILES["stream"], input_split_synapses=0)
    monkeypatch.setitem(PROFILES, "stream", free_profile)
    free = _section_lengths(40)
    assert all(2 * a < b for a, b in zip(capped, free, strict=True)), (capped, free)


def test_very_narrow_inputs_skip_learned_samples():
    """Two features (12 engine inputs) take ``narrow_margin`` as their learned margin, three
    (18) the profile's own (0: every sample learns); the default profile keeps its margin
    at every width, also once an estimator has seen its inputs."""
    stream, default = PROFILES["stream"], PROFILES["default"]
    margins = [input_fields(stream, n)["learned_margin"] for n in (12, 16, 18, 78)]
    assert margins == [0.2, 0.2, 0.0, 0.0]
    assert {input_fields(default, n)["learned_margin"] for n in (12, 78, 784)} == {0.3}
    rng = np.random.default_rng(0)
    for features, margin in ((2, 0.2), (3, 0.0)):
        X = rng.normal(size=(50, features))
        model = HanamiClassifier(random_state=0)
        prequential(model, X, (X[:, 0] > 0).astype(int), classes=np.arange(2))
        assert model.cluster_._params.learned_margin == margin
