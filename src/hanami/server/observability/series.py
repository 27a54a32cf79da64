"""The original's cascade of ring buffers, which also knows how much of itself is real."""

from __future__ import annotations

from collections import deque
from statistics import fmean

__all__ = ["TimeSeries"]


class TimeSeries:
    """Ring buffers of 60 s, 60 min, 24 h and 365 days, oldest value first.

    Each level starts filled with zeros (the original's shape); whenever a level has received
    as many new values as it holds, their mean is pushed into the next level. :meth:`filled`
    says how many trailing values of each level were measured, so that nobody takes the
    padding for readings (a minimum of 0.00 W after ten seconds of uptime).
    """

    LEVELS: tuple[tuple[str, int], ...] = (
        ("seconds", 60),
        ("minutes", 60),
        ("hours", 24),
        ("days", 365),
    )

    def __init__(self) -> None:
        self._buffers = [deque([0.0] * size, maxlen=size) for _, size in self.LEVELS]
        self._pending = [0] * len(self.LEVELS)
        self._filled = [0] * len(self.LEVELS)

    def add(self, value: float) -> None:
        """Append one per-second value, cascading averages into the coarser levels."""
        level = 0
        while True:
            buffer = self._buffers[level]
            buffer.append(float(value))
            self._filled[level] = min(self._filled[level] + 1, len(buffer))
            self._pending[level] += 1
            if level + 1 == len(self._buffers) or self._pending[level] < len(buffer):
                return
            self._pending[level] = 0
            value = fmean(buffer)
            level += 1

    def to_json(self) -> dict[str, list[float]]:
        """``{"seconds": [60], "minutes": [60], "hours": [24], "days": [365]}``."""
        return {name: list(buf) for (name, _), buf in zip(self.LEVELS, self._buffers, strict=True)}

    def filled(self) -> dict[str, int]:
        """How many of the newest values of each level are measurements, not padding."""
        return {name: count for (name, _), count in zip(self.LEVELS, self._filled, strict=True)}
