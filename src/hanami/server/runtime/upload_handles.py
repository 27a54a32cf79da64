"""One tempfile's state in memory: the bytes received so far, its last activity, who holds it.

Why each is tracked:

- the byte ranges received so far, exactly (the original tracked 128 KiB segments and
  never the last partial one, B9), so ``dataset/progress`` is only ``complete`` when every
  byte has arrived;
- the time of the last activity, for the sweeper of :mod:`hanami.server.runtime.uploads`;
- whether a websocket is attached (one writer at a time) and whether a finalize has
  claimed the handle (no writes or expiry while it converts).
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["UploadError", "UploadHandle"]


class UploadError(Exception):
    """A chunk that cannot be written; the message is meant for the client."""


@dataclass(eq=False)
class UploadHandle:
    """In-memory state of one tempfile."""

    uuid: str
    dataset_uuid: str
    owner_id: str
    project_id: str
    size: int
    path: Path
    last_activity: float
    attached: bool = False
    claimed: bool = False
    removed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _starts: list[int] = field(default_factory=list, repr=False)
    _ends: list[int] = field(default_factory=list, repr=False)
    _received: int = field(default=0, repr=False)

    @property
    def received(self) -> int:
        """Number of distinct bytes written so far."""
        return self._received

    @property
    def complete(self) -> bool:
        return self.received == self.size

    def mark(self, start: int, end: int) -> None:
        """Merge the byte range ``[start, end)`` into the sorted disjoint received ranges."""
        if end <= start:
            return
        lo = bisect.bisect_left(self._ends, start)
        hi = bisect.bisect_right(self._starts, end)
        covered = sum(self._ends[i] - self._starts[i] for i in range(lo, hi))
        if lo < hi:
            start = min(start, self._starts[lo])
            end = max(end, self._ends[hi - 1])
        self._starts[lo:hi] = [start]
        self._ends[lo:hi] = [end]
        self._received += (end - start) - covered
