"""Compatible direct I/O runs quick steps on the event loop, slow or contended ones in threads,
and acknowledges a train step only once its journal record is on disk.

The real executor, registry and journal; the session is a real :class:`WsSession` whose
socket (Starlette's object, not ours) only records what is sent and how many journal
records were on disk at that moment. The executor's ``train`` is wrapped to note the
thread it ran on and, when asked, to take its time: waiting (like a process the OS does not
run) or working (like a large step).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest
from cluster_helpers import TEMPLATE

from hanami.server.runtime.executor import InProcessExecutor
from hanami.server.runtime.journal import JournalSync, read_journal
from hanami.server.runtime.registry import ClusterRegistry
from hanami.server.websocket import direct_steps
from hanami.server.websocket.direct_steps import INLINE_AFTER, INLINE_LIMIT_S, Steps
from hanami.server.websocket.session import WsSession

X = {"picture_hex": np.full(64, 200.0, dtype=np.float32)}
Y = {"label_hex": np.eye(10, dtype=np.float32)[3]}


class RecordingSocket:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def send_bytes(self, data: bytes) -> None:
        self.cluster.log.append(("send", threading.get_ident()))
        self.cluster.records_at_send.append(self.cluster.records())


class Cluster:
    """The registry's cluster "c", with a log of where its passes ran and an optional delay."""

    def __init__(self, folder, journal_sync: JournalSync = "interval") -> None:
        self.executor = InProcessExecutor()
        self.registry = ClusterRegistry(
            None,  # type: ignore[arg-type]
            self.executor,
            folder,
            journal_sync=journal_sync,
        )
        self.executor.create("c", TEMPLATE)
        self.executor.train("c", X, Y)  # loads the compiled kernels: later steps are quick
        self.registry.autosave("c")
        self.log: list = []
        self.records_at_send: list[int] = []
        self.delay = 0.0
        self.work = 0.0
        train = self.executor.train

        def recording_train(uuid, inputs, expected, order=None):
            self.log.append(("train", threading.get_ident()))
            time.sleep(self.delay)
            until = time.thread_time() + self.work
            while time.thread_time() < until:
                pass
            return train(uuid, inputs, expected, order)

        self.executor.train = recording_train  # type: ignore[method-assign]
        session = WsSession(RecordingSocket(self), None, "", None, None)  # type: ignore[arg-type]
        self.steps = Steps(session, "c", self.registry)

    def records(self) -> int:
        return len(read_journal(self.registry.journal_path("c"))[0])

    @contextmanager
    def held_elsewhere(self):
        """The cluster's lock held by another thread (an autosave) while the block runs."""
        taken, release = threading.Event(), threading.Event()

        def hold() -> None:
            with self.executor.exclusive("c"):
                taken.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        taken.wait(10)
        try:
            yield
        finally:
            release.set()
            holder.join(10)


@pytest.fixture
def cluster(monkeypatch, tmp_path) -> Cluster:
    # generous: a busy machine must not make quick steps slow; still far below a frame time
    monkeypatch.setattr(direct_steps, "INLINE_LIMIT_S", 0.05)
    return Cluster(tmp_path)


def test_quick_steps_move_inline_and_slow_or_busy_ones_go_back_to_threads(cluster):
    assert INLINE_LIMIT_S < 0.01  # inline steps only block the loop briefly

    async def scenario() -> None:
        loop_thread = threading.get_ident()
        steps = cluster.steps

        async def step() -> bool:
            await steps.run(cluster.registry.train_direct, "c", X, Y)
            return cluster.log[-1][1] == loop_thread

        # the first steps run in worker threads (compilation must not block the loop)
        assert [await step() for _ in range(INLINE_AFTER)] == [False] * INLINE_AFTER
        assert await step() and await step()  # quick: now on the event loop
        with cluster.held_elsewhere():  # the cluster is busy: never wait on the loop
            task = asyncio.ensure_future(step())
            await asyncio.sleep(0.1)
            assert not task.done()  # waiting in a worker thread; the loop is free
        assert await task is False
        assert steps.quick == 0  # it waited for the lock: counted as slow
        assert [await step() for _ in range(INLINE_AFTER + 1)] == [False] * INLINE_AFTER + [True]
        cluster.delay = 0.1  # a slow inline step sends the next ones to threads
        assert await step() is True
        cluster.delay = 0.0
        assert await step() is False
        assert steps.quick == 1

    asyncio.run(scenario())
    assert cluster.executor.info("c").metrics["samples_trained"] == 1 + 2 * INLINE_AFTER + 6
    assert cluster.records() == 2 * INLINE_AFTER + 6  # every step since the autosave


