"""A prepared direct-I/O train step of one known shape, on an in-process cluster.

A ping-pong client sends the same step shape after shape: one input buffer, one expected
buffer, the same names and sizes. The general path (``train_after_reply``, then
``queue_train`` and ``train``) resolves the cluster, its journal, the record's headers, the
lock (three times), two context managers and four dict copies again on every step: about a
dozen Python calls, each 1-1.5 µs once the server waits for the client between steps
(docs/performance.md, Direct I/O: one step plan per shape). A :class:`StepPlan` resolves
them once; a step is then its record written, its reply, and the pass. It applies only while
everything it resolved still holds, and otherwise declines before changing anything, so the
general path (the one Ray runs) takes the step with the same result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np

from hanami.server.runtime.executor import METRICS_REFRESH_S, InProcessExecutor, LocalEntry
from hanami.server.runtime.journal import TRAIN_STEP, StepJournal, encode_step

__all__ = ["StepPlan"]


class StepPlan:
    """One train step shape (``{input: x}``, ``{output: y}``, their sizes) on one cluster."""

    __slots__ = ("_entry", "_executor", "_journal", "_journals", "_uuid", "cluster", "head", "key")

    def __init__(
        self,
        executor: InProcessExecutor,
        uuid: str,
        journals: Mapping[str, StepJournal],
        inputs: Mapping[str, np.ndarray],
        expected: Mapping[str, np.ndarray],
    ) -> None:
        """The plan of a step shaped like this one (:meth:`JournaledSteps.step_plan`)."""
        ((in_name, x),) = inputs.items()
        ((out_name, y),) = expected.items()
        self._executor, self._uuid, self._journals = executor, uuid, journals
        self._entry: LocalEntry = executor.local_entry(uuid)
        self._journal = journals[uuid]
        self.cluster = self._entry.cluster
        self.key = (in_name, x.size, out_name, y.size)
        """What a step must match: the input's name and size, the expected's."""
        parts = encode_step(TRAIN_STEP, inputs, expected)
        self.head = (bytes(parts[0]), bytes(parts[1]), bytes(parts[3]))
        """The record's payload headers (kind and count, the input's, the expected's)."""

    def run(self, x: np.ndarray, y: np.ndarray, reply: Callable[[], None]) -> float | None:
        """Record the step, ``reply()``, then the pass; the seconds the record's commit
        waited for the disk. None: not run, nothing changed (the cluster busy, deleted,
        replaced or autosaved since: the general path takes the step)."""
        entry, journal = self._entry, self._journal
        if not entry.lock.acquire(blocking=False):
            return None
        try:
            if (
                entry.deleted
                or entry.cluster is not self.cluster
                or journal.size == 0  # autosaved since: the general path checks the state
                or self._journals.get(self._uuid) is not journal
            ):
                return None
            head = self.head
            mark = journal.write(
                [head[0], head[1], memoryview(x).cast("B"), head[2], memoryview(y).cast("B")]
            )
            waited = journal.commit(mark)
            reply()
            entry.revision += 1
            try:  # rows no wider than the step's that built the plan: no size changes;
                # values the session's parser checked (``ClusterIOParser``): not again
                if not self.cluster.train_row(x, y):  # rows narrower than the cluster's
                    self.cluster.train({self.key[0]: x}, {self.key[2]: y}, check_input=False)
            except BaseException:
                journal.retract(mark)
                raise
            finally:
                if time.time() - entry.metrics_at >= METRICS_REFRESH_S:
                    self._executor.refresh(self._uuid)
            entry.position = mark.position
            return waited
        finally:
            entry.lock.release()
