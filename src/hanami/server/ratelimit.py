"""In-process limiter for failed logins.

Two sliding windows of failures: per (user id, client address) and per client address.
Keying on the pair, not on the user id alone, keeps an attacker from locking a real user
out from everywhere. The state lives in one process; run one worker, or put a shared
limiter in front, when scaling out.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["LoginRateLimiter"]

_MAX_KEYS = 100_000


class LoginRateLimiter:
    def __init__(
        self,
        *,
        max_failures: int,
        max_failures_per_address: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.max_failures_per_address = max_failures_per_address
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _pruned(self, key: tuple[str, str], now: float) -> deque[float] | None:
        entries = self._failures.get(key)
        if entries is None:
            return None
        while entries and entries[0] <= now - self.window:
            entries.popleft()
        if not entries:
            del self._failures[key]
            return None
        return entries

    def retry_after(self, user_id: str, address: str) -> int | None:
        """Seconds until a login for ``user_id`` from ``address`` is allowed, or ``None``."""
        now = self._clock()
        waits = []
        with self._lock:
            for key, limit in (
                ((user_id, address), self.max_failures),
                (("", address), self.max_failures_per_address),
            ):
                entries = self._pruned(key, now)
                if entries is not None and len(entries) >= limit:
                    waits.append(entries[-limit] + self.window - now)
        return math.ceil(max(waits)) if waits else None

    def record_failure(self, user_id: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) > _MAX_KEYS:
                for key in list(self._failures):
                    self._pruned(key, now)
            for key in ((user_id, address), ("", address)):
                self._failures.setdefault(key, deque()).append(now)

    def reset(self, user_id: str, address: str) -> None:
        """Forget the failures of this user from this address (after a successful login)."""
        with self._lock:
            self._failures.pop((user_id, address), None)
