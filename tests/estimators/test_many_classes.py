"""Hidden blocks that use all their neurons, and first synapses in more pieces, only where
the classes are many (``Profile.few_class_hidden``, ``Profile.many_class_pieces``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("sklearn")

from hanami.core import Cluster
from hanami.core.profiles import PROFILES, first_pieces, hidden_fields
from hanami.estimators import HanamiClassifier, prequential
from hanami.estimators._common import generated_template_text


def test_width_and_pieces_follow_the_number_of_outputs():
    stream = PROFILES["stream"]
    assert hidden_fields(stream, 10)["hidden_size"] == 128
    assert hidden_fields(stream, 50)["hidden_size"] == 0
    assert first_pieces(stream, 40, 10) == stream.first_pieces
    assert first_pieces(stream, 40, 50) == stream.many_class_pieces
    default = PROFILES["default"]
    assert hidden_fields(default, 50)["hidden_size"] == 0
    assert first_pieces(default, 40, 50) == default.first_pieces


def test_a_block_has_fewer_neurons_than_the_unused_target_mark():
    """Targets are uint8 and 255 marks an unused synapse: 256 neurons would lose synapses."""
    assert dataclasses.replace(PROFILES["stream"], neurons_per_block=255)
    with pytest.raises(ValueError, match="neurons_per_block"):
        dataclasses.replace(PROFILES["stream"], neurons_per_block=256)


def _hidden_sizes(c: Cluster) -> set[int]:
    s = c._state
    return {int(s.nb_size[b]) for b in range(len(s.nb_hex)) if s.nb_hex[b] == 1}


def test_hidden_blocks_widen_when_the_classes_become_many():
    """The River adapter adds outputs as labels arrive: blocks made while there were two
    use all their neurons once there are fifty."""
    c = Cluster(generated_template_text("stream", 1), seed=0)
    X = np.random.default_rng(0).uniform(0, 10, (20, 4)).astype(np.float32)
    c.train(X, np.eye(2, dtype=np.float32)[np.arange(20) % 2])
    assert _hidden_sizes(c) == {128}
    c.train(X, np.eye(50, dtype=np.float32)[np.arange(20) % 50])
    assert _hidden_sizes(c) == {PROFILES["stream"].neurons_per_block}


def _blobs(n_classes: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian blobs in 4-D: few inputs, many classes."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.0, 10.0, (n_classes, 4))
    y = rng.integers(0, n_classes, n)
    return centres[y] + rng.normal(0.0, 0.6, (n, 4)), y


def _blob_accuracies() -> list[float]:
    """Prequential accuracy of one pass over 40 blob classes, seeds 0-2."""
    scores = []
    for seed in range(3):
        X, y = _blobs(40, 2000, seed)
        p = prequential(HanamiClassifier(random_state=seed), X, y, classes=np.arange(40))
        scores.append(float(np.mean(p == y)))
    return scores


def test_many_classes_learn_better_with_wide_hidden_blocks(monkeypatch):
    """One pass over 40 classes: blocks of 240 hidden neurons and first synapses in 16
    pieces beat 128 neurons and 8 pieces (the profile before these levers) on every seed."""
    chosen = _blob_accuracies()
    before = dataclasses.replace(PROFILES["stream"], neurons_per_block=128,
                                 many_class_pieces=0, few_class_hidden=0)  # fmt: skip
    monkeypatch.setitem(PROFILES, "stream", before)
    narrow = _blob_accuracies()
    assert all(a > b for a, b in zip(chosen, narrow, strict=True)), (chosen, narrow)
