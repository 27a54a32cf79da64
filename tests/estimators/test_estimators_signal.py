"""Answers without information are said, never silent (issue 8, item 4).

Networks are made dead for real: ``input_scale=1e-8`` puts every scaled feature below the
profile's threshold (0.001 for "stream"; the largest breast-cancer feature is 4,254), so
nothing ever reaches the outputs; a network that learned only rows of zeros never grew, so
real rows reach nothing either. Rows without signal are rows of zeros under the plain
coding (``plain_coding``: only positive values fire); the profiles code features around
running quantiles (``_coding.py``), where a row of zeros fires.
"""

import dataclasses
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("river")

from sklearn.datasets import load_breast_cancer

from hanami.core.profiles import PROFILES
from hanami.estimators import (
    DeadNetworkWarning,
    HanamiClassifier,
    HanamiRegressor,
    HanamiRiverClassifier,
    HanamiRiverRegressor,
    NoSignalWarning,
)
from hanami.estimators._signal import DEAD_RUN, SignalWatch

SILENT = 1e-8  # input_scale that keeps every breast-cancer feature below the threshold


@pytest.fixture
def plain_coding(monkeypatch):
    """The profiles with features coded around 0 (positive and negative part)."""
    for name in ("default", "stream"):
        plain = dataclasses.replace(PROFILES[name], input_quantiles=())
        monkeypatch.setitem(PROFILES, name, plain)


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


def _rows(X):
    return [dict(enumerate(row)) for row in X]


def test_a_dead_classifier_warns_once(cancer):
    X, y = cancer
    model = HanamiClassifier(random_state=0, input_scale=SILENT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, y)
        model.predict_proba(X)  # still dead: no second warning
        model.predict(X)
    dead = [w for w in caught if w.category is DeadNetworkWarning]
    assert len(dead) == 1
    assert "same outputs [0.0, 0.0]" in str(dead[0].message)
    assert "input_scale" in str(dead[0].message)


def test_a_network_that_learned_only_zeros_warns_on_real_rows(cancer):
    X, y = cancer
    model = HanamiClassifier(random_state=0).fit(np.zeros_like(X), y)  # equal inputs: no verdict
    with pytest.warns(DeadNetworkWarning), pytest.warns(NoSignalWarning):
        proba = model.predict_proba(X)
    np.testing.assert_allclose(proba, np.broadcast_to(np.bincount(y) / len(y), proba.shape))


def test_a_healthy_network_does_not_warn(cancer):
    X, y = cancer
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeadNetworkWarning)
        warnings.simplefilter("error", NoSignalWarning)
        model = HanamiClassifier(random_state=0).fit(X, y)
        proba = model.predict_proba(X)
    assert (model.predict(X) == y).mean() > 0.85
    assert len(np.unique(proba, axis=0)) > 500  # no constant answer


@pytest.mark.usefixtures("plain_coding")
def test_a_row_without_signal_gets_the_training_prior(cancer):
    X, y = cancer
    model = HanamiClassifier(random_state=0).fit(X, y)
    np.testing.assert_array_equal(model.class_count_, np.bincount(y))
    prior = np.bincount(y) / len(y)
    assert abs(prior[0] - 0.5) > 0.05  # the prior is not the uniform answer
    rows = np.vstack([X[:3], np.zeros((2, X.shape[1]))])
    with pytest.warns(NoSignalWarning, match="2 of 5 rows reached no output"):
        proba = model.predict_proba(rows)
    np.testing.assert_allclose(proba[3:], [prior, prior])
    assert not np.allclose(proba[:3], prior)
    assert (model.predict(np.zeros((1, X.shape[1]))) == np.argmax(prior)).all()


@pytest.mark.usefixtures("plain_coding")
def test_partial_fit_counts_the_prior_over_batches(cancer):
    X, y = cancer
    model = HanamiClassifier(random_state=0)
    model.partial_fit(X[:200], y[:200], classes=[0, 1])
    model.partial_fit(X[200:], y[200:])
    np.testing.assert_array_equal(model.class_count_, np.bincount(y))
    with pytest.warns(NoSignalWarning):
        proba = model.predict_proba(np.zeros((1, X.shape[1])))
    np.testing.assert_allclose(proba[0], np.bincount(y) / len(y))


@pytest.mark.usefixtures("plain_coding")
def test_regressor_warns_when_dead_and_without_signal(cancer):
    X, _ = cancer
    y = X[:, 0]
    with pytest.warns(DeadNetworkWarning):
        HanamiRegressor(random_state=0, input_scale=SILENT).fit(X, y)
    model = HanamiRegressor(random_state=0).fit(X, y)
    with pytest.warns(NoSignalWarning, match="mean target"):
        assert model.predict(np.zeros((1, X.shape[1])))[0] == pytest.approx(y.mean())


