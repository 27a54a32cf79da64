"""One background thread that calls a function every few seconds until stopped: the
autosave, the replica heartbeat and the replica keeper each run on one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["Periodic"]


class Periodic:
    """Calls ``work()`` every ``period`` seconds on a daemon thread named ``name``; an
    exception is logged to ``logger`` and the next call comes on time."""

    def __init__(
        self, name: str, period: float, work: Callable[[], None], logger: logging.Logger
    ) -> None:
        self.name = name
        self.period = period
        self.work = work
        self.logger = logger
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.work()
            except Exception:
                self.logger.exception("%s failed", self.name)
