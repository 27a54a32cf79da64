"""Limits on what one input file may hold, checked while the file is read.

The readers of this package stream: they look at a bounded piece of the input at a time,
check it against a :class:`ParseLimits` and check the caller's stop flag between pieces. So
an upload costs time linear in its size and memory bounded by the limits, whatever it claims
in its header, and a server can stop a long conversion within one piece.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from hanami.datasets.errors import DatasetError, InputTooLarge, ParseStopped

__all__ = ["CHARS_PER_COLUMN", "ParseLimits", "check_stop"]

CHARS_PER_COLUMN = 32
"""A CSV row (header included) may average this many characters per allowed column."""


@dataclass(frozen=True)
class ParseLimits:
    """Largest accepted input: columns (CSV header, IDX row width), data rows, and bytes
    after decompression (IDX files may be gzip-compressed; CSV files are taken as they are)."""

    max_columns: int = 131_072
    max_rows: int = 10_000_000
    max_bytes: int = 1 << 30

    @property
    def max_row_chars(self) -> int:
        """Longest accepted CSV record, so one row cannot hold the whole file in memory."""
        return CHARS_PER_COLUMN * self.max_columns

    def check_columns(self, columns: int, label: str) -> None:
        if columns > self.max_columns:
            raise DatasetError(
                f"{label}: {columns} columns; at most {self.max_columns} are allowed"
            )

    def check_rows(self, rows: int, label: str) -> None:
        if rows > self.max_rows:
            raise DatasetError(f"{label}: more than {self.max_rows} data rows are not allowed")

    def check_bytes(self, size: int, label: str) -> None:
        if size > self.max_bytes:
            raise InputTooLarge(
                f"{label}: more than {self.max_bytes} bytes (after decompression) are not allowed"
            )


def check_stop(stop: threading.Event | None) -> None:
    """Raise :class:`ParseStopped` once the caller has set ``stop``."""
    if stop is not None and stop.is_set():
        raise ParseStopped("reading the input was stopped")