@pytest.mark.usefixtures("plain_coding")
def test_river_classifier_dead_network_and_prior(cancer):
    X, y = cancer
    dead = HanamiRiverClassifier(seed=0, input_scale=SILENT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for x, label in zip(_rows(X), y, strict=True):
            dead.learn_one(x, int(label))
    assert [w.category for w in caught].count(DeadNetworkWarning) == 1

    model = HanamiRiverClassifier(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeadNetworkWarning)
        for x, label in zip(_rows(X), y, strict=True):
            model.learn_one(x, int(label))
    prior = {label: float(np.mean(y == label)) for label in (0, 1)}
    with pytest.warns(NoSignalWarning, match="label frequencies"):
        proba = model.predict_proba_one({"unknown": 1.0})
    assert proba == pytest.approx(prior)
    assert model.predict_one({}) == max(prior, key=prior.get)
    assert HanamiRiverClassifier().predict_proba_one({0: 1.0}) == {}  # nothing learned yet


@pytest.mark.usefixtures("plain_coding")
def test_river_regressor_answers_the_mean_without_signal(cancer):
    X, _ = cancer
    model = HanamiRiverRegressor(seed=0)
    targets = X[:100, 0]
    for x, target in zip(_rows(X[:100]), targets, strict=True):
        model.learn_one(x, target)
    with pytest.warns(NoSignalWarning, match="mean target"):
        assert model.predict_one({"unknown": 1.0}) == pytest.approx(targets.mean())


# ------------------------------------------------------------------------------ the watch


def _answers(watch, inputs, outputs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        watch.answers(np.asarray(inputs, dtype=float), np.asarray(outputs, dtype=float))
    return [w.category for w in caught]


def test_watch_warns_once_per_dead_spell_across_calls_of_any_size():
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(4 * DEAD_RUN, 3))
    same = np.zeros((4 * DEAD_RUN, 2))
    watch = SignalWatch()
    assert _answers(watch, inputs[: DEAD_RUN - 2], same[: DEAD_RUN - 2]) == []
    assert _answers(watch, inputs[DEAD_RUN - 2 : DEAD_RUN - 1], same[:1]) == []  # one short
    assert _answers(watch, inputs[DEAD_RUN - 1 : DEAD_RUN], same[:1]) == [DeadNetworkWarning]
    assert _answers(watch, inputs[:DEAD_RUN], same[:DEAD_RUN]) == []  # still the same spell
    assert _answers(watch, inputs[:1], [[0.3, 0.7]]) == []  # it recovers
    both = np.r_[np.full((5, 2), 0.5), same[:DEAD_RUN]]  # a new spell inside one call
    assert _answers(watch, inputs[: DEAD_RUN + 5], both) == [DeadNetworkWarning]


def test_watch_needs_differing_inputs_and_two_classes():
    row = np.ones((2 * DEAD_RUN, 3))
    assert _answers(SignalWatch(), row, np.zeros((2 * DEAD_RUN, 2))) == []  # one input
    varied = np.random.default_rng(0).normal(size=(2 * DEAD_RUN, 3))
    assert _answers(SignalWatch(2), varied, np.ones((2 * DEAD_RUN, 1))) == []  # one class
    assert _answers(SignalWatch(1), varied, np.ones((2 * DEAD_RUN, 1))) == [DeadNetworkWarning]


def test_watch_no_signal_latch():
    watch = SignalWatch()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        watch.no_signal(np.array([False, True]), "the prior")
        watch.no_signal(np.array([True]), "the prior")  # not cleared yet: no repeat
        watch.no_signal(np.array([False]), "the prior")  # cleared
        watch.no_signal(np.array([True, True]), "the prior")
    assert [str(w.message)[:9] for w in caught] == ["1 of 2 ro", "2 of 2 ro"]


def test_watch_batches_follow_the_same_runs_as_single_rows():
    """``_runs`` (a batch) against the plain per-row path: runs of equal outputs of every
    length, some with one input row repeated, cut into batches of several sizes; after
    every batch both watches are in the same run, with the same state."""
    rng = np.random.default_rng(5)
    lengths = rng.integers(1, 2 * DEAD_RUN, size=40)
    outputs = np.repeat(rng.integers(0, 3, size=(40, 3)).astype(float), lengths, axis=0)
    inputs = rng.normal(size=(len(outputs), 4))
    inputs[np.repeat(rng.random(40) < 0.5, lengths)] = 1.0  # runs whose inputs never move
    cuts = np.sort(rng.choice(np.arange(1, len(outputs)), 12, replace=False))
    single, batched, start, seen = SignalWatch(), SignalWatch(), 0, []
    for stop in [*cuts.tolist(), len(outputs)]:
        for i in range(start, stop):
            seen += _answers(single, inputs[i : i + 1], outputs[i : i + 1])
        _answers(batched, inputs[start:stop], outputs[start:stop])
        state = (single._run, single._varied, single._dead)
        assert state == (batched._run, batched._varied, batched._dead), (start, stop)
        start = stop
    assert DeadNetworkWarning in seen
