"""Warnings for answers that carry no information (NumPy only, cheap to import).

A growing network can answer without evidence: a row whose features activate nothing the
network has learned reaches no output neuron (every output is exactly 0), and a network
that never grew (inputs all below the activation threshold, a template that blocks growth,
only zero rows learned) answers the same for every row. The estimators then fall back to the
best guess without evidence (the class frequencies or the mean target seen in training) and
say so with these warnings instead of answering a silent uniform.

Definitions
    *No signal* (:class:`NoSignalWarning`): for a row, every class output (classifiers) or
    any output (regressors, which fall back output by output) is 0: the engine's output
    when nothing reached the output neuron.

    *Dead network* (:class:`DeadNetworkWarning`): the last :data:`DEAD_RUN` answers in a row
    (training rows, whose outputs the engine returns before learning each of them, and
    predicted rows, across calls) had exactly the same output vector although at least two
    of their inputs differ. A classifier's answers count once it knows two classes (with one
    class there is only one answer). A dead network repeats its answer forever; healthy
    ones measured on seven classification streams of ``benchmarks/stream_data.py`` (first
    5,000 rows, seeds 0-2, default ``HanamiClassifier``) never gave the same output vector
    more than 4 times in a row, in training or in prediction.

Each warning is raised once, then not again for the same estimator until its condition
clears (an answer with another output vector for a dead network; an answer whose rows all
have signal for no signal). The checks run on outputs already computed: a few vectorised
comparisons per call (measured: about 0.06 µs per row on a 20,000-row call, 5 µs per
one-row call).
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["DEAD_RUN", "DeadNetworkWarning", "NoSignalWarning", "SignalWatch"]

#: Identical answers in a row (for different inputs) that make a network dead.
DEAD_RUN = 32


class DeadNetworkWarning(UserWarning):
    """The network answers the same whatever the input: its outputs carry no information."""


class NoSignalWarning(UserWarning):
    """Some rows reached no output neuron; their answer is the training prior or mean."""


class SignalWatch:
    """The per-estimator state behind both warnings (kept out of the model's parameters)."""

    def __init__(self, min_outputs: int = 1) -> None:
        # a classifier that knows one class has one possible answer: nothing to judge
        self._min_outputs = min_outputs
        self._last_out: np.ndarray | None = None  # output vector of the last answer
        self._last_in: np.ndarray | None = None  # input row of the last answer
        self._run = 0  # answers in a row with the output vector ``_last_out``
        self._varied = False  # whether the inputs of that run differ
        self._dead = False  # DeadNetworkWarning raised for the current run
        self._no_signal = False  # NoSignalWarning raised and not cleared since

    def answers(self, inputs: np.ndarray, outputs: np.ndarray) -> None:
        """Follow the answers ``outputs[i]`` for ``inputs[i]`` (in order); warn when dead."""
        n = outputs.shape[0]
        if n == 0 or outputs.shape[1] < self._min_outputs:
            return
        continued = _equal(self._last_out, outputs[0])  # the last call's run goes on
        moved = not _equal(self._last_in, inputs[0])
        if n == 1:  # River's case: plain Python, about 6 times cheaper than _runs
            length = self._run + 1 if continued else 1
            varies = continued and (self._varied or moved)
            lengths, varied, ends = [length], [varies], [1]
            dead = [0] if length >= DEAD_RUN and varies else []
        else:
            lengths, varied, ends = _runs(inputs, outputs, continued, moved)
            if continued:
                lengths[0] += self._run
                varied[0] |= self._varied or moved
            dead = np.flatnonzero((lengths >= DEAD_RUN) & varied).tolist()
        fresh = [k for k in dead if not (k == 0 and continued and self._dead)]
        if fresh:
            k = fresh[-1]
            warnings.warn(
                f"the network answered {int(lengths[k])} rows in a row with the same outputs "
                f"{np.round(outputs[ends[k] - 1], 4).tolist()} although their inputs differ, "
                "so its answers carry no information. Nothing may reach the outputs: check "
                "input_scale (scaled features below the profile's threshold activate nothing), "
                "that X is not all zeros, and the profile or template",
                DeadNetworkWarning,
                stacklevel=3,
            )
        self._dead = bool(dead) and dead[-1] == len(lengths) - 1
        self._run, self._varied = int(lengths[-1]), bool(varied[-1])
        self._last_out, self._last_in = outputs[-1].copy(), inputs[-1].copy()

    def no_signal(self, rows: np.ndarray, fallback: str) -> None:
        """Warn (once until cleared) when a row of an answer had no signal; ``rows`` flags
        them and ``fallback`` names what they were answered instead."""
        count = int(np.count_nonzero(rows))
        if count and not self._no_signal:
            warnings.warn(
                f"{count} of {rows.shape[0]} rows reached no output neuron (their features "
                f"activate nothing the network learned); their answer is {fallback}",
                NoSignalWarning,
                stacklevel=3,
            )
        self._no_signal = count > 0


def _runs(
    inputs: np.ndarray, outputs: np.ndarray, continued: bool, moved: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal consecutive output vectors in one call: their lengths, whether their
    inputs differ (after each run's first row) and where they end (exclusive)."""
    n = outputs.shape[0]
    same = np.empty(n, dtype=bool)  # same output vector as the previous answer
    same[0] = continued
    same[1:] = outputs[1:, 0] == outputs[:-1, 0]  # column by column: a reduction along
    for j in range(1, outputs.shape[1]):  # rows of 2-10 values is several times slower
        same[1:] &= outputs[1:, j] == outputs[:-1, j]
    moves = np.zeros(n, dtype=bool)  # another input row than the previous answer, only
    moves[0] = moved  # where it is read: inside a run (a live network has few such rows)
    inside = np.flatnonzero(same[1:]) + 1
    moves[inside] = (inputs[inside] != inputs[inside - 1]).any(axis=1)
    starts = np.flatnonzero(~same)
    first = np.r_[0, starts] if continued else starts
    ends = np.r_[first[1:], n]
    moved_sum = np.cumsum(moves)
    return ends - first, moved_sum[ends - 1] - moved_sum[first] > 0, ends


def _equal(a: np.ndarray | None, b: np.ndarray) -> bool:
    return a is not None and a.shape == b.shape and bool((a == b).all())
