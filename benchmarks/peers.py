"""Peers measured beside the engine, in the same process and run: a per-sample Numba MLP
784-128-10 (inputs / 255, the usual normalisation) and scikit-learn's SGDClassifier over
one pass. Both see the same MNIST files in file order.

The MLP's learning rate 0.01 was the best of 0.005 / 0.01 / 0.02 / 0.05 on one epoch
(95.74 / 96.48 / 95.61 / 92.84 %), so the engine is compared with a well-tuned peer.

:class:`OnlineMLP` is the same network and update for any number of inputs, hidden units and
classes, run test-then-train behind a running scaler (``benchmarks/streams.py``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numba
import numpy as np

from hanami.cli.bench import DEFAULT_DATA, load_mnist


@numba.njit(cache=True, nogil=True, fastmath=False)
def _mlp_step(x, label, W1, b1, W2, b2, lr, h, z):
    """Learn one sample (ReLU hidden layer, softmax output, cross-entropy, plain SGD); returns
    the class predicted for it before the update. ``h`` and ``z`` are scratch buffers."""
    for j in range(h.shape[0]):
        h[j] = b1[j]
    for k in range(x.shape[0]):
        v = x[k]
        if v != 0.0:
            for j in range(h.shape[0]):
                h[j] += v * W1[k, j]
    for j in range(h.shape[0]):
        h[j] = max(h[j], np.float32(0.0))
    m = np.float32(-1e30)
    predicted = 0
    for o in range(z.shape[0]):
        s = b2[o]
        for j in range(h.shape[0]):
            s += h[j] * W2[j, o]
        z[o] = s
        if s > m:
            predicted = o
        m = max(m, s)
    total = np.float32(0.0)
    for o in range(z.shape[0]):
        z[o] = np.exp(z[o] - m)
        total += z[o]
    for o in range(z.shape[0]):
        z[o] = z[o] / total - (np.float32(1.0) if o == label else np.float32(0.0))
    for j in range(h.shape[0]):
        if h[j] > 0.0:
            g = np.float32(0.0)
            for o in range(z.shape[0]):
                g += z[o] * W2[j, o]
            for o in range(z.shape[0]):
                W2[j, o] -= lr * z[o] * h[j]
            for k in range(x.shape[0]):
                if x[k] != 0.0:
                    W1[k, j] -= lr * g * x[k]
            b1[j] -= lr * g
    for o in range(z.shape[0]):
        b2[o] -= lr * z[o]
    return predicted


@numba.njit(cache=True, nogil=True)
def _mlp_epoch(X, y, W1, b1, W2, b2, lr):
    """One epoch of per-sample SGD over ``X`` as given."""
    h = np.zeros(W1.shape[1], dtype=np.float32)
    z = np.zeros(W2.shape[1], dtype=np.float32)
    for i in range(X.shape[0]):
        _mlp_step(X[i], y[i], W1, b1, W2, b2, lr, h, z)


@numba.njit(cache=True, nogil=True)
def _mlp_prequential(X, y, W1, b1, W2, b2, lr, max_abs, seen, centre, spread, predicted):
    """Test-then-train over ``X`` (float64, raw) behind a running scaler.

    Each row is scaled with the statistics of the rows before it (River's order: transform,
    then learn): standard scaling ``(x - mean) / std`` from Welford's ``centre`` (mean) and
    ``spread`` (sum of squared deviations), or, with ``max_abs``, ``x / max|x|`` with the
    running maximum in ``spread``. A zero scale gives 0. ``seen[0]`` counts the rows.
    """
    h = np.zeros(W1.shape[1], dtype=np.float32)
    z = np.zeros(W2.shape[1], dtype=np.float32)
    xs = np.zeros(X.shape[1], dtype=np.float32)
    for i in range(X.shape[0]):
        n = seen[0]
        for k in range(X.shape[1]):
            if max_abs:
                scale = spread[k]
                xs[k] = X[i, k] / scale if scale > 0.0 else 0.0
            else:
                std = np.sqrt(spread[k] / n) if n > 0.0 else 0.0
                xs[k] = (X[i, k] - centre[k]) / std if std > 0.0 else 0.0
        predicted[i] = _mlp_step(xs, y[i], W1, b1, W2, b2, lr, h, z)
        seen[0] = n + 1.0
        for k in range(X.shape[1]):
            v = X[i, k]
            if max_abs:
                spread[k] = max(spread[k], abs(v))
            else:
                delta = v - centre[k]
                centre[k] += delta / (n + 1.0)
                spread[k] += delta * (v - centre[k])


@numba.njit(cache=True, nogil=True)
def _mlp_predict(X, W1, b1, W2, b2):
    h = np.maximum(X @ W1 + b1, np.float32(0.0))
    return np.argmax(h @ W2 + b2, axis=1)


def mlp(data: dict[str, np.ndarray], seed: int = 1, lr: float = 0.01) -> dict:
    rng = np.random.default_rng(seed)
    X = (data["train_x"] / 255.0).astype(np.float32)
    Xt = (data["test_x"] / 255.0).astype(np.float32)
    W1 = (rng.normal(0, np.sqrt(2 / 784), (784, 128))).astype(np.float32)
    W2 = (rng.normal(0, np.sqrt(2 / 128), (128, 10))).astype(np.float32)
    b1, b2 = np.zeros(128, np.float32), np.zeros(10, np.float32)
    c0 = time.perf_counter()
    _mlp_epoch(X[:2], data["train_y"][:2], W1.copy(), b1.copy(), W2.copy(), b2.copy(),
               np.float32(lr))  # fmt: skip
    _mlp_predict(Xt[:2], W1, b1, W2, b2)
    compile_s = time.perf_counter() - c0
    t0 = time.process_time()
    _mlp_epoch(X, data["train_y"], W1, b1, W2, b2, np.float32(lr))
    train = time.process_time() - t0
    t0 = time.process_time()
    predicted = _mlp_predict(Xt, W1, b1, W2, b2)
    test = time.process_time() - t0
    return {"name": "numba MLP 784-128-10, per sample, inputs/255", "train_cpu_s": round(train, 3),
            "test_cpu_s": round(test, 3), "compile_s": round(compile_s, 3),
            "accuracy": round(100 * float((predicted == data["test_y"]).mean()), 2)}  # fmt: skip


def sgd(data: dict[str, np.ndarray], seed: int = 1) -> dict:
    from sklearn.linear_model import SGDClassifier

    X = (data["train_x"] / 255.0).astype(np.float32)
    Xt = (data["test_x"] / 255.0).astype(np.float32)
    clf = SGDClassifier(random_state=seed)
    t0 = time.process_time()
    clf.partial_fit(X, data["train_y"], classes=np.arange(10))
    train = time.process_time() - t0
    t0 = time.process_time()
    accuracy = clf.score(Xt, data["test_y"])
    test = time.process_time() - t0
    return {"name": "scikit-learn SGDClassifier, one pass, inputs/255",
            "train_cpu_s": round(train, 3), "test_cpu_s": round(test, 3),
            "accuracy": round(100 * accuracy, 2)}  # fmt: skip


class OnlineMLP:
    """The per-sample MLP for any stream: ``n_inputs``-``n_hidden``-``n_classes``, raw
    features scaled by a running standard scaler (or, with ``max_abs``, a running max-abs
    scaler), learned test-then-train. Weights as in :func:`mlp` (He normal, seeded)."""

    def __init__(self, n_inputs: int, n_classes: int, *, n_hidden: int = 128,
                 lr: float = 0.01, max_abs: bool = False, seed: int = 0) -> None:  # fmt: skip
        rng = np.random.default_rng(seed)
        self.W1 = rng.normal(0, np.sqrt(2 / n_inputs), (n_inputs, n_hidden)).astype(np.float32)
        self.W2 = rng.normal(0, np.sqrt(2 / n_hidden), (n_hidden, n_classes)).astype(np.float32)
        self.b1 = np.zeros(n_hidden, np.float32)
        self.b2 = np.zeros(n_classes, np.float32)
        self.lr = np.float32(lr)
        self.max_abs = max_abs
        self.seen = np.zeros(1)
        self.centre = np.zeros(n_inputs)
        self.spread = np.zeros(n_inputs)

    def prequential(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The class predicted for each row just before it was learned (continues)."""
        predicted = np.zeros(len(y), dtype=np.int64)
        _mlp_prequential(np.ascontiguousarray(X, dtype=np.float64),
                         np.ascontiguousarray(y, dtype=np.int64), self.W1, self.b1, self.W2,
                         self.b2, self.lr, self.max_abs, self.seen, self.centre, self.spread,
                         predicted)  # fmt: skip
        return predicted

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Classes for rows scaled with the running statistics so far (no learning)."""
        X = np.asarray(X, dtype=np.float64)
        if self.max_abs:
            scale = self.spread
            centre = np.zeros_like(scale)
        else:
            scale = np.sqrt(self.spread / self.seen[0]) if self.seen[0] else self.spread * 0
            centre = self.centre
        safe = np.where(scale > 0, scale, 1.0)
        Xs = np.where(scale > 0, (X - centre) / safe, 0.0).astype(np.float32)
        return _mlp_predict(Xs, self.W1, self.b1, self.W2, self.b2)


if __name__ == "__main__":
    data = load_mnist(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATA)
    print(json.dumps([mlp(data), sgd(data)]))
