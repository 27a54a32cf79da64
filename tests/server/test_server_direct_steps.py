"""Compatible direct I/O runs quick steps on the event loop, slow or contended ones in threads."""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import contextmanager

import anyio.to_thread

from hanami.server import direct_io
from hanami.server.direct_io import INLINE_AFTER, INLINE_LIMIT_S, _Steps
from hanami.server.executor import ClusterBusy


class FakeSession:
    def __init__(self, log: list | None = None) -> None:
        self.log = [] if log is None else log

    async def run_sync(self, func, *args):
        return await anyio.to_thread.run_sync(func, *args)

    async def send_bytes(self, data: bytes) -> None:
        self.log.append(("send", threading.get_ident()))


class FakeExecutor:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.threads: list[int] = []
        self.delay = 0.0
        self.log: list = []

    @contextmanager
    def exclusive(self, uuid: str, timeout: float | None = None):
        if not self.lock.acquire(timeout=-1 if timeout is None else timeout):
            raise ClusterBusy(uuid)
        try:
            yield
        finally:
            self.lock.release()

    def train(self, uuid, inputs, expected) -> None:
        with self.lock:  # like the real executor: one call at a time per cluster
            self.threads.append(threading.get_ident())
            self.log.append(("train", threading.get_ident()))
            time.sleep(self.delay)

    @contextmanager
    def held_elsewhere(self):
        """The cluster lock held by another thread (an autosave) while the block runs."""
        taken, release = threading.Event(), threading.Event()

        def hold() -> None:
            with self.lock:
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


def test_quick_steps_move_inline_and_slow_or_busy_ones_go_back_to_threads(monkeypatch):
    assert INLINE_LIMIT_S < 0.01  # inline steps only block the loop briefly
    limit = 0.05  # generous here, so that a busy machine does not make quick steps slow
    monkeypatch.setattr(direct_io, "INLINE_LIMIT_S", limit)

    async def scenario() -> None:
        loop_thread = threading.get_ident()
        executor = FakeExecutor()
        steps = _Steps(FakeSession(), "cluster")  # type: ignore[arg-type]

        async def step() -> bool:
            await steps.run(executor, executor.train, "cluster", {}, {})
            return executor.threads[-1] == loop_thread

        # the first steps run in worker threads (compilation must not block the loop)
        assert [await step() for _ in range(INLINE_AFTER)] == [False] * INLINE_AFTER
        assert await step() and await step()  # quick: now on the event loop
        with executor.held_elsewhere():  # the cluster is busy: never wait on the loop
            task = asyncio.ensure_future(step())
            await asyncio.sleep(2 * limit)
            assert not task.done()  # waiting in a worker thread; the loop is free
        assert await task is False
        assert steps.quick == 0  # it waited for the lock: counted as slow
        assert [await step() for _ in range(INLINE_AFTER + 1)] == [False] * INLINE_AFTER + [True]
        executor.delay = 2 * limit  # a slow inline step sends the next ones to threads
        assert await step() is True
        executor.delay = 0.0
        assert await step() is False
        assert steps.quick == 1

    asyncio.run(scenario())


def test_a_quick_step_of_a_known_shape_is_acknowledged_before_it_runs(monkeypatch):
    monkeypatch.setattr(direct_io, "INLINE_LIMIT_S", 0.05)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        here = threading.get_ident()
        executor = FakeExecutor()
        steps = _Steps(FakeSession(executor.log), "cluster")  # type: ignore[arg-type]
        x, y = {"in": 1}, {"out": 1}

        async def step(inputs=x, expected=y) -> list:
            executor.log.clear()
            loop.call_soon(executor.log.append, ("other", here))  # anything else on the loop
            await steps.train(executor, inputs, expected)  # type: ignore[arg-type]
            await asyncio.sleep(0)
            return [(what, where == here) for what, where in executor.log]

        def without_other(log: list) -> list:
            return [event for event in log if event[0] != "other"]

        in_thread = [("train", False), ("send", True)]
        for _ in range(INLINE_AFTER):  # worker threads: the reply follows the pass
            assert without_other(await step()) == in_thread
        # inline, same names as the last good step: reply, then the pass, nothing between
        assert await step() == [("send", True), ("train", True), ("other", True)]
        # new names could be refused: the reply waits for the pass
        assert await step({"other_in": 1}) == [("train", True), ("send", True), ("other", True)]
        assert await step({"other_in": 1}) == [("send", True), ("train", True), ("other", True)]
        with executor.held_elsewhere():  # busy: the step waits in a thread, reply after it
            task = asyncio.ensure_future(step({"other_in": 1}))
            await asyncio.sleep(0.05)
            assert executor.log == [("other", here)]  # not trained, not answered yet
        assert without_other(await task) == in_thread

    asyncio.run(scenario())
