"""The peers of ``benchmarks/streams.py``, each run test-then-train over one stream.

A peer is a function ``(X, y, n_classes, seed) -> (predictions, seconds)``: ``predictions[i]``
is what it predicted for row ``i`` before learning it, ``seconds`` the wall clock around
the predict-and-learn loop (converting rows to River dicts happens before the clock starts).
Targets are class codes ``0..n_classes-1``, or floats for regression (``n_classes`` is 0).

* River models take the rows as dicts with keys ``x0, x1, ...`` (every feature, zeros
  included), learn with ``learn_one`` after ``predict_one``. A model that has not seen a
  class yet predicts nothing, counted as wrong (-1); a regressor starts at 0.
* scikit-learn models learn with ``partial_fit`` one row at a time. Unlike River's
  pipelines they would see raw features, so they sit behind :class:`RunningStandardScaler`
  (written here, River's order: a row is scaled with the statistics of the rows before
  it, then learned). Before the first ``partial_fit`` they predict class 0, or 0.0.
* The Numba MLP is ``peers.OnlineMLP`` (784-128-10 on MNIST in ``benchmarks/peers.py``),
  128 hidden units, learning rate 0.01, with its own running standard scaler.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

import peers

Run = tuple[np.ndarray, float]


class Peer(NamedTuple):
    label: str
    kind: str  # "classification" or "regression"
    run: Callable[[np.ndarray, np.ndarray, int, int], Run]
    seeded: bool  # False: no random state, so the same result on a stream in a fixed order


def to_dicts(X: np.ndarray, *, sparse: bool = False) -> list[dict[str, float]]:
    """Rows as River dicts, keys ``x0..x{d-1}``; ``sparse`` leaves out the zeros."""
    keys = [f"x{k}" for k in range(X.shape[1])]
    if sparse:
        return [{keys[k]: float(row[k]) for k in np.flatnonzero(row)} for row in X]
    return [dict(zip(keys, row, strict=True)) for row in X.tolist()]


def river_loop(model, rows: list[dict], y: np.ndarray, regression: bool) -> Run:
    """Test-then-train a River model over ``rows``."""
    targets = y.tolist()
    predicted = np.zeros(len(targets), dtype=np.float64 if regression else np.int64)
    missing = 0.0 if regression else -1
    start = time.perf_counter()
    for i, x in enumerate(rows):
        p = model.predict_one(x)
        predicted[i] = missing if p is None else p
        model.learn_one(x, targets[i])
    return predicted, time.perf_counter() - start


class RunningStandardScaler:
    """Running mean and (population) standard deviation per feature, Welford's update.

    :meth:`transform` uses the rows learned so far; a feature with no spread yet becomes 0.
    """

    def __init__(self, n_features: int) -> None:
        self.n = 0
        self.mean = np.zeros(n_features)
        self.m2 = np.zeros(n_features)

    def transform(self, x: np.ndarray) -> np.ndarray:
        std = np.sqrt(self.m2 / self.n) if self.n else np.zeros_like(self.m2)
        return np.where(std > 0, (x - self.mean) / np.where(std > 0, std, 1.0), 0.0)

    def learn(self, x: np.ndarray) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)


def sklearn_loop(model, X: np.ndarray, y: np.ndarray, n_classes: int) -> Run:
    """Test-then-train a scikit-learn model with ``partial_fit`` on single rows."""
    scaler = RunningStandardScaler(X.shape[1])
    classes = np.arange(n_classes) if n_classes else None
    fit_params = {"classes": classes} if n_classes else {}
    predicted = np.zeros(len(y), dtype=np.int64 if n_classes else np.float64)
    start = time.perf_counter()
    with warnings.catch_warnings():
        # MLPRegressor on raw targets can overflow early on; that is part of the result
        warnings.simplefilter("ignore", RuntimeWarning)
        for i in range(len(y)):
            x = scaler.transform(X[i])[None, :]
            if i:
                predicted[i] = model.predict(x)[0]
            model.partial_fit(x, y[i : i + 1], **fit_params)
            scaler.learn(X[i])
    return predicted, time.perf_counter() - start


# ---------------------------------------------------------------- classification


def river_lr(X, y, n_classes, seed) -> Run:
    from river import linear_model, multiclass, preprocessing

    lr = linear_model.LogisticRegression()
    if n_classes > 2:
        lr = multiclass.OneVsRestClassifier(lr)
    return river_loop(preprocessing.StandardScaler() | lr, to_dicts(X), y, False)


def river_ht(X, y, n_classes, seed) -> Run:
    from river import tree

    return river_loop(tree.HoeffdingTreeClassifier(), to_dicts(X), y, False)


def river_arf(X, y, n_classes, seed) -> Run:
    from river import forest

    return river_loop(forest.ARFClassifier(n_models=10, seed=seed), to_dicts(X), y, False)


def sk_sgd(X, y, n_classes, seed) -> Run:
    from sklearn.linear_model import SGDClassifier

    return sklearn_loop(SGDClassifier(random_state=seed), X, y, n_classes)


def sk_mlp(X, y, n_classes, seed) -> Run:
    from sklearn.neural_network import MLPClassifier

    return sklearn_loop(MLPClassifier(random_state=seed), X, y, n_classes)


def numba_mlp(X, y, n_classes, seed) -> Run:
    model = peers.OnlineMLP(X.shape[1], n_classes, seed=seed)
    start = time.perf_counter()
    predicted = model.prequential(X, y)
    return predicted, time.perf_counter() - start


def warm_up_numba() -> None:
    """Compile (or load from the cache) the MLP kernels before anything is timed."""
    X = np.ones((2, 3))
    peers.OnlineMLP(3, 2).prequential(X, np.array([0, 1]))
    peers.OnlineMLP(3, 2, max_abs=True).prequential(X, np.array([0, 1]))
    peers.OnlineMLP(3, 2).predict(X)


# ---------------------------------------------------------------- regression


def river_linreg(X, y, n_classes, seed) -> Run:
    from river import linear_model, preprocessing

    model = preprocessing.StandardScaler() | linear_model.LinearRegression()
    return river_loop(model, to_dicts(X), y, True)


def river_htr(X, y, n_classes, seed) -> Run:
    from river import tree

    return river_loop(tree.HoeffdingTreeRegressor(), to_dicts(X), y, True)


def sk_mlp_reg(X, y, n_classes, seed) -> Run:
    from sklearn.neural_network import MLPRegressor

    return sklearn_loop(MLPRegressor(random_state=seed), X, y, 0)


PEERS: dict[str, Peer] = {
    "river_lr": Peer("River StandardScaler | LogisticRegression (OvR)", "classification",
                     river_lr, False),
    "river_ht": Peer("River HoeffdingTreeClassifier", "classification", river_ht, False),
    "river_arf": Peer("River ARFClassifier(n_models=10)", "classification", river_arf, True),
    "sk_sgd": Peer("scikit-learn SGDClassifier, partial_fit per row, running scaler",
                   "classification", sk_sgd, True),
    "sk_mlp": Peer("scikit-learn MLPClassifier, partial_fit per row, running scaler",
                   "classification", sk_mlp, True),
    "numba_mlp": Peer("Numba MLP d-128-k, per sample, running scaler", "classification",
                      numba_mlp, True),
    "river_linreg": Peer("River StandardScaler | LinearRegression", "regression",
                         river_linreg, False),
    "river_htr": Peer("River HoeffdingTreeRegressor", "regression", river_htr, False),
    "sk_mlp_reg": Peer("scikit-learn MLPRegressor, partial_fit per row, running scaler",
                       "regression", sk_mlp_reg, True),
}  # fmt: skip
