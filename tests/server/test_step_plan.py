"""A session's step plan runs a known-shape train step as the general path would, and
declines (doing nothing) whenever what it resolved no longer holds.

Two registries with the same seeded cluster: one steps through the general inline path
(``Steps.acknowledged_first``), the other through the plan once it exists; their journals
and clusters must end the same.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from cluster_helpers import TEMPLATE

from hanami.server.runtime.executor import InProcessExecutor
from hanami.server.runtime.journal import read_journal
from hanami.server.runtime.registry import ClusterRegistry
from hanami.server.websocket import direct_steps
from hanami.server.websocket.direct_steps import INLINE_AFTER, Steps
from hanami.server.websocket.session import WsSession

ROWS = np.random.default_rng(5).uniform(0, 255, (40, 64)).astype(np.float32)
LABELS = np.eye(10, dtype=np.float32)[np.arange(40) % 10]


class Served:
    """Cluster "c" in a registry of its own, stepped by one session's :class:`Steps`."""

    def __init__(self, folder) -> None:
        self.executor = InProcessExecutor()
        self.registry = ClusterRegistry(None, self.executor, folder, journal_sync="interval")  # type: ignore[arg-type]
        self.executor.create("c", TEMPLATE)
        self.registry.autosave("c")
        session = WsSession(None, None, "", None, None)  # type: ignore[arg-type]
        self.steps = Steps(session, "c", self.registry)
        self.steps.quick = INLINE_AFTER  # as after quick steps of this shape in worker threads
        self.steps.known = (frozenset({"picture_hex"}), frozenset({"label_hex"}))
        self.replies = 0

    def reply(self) -> None:
        self.replies += 1

    def general(self, x: np.ndarray, y: np.ndarray) -> None:
        with self.steps.acknowledged_first({"picture_hex": x}, {"label_hex": y}) as inline:
            assert inline
            self.reply()

    def planned(self, x: np.ndarray, y: np.ndarray, name: str = "label_hex") -> bool:
        return self.steps.planned({"picture_hex": x}, name, y, self.reply)

    def state(self, tmp_path, name: str) -> bytes:
        with self.executor.exclusive("c") as entry:
            return entry.cluster.save(tmp_path / name).read_bytes()

    def records(self) -> list[bytes]:
        return [bytes(payload) for _, payload in read_journal(self.registry.journal_path("c"))[0]]


@pytest.fixture
def pair(tmp_path, monkeypatch) -> tuple[Served, Served]:
    monkeypatch.setattr(direct_steps, "INLINE_LIMIT_S", float("inf"))  # compiling is no slow step
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    return Served(tmp_path / "a"), Served(tmp_path / "b")


def test_planned_steps_journal_and_train_as_the_general_path(pair, tmp_path, monkeypatch):
    general, fast = pair
    for x, y in zip(ROWS, LABELS, strict=True):
        general.general(x, y)
    fast.general(ROWS[0], LABELS[0])  # the first step of a shape builds its plan
    plan = fast.steps.plan
    assert plan is not None

    def no_general_step(*args, **kwargs):
        raise AssertionError("a planned step took the general path")

    monkeypatch.setattr(fast.registry, "train_after_reply", no_general_step)
    monkeypatch.setattr(plan.cluster, "train", no_general_step)  # its one-row entry instead
    for x, y in zip(ROWS[1:], LABELS[1:], strict=True):
        assert fast.planned(x, y)
    assert fast.steps.plan is plan  # built once, reused
    assert fast.replies == general.replies == len(ROWS)
    assert fast.records() == general.records()
    assert fast.state(tmp_path, "fast") == general.state(tmp_path, "general")
    assert fast.executor.revision("c") == general.executor.revision("c")
    assert fast.executor.journal_position("c")[1] == general.executor.journal_position("c")[1]


def test_a_quick_planned_step_reads_the_thread_clock_once(pair, monkeypatch):
    """Its wall time proves a step quick without a second read of the thread's clock (a
    system call); only a step slower than the limit by the wall clock is timed by CPU."""
    _, served = pair
    served.general(ROWS[0], LABELS[0])
    reads, clock = [], direct_steps.time.thread_time
    monkeypatch.setattr(direct_steps.time, "thread_time", lambda: reads.append(1) or clock())
    for k in range(1, 4):
        assert served.planned(ROWS[k], LABELS[k])
    assert len(reads) == 3 and served.steps.quick > INLINE_AFTER
    monkeypatch.setattr(direct_steps, "INLINE_LIMIT_S", 0.0)  # every step is slow now
    assert served.planned(ROWS[4], LABELS[4])
    assert len(reads) == 5 and served.steps.quick == 0


def test_a_planned_step_does_not_check_the_values_again(pair):
    """The plan's values come from the session's parser, which refuses NaN and inf; the
    engine does not check them a second time (a NaN here is one the parser never lets by)."""
    _, served = pair
    served.general(ROWS[0], LABELS[0])
    bad = ROWS[1].copy()
    bad[5] = np.nan
    assert served.planned(bad, LABELS[1])
    assert served.replies == 2


def test_a_step_the_plan_does_not_fit_is_declined_untouched(pair):
    _, served = pair
    served.general(ROWS[0], LABELS[0])
    records = served.records()

    def declined(*step) -> bool:
        before = served.executor.revision("c")
        ran = served.planned(*step)
        assert served.records() == records and served.executor.revision("c") == before
        return ran

    assert not declined(ROWS[1][:32], LABELS[1])  # another size
    assert not declined(ROWS[1], LABELS[1], "other_hex")  # another name
    served.registry.autosave("c")  # emptied journal: the general path checks the state first
    records = []
    assert not declined(ROWS[1], LABELS[1])
    served.general(ROWS[1], LABELS[1])
    records = served.records()
    taken, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold, args=(served.executor, taken, release))
    holder.start()
    taken.wait(10)
    assert not declined(ROWS[2], LABELS[2])  # busy (an autosave): never waits on the loop
    release.set()
    holder.join(10)
    served.executor.restore("c", served.registry.path_of("c"))  # another cluster object
    records = served.records()
    assert not declined(ROWS[2], LABELS[2])
    served.general(ROWS[2], LABELS[2])  # a new plan for the new cluster
    assert served.planned(ROWS[3], LABELS[3])
    assert served.replies == 4
    records = served.records()
    served.executor.delete("c")
    assert not served.planned(ROWS[4], LABELS[4])
    assert served.records() == records and served.replies == 4


def _hold(executor: InProcessExecutor, taken: threading.Event, release: threading.Event) -> None:
    with executor.exclusive("c"):
        taken.set()
        release.wait(10)
