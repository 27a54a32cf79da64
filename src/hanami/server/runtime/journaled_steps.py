"""The journaled direct-I/O steps of :class:`~hanami.server.runtime.registry.ClusterRegistry`.

A mixin of their own because a direct-I/O step is a job apart from keeping the clusters:
the record is written before the pass and committed (synced) around it, so that an
acknowledged step survives a crash (see :mod:`hanami.server.runtime.journal`). The registry
supplies the executor, the open journals and the autosave that starts a journal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future

import numpy as np

from hanami.server.runtime.executor import ClusterExecutor, ClusterNotFound, InProcessExecutor
from hanami.server.runtime.journal import REQUEST_STEP, TRAIN_STEP, Mark, StepJournal
from hanami.server.runtime.replicas import Replicas
from hanami.server.runtime.step_plan import StepPlan

__all__ = ["JournaledSteps"]


class JournaledSteps:
    """``train_direct``, ``train_frames``, ``train_after_reply`` and ``request_direct`` for the
    registry."""

    # supplied by ClusterRegistry
    executor: ClusterExecutor
    replicas: Replicas | None
    _journals: dict[str, StepJournal]
    own: Callable[[str], None]
    is_changed: Callable[[str], bool]
    autosave: Callable[..., bool]
    _catch_up: Callable[[str], None]

    def _journal(self, cluster_uuid: str) -> StepJournal:
        """The cluster's journal, once its records would replay on top of the autosave (call
        it holding the cluster: a change made outside the journal is autosaved first)."""
        journal = self._journals.get(cluster_uuid)
        if journal is None and self.executor.shared and self.replicas is not None:
            self.replicas.take(cluster_uuid)  # the holder writes the journal
            self.own(cluster_uuid)
            self._catch_up(cluster_uuid)  # what a former holder journaled but never sent
            journal = self._journals.get(cluster_uuid)
        if journal is None or (journal.size == 0 and self.is_changed(cluster_uuid)):
            if not self.autosave(cluster_uuid, force=True):
                raise ClusterNotFound(cluster_uuid)
            journal = self._journals[cluster_uuid]
        return journal

    def train_direct(
        self,
        cluster_uuid: str,
        inputs: Mapping[str, np.ndarray],
        expected: Mapping[str, np.ndarray],
    ) -> None:
        """A train step, journaled: when this returns, it may be acknowledged.

        The record is written before the pass and committed after it, outside the
        cluster's lock, so steps of other sessions can share a sync."""
        with self.executor.exclusive(cluster_uuid):
            journal = self._journal(cluster_uuid)
            mark = journal.append(TRAIN_STEP, inputs, expected)
            try:
                self.executor.queue_train(cluster_uuid, inputs, expected, mark.position)
            except BaseException:
                journal.retract(mark)
                raise
        journal.commit(mark)

    def train_frames(
        self,
        cluster_uuid: str,
        steps: Sequence[tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]]],
        answer: Callable[[int, Exception | None], None],
    ) -> None:
        """Train steps back to back under one hold of the cluster (a batched session's
        frames: one hop to this thread for them all); ``answer(i, error)`` once step ``i``
        is committed, or refused. In process, step ``i + 1``'s record is written in a pool
        thread while step ``i`` trains (the sync, if any, starts before the pass too); the
        lock, held until then, keeps another step's record from coming between the two. (A
        shared executor only queues the pass, and rebuilds a lost actor from the journal:
        no record there is written before its step is queued.)"""
        answered = 0
        try:
            with self.executor.exclusive(cluster_uuid):
                journal = self._journal(cluster_uuid)
                ahead: Future[Mark] | None = None
                try:
                    for answered, (inputs, expected) in enumerate(steps):
                        written, ahead = ahead, None
                        try:
                            mark = (written.result() if written is not None
                                    else journal.append(TRAIN_STEP, inputs, expected))  # fmt: skip
                        except Exception as exc:  # the journal refuses the step
                            answer(answered, exc)
                            continue
                        if answered + 1 < len(steps) and not self.executor.shared:
                            ahead = journal.append_ahead(TRAIN_STEP, *steps[answered + 1])
                        journal.start_sync()
                        try:
                            self.executor.queue_train(cluster_uuid, inputs, expected, mark.position)
                        except BaseException as exc:
                            _retract(journal, ahead, mark)
                            ahead = None  # the next step's record is written again
                            if not isinstance(exc, Exception):
                                raise
                            answer(answered, exc)
                            continue
                        answer(answered, _committed(journal, mark))
                finally:  # left early: the record written ahead is not run, nor kept
                    _retract(journal, ahead)
            answered = len(steps)
        except BaseException as exc:  # never leave a step unanswered
            for rest in range(answered, len(steps)):
                answer(rest, exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
            raise

    @contextlib.contextmanager
    def train_after_reply(
        self,
        cluster_uuid: str,
        inputs: Mapping[str, np.ndarray],
        expected: Mapping[str, np.ndarray],
    ) -> Iterator[float]:
        """A train step whose record is committed when the block starts (it may be
        acknowledged there; the block gets the seconds the commit waited for the disk) and
        whose pass runs when the block ends, whatever happened in it. The caller holds the
        cluster for all of it; the step must not be refusable."""
        journal = self._journal(cluster_uuid)
        mark = journal.append(TRAIN_STEP, inputs, expected)
        waited = journal.commit(mark)
        try:
            yield waited
        finally:
            try:
                self.executor.queue_train(cluster_uuid, inputs, expected, mark.position)
            except BaseException:
                journal.retract(mark)
                raise

    def step_plan(
        self,
        cluster_uuid: str,
        inputs: Mapping[str, np.ndarray],
        expected: Mapping[str, np.ndarray],
    ) -> StepPlan | None:
        """The plan of train steps shaped like this one, just journaled by
        :meth:`train_after_reply` (None: not a shape a plan takes, or not in this process)."""
        buffers = (*inputs.values(), *expected.values())
        if (
            not isinstance(self.executor, InProcessExecutor)
            or len(inputs) != 1
            or len(expected) != 1
            or any(
                b.dtype != np.float32 or b.ndim != 1 or not b.flags.c_contiguous for b in buffers
            )
            or cluster_uuid not in self._journals
        ):
            return None
        return StepPlan(self.executor, cluster_uuid, self._journals, inputs, expected)

    def request_direct(
        self, cluster_uuid: str, inputs: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """A request step; journaled when it changed the cluster (its inputs grew), so that
        the train steps after it replay on the same state (their sync covers it)."""
        with self.executor.exclusive(cluster_uuid):
            journal = self._journal(cluster_uuid)
            revision = self.executor.revision(cluster_uuid)
            outputs = self.executor.request(cluster_uuid, inputs)
            if self.executor.revision(cluster_uuid) != revision:
                journal.append(REQUEST_STEP, inputs, {})
        return outputs


def _retract(journal: StepJournal, ahead: Future[Mark] | None, mark: Mark | None = None) -> None:
    """Drop the record written ahead (if it was), then a failed step's (it lies before)."""
    if ahead is not None and ahead.exception() is None:
        journal.retract(ahead.result())
    if mark is not None:
        journal.retract(mark)


def _committed(journal: StepJournal, mark: Mark) -> Exception | None:
    """Commit a step's record: None, or why it cannot be acknowledged."""
    try:
        journal.commit(mark)
    except Exception as exc:
        return exc
    return None
