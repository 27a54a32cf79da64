"""Feature coding around running quantiles (NumPy only).

The engine's thermometer code of a value starts at 0 and only positive values fire, so a
feature's information lies in where 0 falls within its values. With a profile's
``input_quantiles`` the estimators code each feature ``x`` around several *centres*, the
running quantiles of the values seen: per centre ``c`` two input columns
``max(x - c, 0) * input_scale`` and ``max(c - x, 0) * input_scale``. Every feature then
fires on both sides of the places where its values actually lie, whatever its offset and
range; a binary feature (centres 0 and 1) gets an "on" and an "off" column.

The quantiles are those of a window of the last :data:`WINDOW` training rows, recomputed
after training rows 1, 2, 4, ... and then every :data:`EVERY` rows: a row is always coded
with centres computed from earlier rows only, the same whether rows arrive in one batch or
one at a time (so both adapters build the same network). Quantiles of a window ignore a
few outliers (a ×1e6 sample moves no centre) and follow a change of range within a window.
Requests never change the centres.
"""

from __future__ import annotations

import numpy as np

from hanami.estimators._common import encode_features

__all__ = ["EVERY", "WINDOW", "FeatureCoder"]

WINDOW = 512  # training rows whose quantiles are the centres
EVERY = 128  # once the window is full, rows between two recomputations


class FeatureCoder:
    """Codes ``[n, d]`` features as ``[n, 2 * d * k]`` engine inputs around ``k`` centres
    per feature (``k = len(quantiles)``; no quantiles: one centre at 0, the plain code)."""

    def __init__(self, quantiles: tuple[float, ...], input_scale: float) -> None:
        self.quantiles = np.asarray(quantiles, dtype=np.float64)
        self.input_scale = float(input_scale)
        self.seen = 0  # training rows coded so far
        self.window = np.zeros((WINDOW, 0))  # the last training rows, ring buffer
        self.centres = np.zeros((max(len(quantiles), 1), 0))  # [k, d]

    @property
    def width(self) -> int:
        """Engine input columns per feature."""
        return 2 * self.centres.shape[0]

    def widen(self, d: int) -> None:
        """Grow to ``d`` features; earlier rows count as 0 for the new ones (as they were
        coded: a missing feature is 0)."""
        extra = d - self.centres.shape[1]
        if extra > 0:
            self.window = np.pad(self.window, ((0, 0), (0, extra)))
            self.centres = np.pad(self.centres, ((0, 0), (0, extra)))

    def encode(self, X: np.ndarray, learn: bool) -> np.ndarray:
        """Engine inputs for ``X``; with ``learn`` the rows are training rows, in order,
        and update the centres after they are coded."""
        X = np.asarray(X, dtype=np.float64)
        self.widen(X.shape[1])
        if not learn or not self.quantiles.size:
            self.seen += X.shape[0] if learn else 0
            return self._code(X)
        parts, start = [], 0
        while start < X.shape[0]:
            stop = min(X.shape[0], start + self._rows_to_update())
            parts.append(self._code(X[start:stop]))
            self._remember(X[start:stop])
            start = stop
        return np.concatenate(parts) if parts else self._code(X)

    def _code(self, X: np.ndarray) -> np.ndarray:
        shifted = X[:, :, None] - self.centres.T[None, :, :]
        return encode_features(shifted.reshape(X.shape[0], -1), self.input_scale)

    def _rows_to_update(self) -> int:
        """Training rows still coded with the current centres: the update points are
        training rows 1, 2, 4, ..., ``WINDOW``, then every ``EVERY`` rows."""
        n = self.seen
        if n < WINDOW:
            return (1 << n.bit_length()) - n
        return EVERY - (n - WINDOW) % EVERY

    def _remember(self, X: np.ndarray) -> None:
        """Put rows (no more than :meth:`_rows_to_update`) into the window, and recompute
        the centres when the last one reached an update point."""
        self.window[(self.seen + np.arange(X.shape[0])) % WINDOW] = X
        self.seen += X.shape[0]
        n = self.seen
        if (n & (n - 1) == 0) if n <= WINDOW else (n - WINDOW) % EVERY == 0:
            filled = self.window[: min(self.seen, WINDOW)]
            self.centres = np.quantile(filled, self.quantiles, axis=0)
