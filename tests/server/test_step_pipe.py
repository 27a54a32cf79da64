"""Queued direct-I/O train steps: the pipe that carries them to a Ray actor
(``runtime/ray_pipe.py``), and the journal positions that let a cluster catch up on the
steps a dead replica acknowledged but never sent (``cluster_files.catch_up``).

No Ray: the pipe's ``send`` is the only stand-in (for one actor call), and the cluster is
the real in-process executor, which the actor wraps. The kill -9 test on a real Ray
cluster is in ``tests/distributed/test_server_ray.py``.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from cluster_helpers import TEMPLATE

from hanami.core.checkpoint import read_digest
from hanami.server.runtime import ray_pipe
from hanami.server.runtime.cluster_files import catch_up
from hanami.server.runtime.executor import InProcessExecutor
from hanami.server.runtime.journal import TRAIN_STEP, StepJournal
from hanami.server.runtime.ray_actor import QueuedStep
from hanami.server.runtime.ray_pipe import PipeBroken, StepPipe

RNG = np.random.default_rng(5)


def _step(i: int, rows: int = 1) -> QueuedStep:
    x = RNG.integers(0, 255, (rows, 64)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[RNG.integers(0, 10, rows)]
    return {"picture_hex": x}, {"label_hex": y}, (b"base0000", i)


class Actor:
    """What the actor applied, call by call; ``gate`` holds a call until it is set."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail = False

    def send(self, steps: list[QueuedStep]) -> None:
        self.entered.set()
        self.gate.wait(10)
        if self.fail:
            raise PipeBroken("actor")
        self.calls.append([step[2][1] for step in steps])


def test_steps_arrive_in_order_in_few_calls_and_drain_waits_for_them() -> None:
    actor = Actor()
    pipe = StepPipe("order", actor.send)
    actor.gate.clear()  # the first call stays in flight while the others queue
    for i in range(1, 41):
        pipe.put(_step(i))
    actor.gate.set()
    assert pipe.drain() is None
    assert [i for call in actor.calls for i in call] == list(range(1, 41))
    assert len(actor.calls) <= 3  # one in flight, then the rest together
    pipe.close()


def test_a_full_window_makes_the_producer_wait(monkeypatch) -> None:
    monkeypatch.setattr(ray_pipe, "WINDOW_STEPS", 4)
    actor = Actor()
    actor.gate.clear()
    pipe = StepPipe("window", actor.send)
    for i in range(1, 5):
        pipe.put(_step(i))
    fifth = threading.Thread(target=pipe.put, args=(_step(5),))
    fifth.start()
    fifth.join(0.3)
    assert fifth.is_alive()  # four on their way: the fifth waits
    actor.gate.set()
    fifth.join(5)
    assert not fifth.is_alive()
    assert pipe.drain() is None
    assert [i for call in actor.calls for i in call] == [1, 2, 3, 4, 5]
    pipe.close()


def test_a_failed_call_drops_the_queue_until_reset() -> None:
    actor = Actor()
    actor.fail = True
    pipe = StepPipe("broken", actor.send)
    pipe.put(_step(1))
    broken = pipe.drain()
    assert isinstance(broken, PipeBroken) and broken.args == ("actor",)
    with pytest.raises(PipeBroken):
        pipe.put(_step(2))
    pipe.reset()  # the cluster was rebuilt from its journal
    actor.fail = False
    pipe.put(_step(3))
    assert pipe.drain() is None
    assert actor.calls == [[3]]
    pipe.close()


def test_a_step_at_or_before_the_clusters_position_is_not_applied_again() -> None:
    executor = InProcessExecutor()
    executor.create("c", TEMPLATE)
    x, y, position = _step(100)
    executor.queue_train("c", x, y, position)
    revision = executor.revision("c")
    executor.queue_train("c", x, y, position)
    executor.queue_train("c", x, y, (position[0], 50))
    assert executor.revision("c") == revision
    executor.queue_train("c", x, y, (b"newbase0", 10))  # after an autosave: a new base
    assert executor.revision("c") == revision + 1
    assert executor.journal_position("c") == (b"newbase0", 10)


def test_catch_up_applies_exactly_the_steps_the_cluster_missed(tmp_path) -> None:
    """Steps 1-3 reached the cluster, 4-6 were journaled (acknowledged) but died in the
    pipe of a killed replica: the catch-up applies 4-6, and a second one nothing."""
    autosave, path = tmp_path / "c.ckpt", tmp_path / "c.journal"
    maker = InProcessExecutor()
    maker.create("c", TEMPLATE)
    maker.save("c", autosave)
    executor, reference = InProcessExecutor(), InProcessExecutor()
    for clusters in (executor, reference):
        clusters.load("c", autosave)
    with ThreadPoolExecutor(1) as pool:
        journal = StepJournal(path, read_digest(autosave), pool, mode="interval")
        for i in range(6):
            x, y, _ = _step(i, rows=3)
            mark = journal.append(TRAIN_STEP, x, y)
            reference.train("c", x, y)
            if i < 3:
                executor.queue_train("c", x, y, mark.position)
        journal.close()
    assert catch_up(executor, "c", path, autosave) == 3
    assert catch_up(executor, "c", path, autosave) == 0
    assert executor.info("c").metrics == reference.info("c").metrics
    probe = {"picture_hex": np.full((1, 64), 7.0, np.float32)}
    np.testing.assert_array_equal(executor.request("c", probe)["label_hex"],
                                  reference.request("c", probe)["label_hex"])  # fmt: skip


def test_gathering_waits_less_than_the_window_fills(monkeypatch) -> None:
    """A lone step is sent within about :data:`GATHER_S`; one somebody waits for, at once."""
    monkeypatch.setattr(ray_pipe, "GATHER_S", 0.5)
    actor = Actor()
    pipe = StepPipe("gather", actor.send)
    pipe.put(_step(1))
    started = time.monotonic()
    assert pipe.drain() is None
    assert time.monotonic() - started < 0.4 and actor.calls == [[1]]
    pipe.close()


def test_reset_waits_for_the_call_in_flight() -> None:
    """The cluster is rebuilt after the reset: a call still on its way must not reach the
    new actor after the journal's steps."""
    actor = Actor()
    actor.gate.clear()
    pipe = StepPipe("reset", actor.send)
    pipe.put(_step(1))
    pipe.put(_step(2))
    assert actor.entered.wait(5)  # the call with step 1 (and perhaps 2) is in flight
    reset = threading.Thread(target=pipe.reset)
    reset.start()
    reset.join(0.3)
    assert reset.is_alive()
    actor.gate.set()
    reset.join(5)
    assert not reset.is_alive()
    pipe.put(_step(3))
    assert pipe.drain() is None
    assert actor.calls[-1] == [3]
    pipe.close()