def test_train_steps_are_acknowledged_once_durable_known_shapes_before_their_pass(cluster):
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        here = threading.get_ident()
        steps = cluster.steps

        async def step(inputs=X, expected=Y) -> list:
            cluster.log.clear()
            loop.call_soon(cluster.log.append, ("other", here))  # anything else on the loop
            await steps.train(inputs, expected)
            await asyncio.sleep(0)
            return [(what, where == here) for what, where in cluster.log]

        def without_other(log: list) -> list:
            return [event for event in log if event[0] != "other"]

        in_thread = [("train", False), ("send", True)]
        for _ in range(INLINE_AFTER):  # worker threads: the reply follows the pass
            assert without_other(await step()) == in_thread
        # inline, same names as the last good step: reply, then the pass, nothing between
        assert await step() == [("send", True), ("train", True), ("other", True)]
        # other names could be refused, and these are: no reply, no record
        cluster.log.clear()
        with pytest.raises(ValueError, match="unknown input"):
            await steps.train({"other": X["picture_hex"]}, Y)
        assert cluster.log == [("train", here)]  # ran on the loop; nothing sent
        assert await step() == [("send", True), ("train", True), ("other", True)]  # still known
        with cluster.held_elsewhere():  # busy: the step waits in a thread, reply after it
            task = asyncio.ensure_future(step())
            await asyncio.sleep(0.1)
            assert cluster.log == [("other", here)]  # not trained, not answered yet
        assert without_other(await task) == in_thread

    asyncio.run(scenario())
    steps = INLINE_AFTER + 3
    # each reply went out with its own record (and no refused one) already in the journal
    assert cluster.records_at_send == list(range(1, steps + 1))
    assert cluster.executor.info("c").metrics["samples_trained"] == 1 + steps


def test_inline_steps_count_their_work_and_disk_wait(cluster, tmp_path, monkeypatch):
    """Time in which the OS ran other processes does not send a session to worker threads
    (on a busy machine it would, and steps there cost more); work on the event loop and, with
    ``journal_sync = always``, the wait for the sync do."""

    async def scenario(cluster: Cluster) -> list[bool]:
        here = threading.get_ident()

        async def inline() -> bool:
            await cluster.steps.train(X, Y)
            return cluster.log[-1] == ("train", here)

        assert [await inline() for _ in range(INLINE_AFTER + 1)][-1]
        cluster.delay = 0.1  # the pass waited, as if the OS had not run the server
        waited = [await inline(), await inline()]
        cluster.delay, cluster.work = 0.0, 0.1  # the pass works longer than the limit
        worked = [await inline(), await inline()]
        cluster.work = 0.0
        return waited + worked

    assert asyncio.run(scenario(cluster)) == [True, True, True, False]

    monkeypatch.setattr(direct_steps, "INLINE_AFTER", 1)
    # a real fdatasync on a busy disk may take milliseconds: only the slowed one must count
    monkeypatch.setattr(direct_steps, "INLINE_LIMIT_S", 0.05)
    (tmp_path / "always").mkdir()
    durable = Cluster(tmp_path / "always", journal_sync="always")
    sync_delay = [0.0]
    fdatasync = os.fdatasync

    def slow_sync(fd: int) -> None:
        time.sleep(sync_delay[0])
        fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", slow_sync)

    async def always() -> list[bool]:
        here = threading.get_ident()

        async def inline() -> bool:
            await durable.steps.train(X, Y)
            return durable.log[-1] == ("train", here)

        quick = [await inline() for _ in range(3)]
        sync_delay[0] = 0.1  # a slow disk keeps the loop waiting: to threads
        return [*quick, await inline(), await inline()]

    assert asyncio.run(always()) == [False, True, True, True, False]
