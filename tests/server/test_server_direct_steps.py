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
    async def run_sync(self, func, *args):
        return await anyio.to_thread.run_sync(func, *args)


class FakeExecutor:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.threads: list[int] = []
        self.delay = 0.0

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
