"""Feature coding around running quantiles (NumPy only).

The engine's thermometer code of a value starts at 0 and only positive values fire, so a
feature's information lies in where 0 falls within its values. With a profile's
``input_quantiles`` the estimators code each feature ``x`` around several *centres*, the
running quantiles of the values seen: per centre ``c`` two input columns
``max(x - c, 0) * input_scale`` and ``max(c - x, 0) * input_scale``. Every feature then
fires on both sides of the places where its values actually lie, whatever its offset and
range. A 0/1 feature (0 and 1 in the window, nothing else) is coded around 0 on every
centre: its "on" state, once per centre, and no "off" column (docs/engine.md, Binary
features).

The quantiles are those of a window of the last :data:`WINDOW` training rows, recomputed
after training rows 1, 2, 4, ... and then every :data:`EVERY` rows: a row is always coded
with centres computed from earlier rows only, the same whether rows arrive in one batch or
one at a time (so both adapters build the same network). Quantiles of a window ignore a
few outliers (a ×1e6 sample moves no centre) and follow a change of range within a window.
Requests never change the centres.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from hanami.estimators._common import encode_features

__all__ = ["EVERY", "WINDOW", "FeatureCoder", "quantiles"]

WINDOW = 512  # training rows whose quantiles are the centres
EVERY = 128  # once the window is full, rows between two recomputations
BINARY_AROUND_ZERO = True  # a feature with 0 and 1 and nothing else in the window: centres 0
_BLOCK_VALUES = 1 << 20  # shifted values (float64) coded at once in a training batch
_BATCH_VALUES = 1 << 15  # values sorted at once for the centres of a window's prefixes


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
            # zeros appended (np.pad did the same in 10 times the time of a new estimator's
            # first call: about 45 µs)
            self.window = np.concatenate((self.window, np.zeros((WINDOW, extra))), axis=1)
            self.centres = np.concatenate(
                (self.centres, np.zeros((self.centres.shape[0], extra))), axis=1
            )

    def encode(self, X: np.ndarray, learn: bool) -> np.ndarray:
        """Engine inputs for ``X``; with ``learn`` the rows are training rows, in order,
        and update the centres after they are coded."""
        X = np.asarray(X, dtype=np.float64)
        self.widen(X.shape[1])
        if not learn or not self.quantiles.size:
            self.seen += X.shape[0] if learn else 0
            return self._code(X, self.centres.T[None])
        centres, counts = self._fill(X[: max(0, min(X.shape[0], WINDOW - self.seen))])
        start = sum(counts)
        if start < X.shape[0]:  # the window is full: it slides
            more, runs = self._slide(X[start:])
            centres, counts = centres + more, counts + runs
        if not centres:
            return self._code(X, self.centres.T[None])
        return self._code_by_row(X, np.stack(centres), np.repeat(np.arange(len(counts)), counts))

    def _fill(self, X: np.ndarray) -> tuple[list[np.ndarray], list[int]]:
        """Put rows that still fit into the window (it is not full after them) and return
        the centres ``[d, k]`` each run of them is coded around and the runs' lengths.
        The window is then a prefix of the rows, so the centres of all its update points
        among them are worked out together (:func:`_prefix_centres`)."""
        if not X.shape[0]:
            return [], []
        seen = self.seen
        self.window[seen : seen + X.shape[0]] = X
        self.seen += X.shape[0]
        points = [1 << b for b in range(seen.bit_length(), self.seen.bit_length())]
        found = _prefix_centres(self.window, points, self.quantiles)
        return self._runs(seen, points, self.seen, found)

    def _slide(self, X: np.ndarray) -> tuple[list[np.ndarray], list[int]]:
        """Put rows into the full window and return the centres ``[d, k]`` each run of
        them is coded around and the runs' lengths, as a recomputation at each update point
        (:func:`_centres` of the window) gives them: the windows of all update points
        among the rows are worked out together
        (:func:`_window_centres`; on Bananas about 37 recomputations, each a dozen NumPy
        calls near their fixed cost, were a tenth of the pass: docs/engine.md, Time per
        sample, twenty-third round)."""
        n0, n = self.seen, X.shape[0]
        ends = list(range(self._rows_to_update(), n + 1, EVERY))
        # rows[j] is training row n0 - WINDOW + j; the window keeps row g at g % WINDOW
        rows = np.concatenate((self.window[(n0 + np.arange(WINDOW)) % WINDOW], X))
        last = n0 - 1 + np.array(ends, dtype=np.intp)[:, None]  # each window's last row
        ring = last - (last - np.arange(WINDOW)) % WINDOW  # the row at each position
        found = _window_centres(rows, ring - (n0 - WINDOW), self.quantiles, self.window.dtype)
        tail = X[-WINDOW:]
        self.window[(n0 + n - tail.shape[0] + np.arange(tail.shape[0])) % WINDOW] = tail
        self.seen = n0 + n
        return self._runs(0, ends, n, found)

    def _runs(
        self, start: int, points: list[int], end: int, found: list[np.ndarray]
    ) -> tuple[list[np.ndarray], list[int]]:
        """The centres ``[d, k]`` each run of rows from ``start`` through the update
        ``points`` to ``end`` is coded around (before the first point: the current ones)
        and the runs' lengths; ``found`` (the points' centres) ends as the current ones."""
        bounds = [start, *points] + ([end] if not points or points[-1] < end else [])
        before = self.centres
        if found:
            self.centres = found[-1]
        counts = [stop - first for first, stop in itertools.pairwise(bounds)]
        return [c.T for c in (before, *found)][: len(counts)], counts

    def _code_by_row(self, X: np.ndarray, centres: np.ndarray, which: np.ndarray) -> np.ndarray:
        """Row ``i`` coded around ``centres[which[i]]`` (``[d, k]``): a whole batch in a few
        calls instead of one per update point (on Bananas about 45 of them, each a dozen
        NumPy calls), in blocks of at most :data:`_BLOCK_VALUES` shifted values so that a
        wide stream's batch needs no more memory than its engine inputs."""
        rows = max(1, _BLOCK_VALUES // max(centres.shape[1] * centres.shape[2], 1))
        if X.shape[0] <= rows:
            return self._code(X, centres[which])
        return np.concatenate([self._code(X[i : i + rows], centres[which[i : i + rows]])
                               for i in range(0, X.shape[0], rows)])  # fmt: skip

    def _code(self, X: np.ndarray, centres: np.ndarray) -> np.ndarray:
        """``X`` coded around ``centres``: ``[d, k]`` per row, or one ``[1, d, k]`` for all."""
        shifted = X[:, :, None] - centres
        return encode_features(shifted.reshape(X.shape[0], -1), self.input_scale)

    def _rows_to_update(self) -> int:
        """Training rows still coded with the current centres: the update points are
        training rows 1, 2, 4, ..., ``WINDOW``, then every ``EVERY`` rows."""
        n = self.seen
        if n < WINDOW:
            return (1 << n.bit_length()) - n
        return EVERY - (n - WINDOW) % EVERY


def _window_centres(
    rows: np.ndarray, index: np.ndarray, q: np.ndarray, dtype: np.dtype
) -> list[np.ndarray]:
    """:func:`_centres` of each window ``rows[index[i]]`` (its rows in the window's ring
    order), bit for bit: the same values in the same order partitioned at the same
    positions, all windows' columns in one call per :data:`_BLOCK_VALUES` values. The
    columns take the window's ``dtype`` object, as :func:`_centres`' copy does (pickles
    compare equal)."""
    d, size = rows.shape[1], index.shape[1]
    kth = _positions(size, q.dtype.str, q.tobytes())[2]
    per = max(1, _BLOCK_VALUES // (d * size))
    found: list[np.ndarray] = []
    for i in range(0, index.shape[0], per):
        part = index[i : i + per]
        columns = np.empty((part.shape[0], d, size), dtype=dtype)
        columns[...] = rows[part].transpose(0, 2, 1)
        columns = columns.reshape(-1, size)
        columns.partition(kth, axis=1)
        centres = _blend(columns, q)  # [k, windows * d]
        if BINARY_AROUND_ZERO:
            centres[:, _zero_one(columns)] = 0.0
        found.extend(centres.reshape(centres.shape[0], -1, d).transpose(1, 0, 2).copy())
    return found


def _centres(window: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The centres ``[k, d]`` of a window: its quantiles ``q``, 0 for a 0/1 column."""
    columns = _partitioned(window, q)
    centres = _blend(columns, q)
    if BINARY_AROUND_ZERO:
        centres[:, _zero_one(columns)] = 0.0
    return centres


def _prefix_centres(window: np.ndarray, sizes: list[int], q: np.ndarray) -> list[np.ndarray]:
    """:func:`_centres` of ``window[:m]`` for each of the increasing ``sizes``, bit for bit.

    A window's first update points (rows 1, 2, 4, ...) are prefixes of the same rows, each
    recomputation about a dozen NumPy calls near their fixed cost (wine's 8 were about two
    thirds of its coder's time in a pass): the prefixes of up to :data:`_BATCH_VALUES`
    values in all are sorted together, each padded with +inf, and read at their own
    positions (docs/engine.md, Time per sample, Eighth round). Among equal values a sort
    may put another one at a position than NumPy's partition; their bits differ only for
    NaN payloads and signed zeros, so windows holding NaN or -0.0 take :func:`_centres`
    one by one."""
    d = window.shape[1]
    batch = 0
    while batch < len(sizes) and (batch + 1) * d * sizes[batch] <= _BATCH_VALUES:
        batch += 1
    values = window[: sizes[batch - 1]] if batch > 1 else window[:0]
    if batch < 2 or np.isnan(values).any() or (np.signbit(values) & (values == 0)).any():
        batch = 0
    rest = [_centres(window[:m], q) for m in sizes[batch:]]
    if not batch:
        return rest
    ends, t, upper, pad, last = _prefix_positions(tuple(sizes[:batch]), q.dtype.str,
                                                  q.tobytes())  # fmt: skip
    stack = np.empty((batch, d, values.shape[0]), dtype=values.dtype)  # keeps its dtype
    stack[...] = values.T  # object, as the quantiles of one window do (pickles compare equal)
    np.copyto(stack, np.inf, where=pad)
    stack.sort(axis=2)
    read = np.ascontiguousarray(np.take_along_axis(stack, ends, axis=2).transpose(0, 2, 1))
    low, high = read[:, : t.shape[1]], read[:, t.shape[1] :]  # below and above each quantile
    step = high - low
    out = low + step * t  # the steps of _blend, elementwise on [prefix, q, d]
    np.subtract(high, step * (1 - t), out=out, where=upper)
    if BINARY_AROUND_ZERO:  # _zero_one: least 0, largest 1 (then nothing is inf), and
        binary = (stack[:, :, 0] == 0) & (np.take_along_axis(stack, last, axis=2)[..., 0] == 1)
        if binary.any():  # nothing in between
            binary[binary] = ~((stack[binary] > 0) & (stack[binary] < 1)).any(axis=1)
            out[np.broadcast_to(binary[:, None, :], out.shape)] = 0.0
    return [*out, *rest]


def _zero_one(columns: np.ndarray) -> np.ndarray:
    """Per column: holds both 0 and 1 and nothing else (a constant 1 is not binary yet).

    ``columns`` are the window's columns, one per row, each with its least value first and
    its largest last, as :func:`_partitioned` leaves them for the centres: the test reads
    its minimum and maximum there and looks value by value only at the columns whose least
    value is 0 and largest 1 (a copy and two reductions of its own took 7.4 µs beside the
    quantiles' 16.6 on 64 of wine's rows; docs/engine.md, Time per sample, Eighth round).
    A column holding
    NaN has it last, so it is not binary, as with a ``max``."""
    binary = (columns[:, 0] == 0) & (columns[:, -1] == 1)
    if binary.any():
        inside = columns[binary]
        binary[binary] = np.all((inside == 0) | (inside == 1), axis=1)
    return binary


def quantiles(values: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.quantile(values, q, axis=0)`` (its default linear method), bit for bit, in a
    fraction of its time: a window's centres are recomputed every 128 training rows, and
    ``np.quantile``'s fixed cost (about 60 µs) was a visible part of a short stream's time
    (docs/engine.md, Time per sample)."""
    return _blend(_partitioned(values, q), q)


def _partitioned(values: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The columns of ``values`` as rows (a copy), each partitioned as NumPy's quantile
    partitions it: at the order statistics :func:`_blend` reads, its first and its last."""
    q = np.asarray(q)
    columns = values.T.copy()  # a partition per column, in place on contiguous rows
    columns.partition(_positions(values.shape[0], q.dtype.str, q.tobytes())[2], axis=1)
    return columns


def _blend(columns: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The quantiles ``q`` of each row of :func:`_partitioned` ``columns``, ``[len(q), d]``.

    The same steps as NumPy's: the position ``(n - 1) * q`` between two order statistics
    (both the largest value from the last position on), and the linear blend computed
    from the nearer end; a column holding NaN gives the NaN that sorts last.
    """
    q = np.asarray(q)
    below, above, _, t, upper = _positions(columns.shape[1], q.dtype.str, q.tobytes())
    low, high = columns[:, below].T.copy(), columns[:, above].T.copy()  # C order, as NumPy's
    step = high - low
    out = low + step * t  # ufuncs, as NumPy's: the result keeps the values' dtype object
    np.subtract(high, step * (1 - t), out=out, where=upper)  # (pickles compare equal)
    nan = np.isnan(columns[:, -1])
    if nan.any():
        out[:, nan] = columns[nan, -1]
    return out


@functools.lru_cache(maxsize=32)
def _prefix_positions(sizes: tuple[int, ...], dtype: str, q: bytes) -> tuple[np.ndarray, ...]:
    """:func:`_positions` of each size, for :func:`_prefix_centres`'s stack ``[prefix, d,
    sizes[-1]]``: where to read the order statistics below, then above each quantile
    (``[prefix, 1, 2 q]``), the blend weights and where they count from the upper end
    (``[prefix, q, 1]``), the padding (``[prefix, 1, sizes[-1]]``) and the last value."""
    each = [_positions(m, dtype, q) for m in sizes]
    last = np.array(sizes)[:, None] - 1
    ends = np.array([np.concatenate(p[:2]) for p in each])
    parts = (np.where(ends < 0, last, ends)[:, None, :],
             np.array([p[3] for p in each]), np.array([p[4] for p in each]),
             (np.arange(sizes[-1]) > last)[:, None, :], last[:, :, None])  # fmt: skip
    for part in parts:
        part.setflags(write=False)  # shared by every later call
    return parts


@functools.lru_cache(maxsize=32)
def _positions(n: int, dtype: str, q: bytes) -> tuple[np.ndarray, ...]:
    """For :func:`quantiles` of ``n`` values: the order statistics below and above each
    quantile, the positions to partition at, the blend weights and where the blend counts
    from the upper end. A full window asks for the same ones at every recomputation, and
    working them out was about a dozen NumPy calls of each (docs/engine.md, Time per
    sample)."""
    at = (n - 1) * np.frombuffer(q, dtype=dtype)
    below = np.floor(at).astype(np.intp)
    above = below + 1
    last = at >= n - 1
    below[last] = above[last] = -1
    kth = np.unique(np.concatenate(([0, -1], below, above)))
    t = (at - below)[:, None]
    parts = (below, above, kth, t, t >= 0.5)
    for part in parts:
        part.setflags(write=False)  # shared by every later call
    return parts
