"""The step journal: record format, torn tails, group commit, sync modes, replay at start-up.

Real files in ``tmp_path``, the real executor and registry over a real SQLite database.
A "crash" is a registry that is dropped without :meth:`ClusterRegistry.stop`: what it wrote
is what a killed process leaves (the kill -9 tests are in ``test_server_durable.py``).
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from cluster_helpers import TEMPLATE
from sqlalchemy import select

from hanami.server.db import Cluster as ClusterRow
from hanami.server.db import Database, upgrade
from hanami.server.runtime import registry
from hanami.server.runtime.executor import InProcessExecutor
from hanami.server.runtime.journal import (
    REQUEST_STEP,
    TRAIN_STEP,
    PeriodicSync,
    StepJournal,
    decode_step,
    read_journal,
    replayable,
)
from hanami.server.runtime.registry import ClusterRegistry

DIGEST = bytes(range(32))
RNG = np.random.default_rng(3)


def _step(rows: int | None = None) -> tuple[dict, dict]:
    shape = (64,) if rows is None else (rows, 64)
    x = RNG.integers(0, 255, shape).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[RNG.integers(0, 10, rows or 1)]
    return {"picture_hex": x}, {"label_hex": y[0] if rows is None else y}


@pytest.fixture
def pool():
    with ThreadPoolExecutor(2) as threads:
        yield threads


def test_records_round_trip_and_a_torn_or_damaged_tail_is_dropped(tmp_path, pool):
    path = tmp_path / "c.journal"
    journal = StepJournal(path, DIGEST, pool)
    steps = [_step(), _step(5), _step()]
    marks = [journal.append(TRAIN_STEP, x, y) for x, y in steps]
    journal.append(REQUEST_STEP, steps[0][0], {})
    journal.sync(marks[-1].seq)
    records, end = read_journal(path)
    assert end == journal.size < os.path.getsize(path)  # the rest is preallocated zeros
    assert len(records) == 4 and {base for base, _ in records} == {DIGEST[:8]}
    for (x, y), (_, payload) in zip(steps, records, strict=False):
        step = decode_step(payload)
        assert step.kind == TRAIN_STEP
        np.testing.assert_array_equal(step.inputs["picture_hex"], x["picture_hex"])
        np.testing.assert_array_equal(step.expected["label_hex"], y["label_hex"])
    assert decode_step(records[3][1]).expected == {}
    journal.close()

    with open(path, "r+b") as f:  # a crash in the middle of writing the last record
        f.truncate(end - 10)
    assert len(read_journal(path)[0]) == 3
    with open(path, "r+b") as f:  # a flipped byte in the second record
        f.seek(marks[1].offset + 40)
        f.write(b"\x01")
    records, end = read_journal(path)
    assert len(records) == 1 and end == marks[1].offset
    reopened = StepJournal(path, DIGEST, pool, end=end)  # appends after the intact ones
    reopened.sync(reopened.append(TRAIN_STEP, *steps[2]).seq)
    assert len(read_journal(path)[0]) == 2
    reopened.close()


def test_retracted_and_stale_records_are_never_replayed(tmp_path, pool):
    path = tmp_path / "c.journal"
    journal = StepJournal(path, DIGEST, pool)
    journal.append(TRAIN_STEP, *_step())
    journal.retract(journal.append(TRAIN_STEP, *_step()))  # its pass failed
    journal.sync(journal.append(TRAIN_STEP, *_step()).seq)
    steps, other, _ = replayable(path, DIGEST)
    assert len(list(steps)) == 2 and other == 0
    steps, other, _ = replayable(path, bytes(32))  # a newer autosave holds them
    assert list(steps) == [] and other == 2
    journal.reset(bytes(32))
    assert journal.size == 0 and read_journal(path) == ([], 0)
    journal.close()


def test_concurrent_steps_share_syncs(tmp_path, pool, syncs):
    journal = StepJournal(tmp_path / "c.journal", DIGEST, pool)
    lock = threading.Lock()  # the cluster's lock: appends in step order

    def session() -> None:
        for _ in range(50):
            with lock:
                mark = journal.append(TRAIN_STEP, *_step())
            journal.sync(mark.seq)

    threads = [threading.Thread(target=session) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(read_journal(journal.path)[0]) == 200
    assert len(syncs) < 200  # steps in flight together shared one sync
    journal.close()


@pytest.fixture
def syncs(monkeypatch) -> list[int]:
    """The descriptors ``os.fdatasync`` was called with (it still syncs)."""
    calls: list[int] = []
    fdatasync = os.fdatasync

    def counting(fd: int) -> None:
        calls.append(fd)
        fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", counting)
    return calls


def test_interval_mode_acknowledges_written_records_and_syncs_them_soon(tmp_path, pool, syncs):
    path = tmp_path / "c.journal"
    journal = StepJournal(path, DIGEST, pool, mode="interval")
    always = StepJournal(tmp_path / "d.journal", DIGEST, pool, mode="always")
    mark = journal.append(TRAIN_STEP, *_step())
    assert journal.commit(mark) == 0.0 and syncs == []  # acknowledged as written
    assert len(read_journal(path)[0]) == 1  # what a process killed now leaves
    assert os.path.getsize(path) == journal.size  # appended, no zeros written ahead
    always.commit(always.append(TRAIN_STEP, *_step()))
    assert len(syncs) == 1  # always: synced before the acknowledgement
    syncs.clear()

    periodic = PeriodicSync(lambda: [journal, always], 0.05)
    periodic.start()
    deadline = time.monotonic() + 10
    while not syncs and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # several intervals: nothing new, nothing synced again
    assert len(syncs) == 1  # the interval journal's record; the always one was synced
    periodic.stop()
    journal.append(TRAIN_STEP, *_step())
    periodic.stop()  # the thread is gone: stop() itself syncs what is left (shutdown)
    assert len(syncs) == 2
    journal.close()
    always.close()
    periodic.sync_all()  # closed journals are skipped quietly
    assert len(syncs) == 2


def _registry(
    tmp_path, uuids: tuple[str, ...] = ("c",), executor: InProcessExecutor | None = None
) -> tuple[Database, ClusterRegistry]:
    database = Database(f"sqlite:///{tmp_path}/hanami.db")
    upgrade(database)
    with database.session() as session:
        for uuid in uuids:
            if session.get(ClusterRow, uuid) is None:
                session.add(ClusterRow(uuid=uuid, project_id="p", owner_id="u", name=uuid,
                                       template=TEMPLATE))  # fmt: skip
        session.commit()
    executor = executor or InProcessExecutor()
    return database, ClusterRegistry(database, executor, tmp_path / "clusters")


def test_replay_after_a_crash_restores_every_synced_step_once(tmp_path):
    database, first = _registry(tmp_path)
    first.restore_all()  # builds "c" from its template and autosaves it
    for rows in (None, None, 7, None):
        first.train_direct("c", *_step(rows))
    probe = {"picture_hex": np.full((3, 64), 90.0, np.float32)}
    before = first.executor.request("c", probe)
    samples = first.executor.info("c").metrics["samples_trained"]
    assert samples == 10

    database, second = _registry(tmp_path)  # the first one "crashed"
    second.restore_all()
    assert second.executor.info("c").metrics["samples_trained"] == samples
    np.testing.assert_array_equal(second.executor.request("c", probe)["label_hex"],
                                  before["label_hex"])  # fmt: skip
    assert second.journal_path("c").stat().st_size == 0  # autosaved after the replay
    assert second.damaged == set()

    second.train_direct("c", *_step())
    # a crash between writing the autosave and emptying the journal: records are stale
    second.executor.save("c", second.path_of("c"))
    database, third = _registry(tmp_path)
    third.restore_all()
    assert third.executor.info("c").metrics["samples_trained"] == samples + 1  # not twice
    third.train_direct("c", *_step())

    third.path_of("c").unlink()  # then the autosave the journal builds on is lost
    database, fourth = _registry(tmp_path)
    fourth.restore_all()
    assert fourth.executor.info("c").metrics["samples_trained"] == 0  # from the template
    assert fourth.damaged == {"c"}
    fourth.stop()
    database.dispose()


def test_a_full_journal_is_autosaved_whatever_its_age(tmp_path, monkeypatch):
    database, clusters = _registry(tmp_path)
    clusters.restore_all()
    clusters.train_direct("c", *_step())
    clusters.save_changed(wait=False, min_age=3600)  # too young, not full: kept
    assert clusters.journal_path("c").stat().st_size > 0
    monkeypatch.setattr(registry, "JOURNAL_LIMIT", 1)
    clusters.save_changed(wait=False, min_age=3600)
    assert read_journal(clusters.journal_path("c")) == ([], 0)
    clusters.stop()
    database.dispose()


def test_clusters_that_outlived_their_replica_catch_up_at_once(tmp_path):
    """A restart finds clusters still running (Ray actors) without the steps their dead
    replica journaled: each catch-up waits for its cluster (a dead holder's lease), and
    one cluster that is still held must not keep the others waiting."""
    uuids = ("c", "d")
    database, first = _registry(tmp_path, uuids)
    first.restore_all()
    for uuid in uuids:
        for _ in range(3):
            first.train_direct(uuid, *_step())
    database.dispose()  # the first replica dies: its steps are in the journals only
    survivors = InProcessExecutor()  # the actors, with what the autosaves hold
    for uuid in uuids:
        survivors.load(uuid, first.path_of(uuid))
        assert survivors.info(uuid).metrics["samples_trained"] == 0
    database, second = _registry(tmp_path, uuids, survivors)
    with database.session() as session:  # the cluster restore_all meets first
        held, other = session.scalars(select(ClusterRow.uuid)).all()
    restart = threading.Thread(target=second.restore_all)
    with survivors.exclusive(held):
        restart.start()
        deadline = time.monotonic() + 30
        while survivors.info(other).metrics["samples_trained"] < 3:
            assert time.monotonic() < deadline, f"{other} waited for {held}"
            time.sleep(0.01)
    restart.join(30)
    assert not restart.is_alive()
    assert survivors.info(held).metrics["samples_trained"] == 3
    second.stop()
    database.dispose()


def _frames(first: ClusterRegistry, steps: list, fail_at: int | None = None) -> list:
    """``train_frames`` of ``steps`` (the pass of step ``fail_at`` raises), with the
    journal's size seen during each pass: by then the next record is written ahead."""
    journal, train = first._journals["c"], first.executor.queue_train
    seen: list[int] = []

    def queue_train(uuid, inputs, expected, position):
        deadline = time.monotonic() + 5  # the next record is written in a pool thread
        while len(seen) + 1 < len(steps) and journal.size <= position[1]:
            assert time.monotonic() < deadline, "the next record was not written ahead"
            time.sleep(0.001)
        seen.append(journal.size - position[1])
        if len(seen) - 1 == fail_at:
            raise ValueError("this pass fails")
        train(uuid, inputs, expected, position)

    first.executor.queue_train = queue_train
    answers: list = []
    first.train_frames("c", steps, lambda i, error: answers.append((i, error)))
    first.executor.queue_train = train
    assert [i for i, _ in answers] == list(range(len(steps)))
    return [error for _, error in answers]


def test_batched_frames_are_journaled_ahead_in_order_and_replayed_after_a_crash(tmp_path):
    """Frame i + 1's record is written while frame i trains; the file holds the steps in
    the order they ran, and a crash loses none of them."""
    database, first = _registry(tmp_path)
    first.restore_all()
    first.train_direct("c", *_step())  # opens the journal
    steps = [_step(5) for _ in range(4)]
    assert _frames(first, steps) == [None] * 4
    records, _ = read_journal(first.journal_path("c"))
    for (x, y), (_, payload) in zip(steps, records[1:], strict=True):
        np.testing.assert_array_equal(decode_step(payload).inputs["picture_hex"], x["picture_hex"])
        np.testing.assert_array_equal(decode_step(payload).expected["label_hex"], y["label_hex"])
    probe = {"picture_hex": np.full((3, 64), 90.0, np.float32)}
    before = first.executor.request("c", probe)["label_hex"]

    database, second = _registry(tmp_path)  # the first one "crashed"
    second.restore_all()
    assert second.executor.info("c").metrics["samples_trained"] == 21
    np.testing.assert_array_equal(second.executor.request("c", probe)["label_hex"], before)
    second.stop()
    database.dispose()


def test_a_failed_pass_drops_the_record_written_ahead_with_its_own(tmp_path):
    """The next frame's record, written during a pass that fails, is retracted with the
    failed one and written again: no step is replayed that did not run, none twice."""
    database, first = _registry(tmp_path)
    first.restore_all()
    first.train_direct("c", *_step())
    steps = [_step(5) for _ in range(3)]  # of one size: a stale copy would read as intact
    errors = _frames(first, steps, fail_at=1)
    assert errors[0] is None and isinstance(errors[1], ValueError) and errors[2] is None
    records, end = read_journal(first.journal_path("c"))
    assert end == first._journals["c"].size and len(records) == 3
    for (x, _), (_, payload) in zip([steps[0], steps[2]], records[1:], strict=True):
        np.testing.assert_array_equal(decode_step(payload).inputs["picture_hex"], x["picture_hex"])

    database, second = _registry(tmp_path)
    second.restore_all()
    assert second.executor.info("c").metrics["samples_trained"] == 11
    second.stop()
    database.dispose()


def test_a_shared_executor_gets_no_record_before_its_step_is_queued(tmp_path):
    """A shared executor (Ray) rebuilds a lost actor from the journal: a record written
    ahead would replay a step that was never queued."""
    executor = InProcessExecutor()
    executor.shared = True  # no replicas: the journal is this registry's
    database, clusters = _registry(tmp_path, executor=executor)
    clusters.restore_all()
    clusters.train_direct("c", *_step())
    journal, train, beyond = clusters._journals["c"], executor.queue_train, []

    def queue_train(uuid, inputs, expected, position):
        time.sleep(0.05)  # time enough for a record written ahead to land
        beyond.append(journal.size - position[1])
        train(uuid, inputs, expected, position)

    executor.queue_train = queue_train
    answers: list = []
    clusters.train_frames("c", [_step(5) for _ in range(3)], lambda *answer: answers.append(answer))
    assert answers == [(0, None), (1, None), (2, None)] and beyond == [0, 0, 0]
    clusters.stop()
    database.dispose()
