"""Strict CSV reader: a header row of column names, then one float32 row per record.

The original split on ``\\n`` and ``,`` with no quoting, kept ``\\r``, skipped one-column
files and turned every cell it could not parse (``1e3``, ``.5``, ``+1``) silently into 0
(service.md 5.2 and section 11, B11). Here tokenising is left to the standard library's
:mod:`csv` (quotes, CRLF, embedded newlines) and every cell must be a number, so bad data
is reported instead of trained on.

Accepted cells: decimal numbers with optional sign, fraction and exponent (``-1``, ``.5``,
``1e-3``), surrounded by optional whitespace, and ``true``/``false`` in any case (1 and 0,
as in the original). Rejected: empty cells, ``null``, ``nan``, ``inf``, anything that does
not fit in float32. Blank lines are skipped.

:class:`CsvReader` streams: it hands lines of at most ``limits.max_row_chars`` characters
to :mod:`csv`, yields the rows in float32 chunks and checks the column and row limits and
the stop flag as it goes, so time is linear in the file and memory bounded by one chunk.
"""

from __future__ import annotations

import csv
import io
import os
import re
import threading
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np

from hanami.datasets.errors import DatasetError
from hanami.datasets.limits import ParseLimits, check_stop

__all__ = ["CsvReader", "CsvTable", "read_csv"]

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_BOOLEANS = {"true": 1.0, "false": 0.0}
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_CHUNK_CELLS = 1 << 16
_SHOWN_CHARS = 60

Source = str | os.PathLike[str] | bytes


@dataclass(frozen=True)
class CsvTable:
    """A parsed CSV file: the header's column names and a float32 matrix ``[rows, columns]``."""

    columns: tuple[str, ...]
    data: np.ndarray

    @property
    def description(self) -> dict[str, dict[str, int]]:
        """Column groups for a dataset file: each CSV column is a group of width 1."""
        return csv_description(self.columns)


def csv_description(columns: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """Column groups for a dataset file: each CSV column is a group of width 1."""
    return {name: {"column_start": i, "column_end": i + 1} for i, name in enumerate(columns)}


def read_csv(
    source: Source,
    *,
    name: str | None = None,
    limits: ParseLimits | None = None,
    stop: threading.Event | None = None,
) -> CsvTable:
    """Parse a CSV file (a path, or its content as bytes) strictly, into memory.

    Errors name the file (``name``, the path, or ``<bytes>``), the row as a 1-based line
    number of the file (the header is row 1) and the column by its header name. A file
    that cannot be opened raises the ``OSError``.
    """
    with CsvReader(source, name=name, limits=limits, stop=stop) as reader:
        chunks = list(reader.chunks())
    return CsvTable(columns=reader.columns, data=np.concatenate(chunks))


class CsvReader:
    """Open a CSV file and read its header; :meth:`chunks` then yields the data rows.

    ``with CsvReader(path) as reader:`` gives ``reader.columns`` at once. A file over
    ``limits.max_bytes`` raises :class:`~hanami.datasets.InputTooLarge` before anything
    is read; too many columns or rows, a row longer than ``limits.max_row_chars`` or a
    bad cell raise :class:`~hanami.datasets.DatasetError`; a set ``stop`` raises
    :class:`~hanami.datasets.ParseStopped` between chunks.
    """

    def __init__(
        self,
        source: Source,
        *,
        name: str | None = None,
        limits: ParseLimits | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.limits = limits or ParseLimits()
        self.stop = stop
        self._text: IO[str]
        if isinstance(source, bytes | bytearray | memoryview):
            self.label = name or "<bytes>"
            self.limits.check_bytes(len(source), self.label)
            try:
                text = bytes(source).decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise DatasetError(f"{self.label}: not UTF-8 text (byte {exc.start})") from exc
            self._text = io.StringIO(text, newline="")
        else:
            self.label = name or str(source)
            self.limits.check_bytes(os.stat(source).st_size, self.label)
            self._text = Path(source).open(encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed by close()
        self._pending = 0  # characters of the record being read
        self._reader = csv.reader(self._lines(), strict=True)
        self._consumed = 0  # physical lines consumed so far; a record starts on the line after
        try:
            header = self._next_record()
            if header is None:
                raise DatasetError(
                    f"{self.label}: the file is empty; expected a header row of column names"
                )
            self.columns = self._header(header[1])
        except BaseException:
            self.close()
            raise

    def chunks(self) -> Iterator[np.ndarray]:
        """The data rows as float32 arrays ``[k, columns]`` of about 65536 cells each."""
        width = len(self.columns)
        per_chunk = max(1, _CHUNK_CELLS // width)
        values = array("d")
        rows = 0
        while (record := self._next_record()) is not None:
            row_no, cells = record
            if len(cells) != width:
                raise DatasetError(
                    f"{self.label}: row {row_no} has {len(cells)} fields but the header has "
                    f"{width} columns"
                )
            values.extend(
                _cell(cell, self.label, row_no, col)
                for cell, col in zip(cells, self.columns, strict=True)
            )
            rows += 1
            self.limits.check_rows(rows, self.label)
            if rows % per_chunk == 0:
                yield _block(values, width)
                values = array("d")
                check_stop(self.stop)
        if rows == 0:
            raise DatasetError(f"{self.label}: the file has a header but no data rows")
        if values:
            yield _block(values, width)

    def close(self) -> None:
        self._text.close()

    def __enter__(self) -> CsvReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _lines(self) -> Iterator[str]:
        """The file's lines; raises once the record being read outgrows the row limit."""
        limit = self.limits.max_row_chars
        while line := self._text.readline(limit + 1):
            self._pending += len(line)
            if self._pending > limit:
                raise DatasetError(
                    f"{self.label}: row {self._consumed + 1} is longer than {limit} characters "
                    f"(rows may have at most {self.limits.max_columns} columns)"
                )
            yield line

    def _next_record(self) -> tuple[int, list[str]] | None:
        """The next non-blank record and the line it starts on, or None at the end."""
        try:
            while True:
                self._pending = 0
                record = next(self._reader, None)
                if record is None:
                    return None
                row_no, self._consumed = self._consumed + 1, self._reader.line_num
                if record:
                    return row_no, record
        except csv.Error as exc:
            raise DatasetError(
                f"{self.label}: malformed CSV at row {self._reader.line_num}: {exc}"
            ) from exc
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{self.label}: not UTF-8 text ({exc.reason})") from exc

    def _header(self, record: list[str]) -> tuple[str, ...]:
        self.limits.check_columns(len(record), self.label)
        names = tuple(field.strip() for field in record)
        seen: set[str] = set()
        for i, column in enumerate(names):
            if not column:
                raise DatasetError(f"{self.label}: header column {i + 1} has an empty name")
            if column in seen:
                raise DatasetError(f"{self.label}: header names column {_show(column)} twice")
            seen.add(column)
        return names


def _block(values: array, width: int) -> np.ndarray:
    return np.frombuffer(values, dtype=np.float64).astype(np.float32).reshape(-1, width)


def _show(text: str) -> str:
    """``repr`` of a name or cell, shortened so an error message stays short."""
    if len(text) > _SHOWN_CHARS:
        return repr(text[:_SHOWN_CHARS]) + "..."
    return repr(text)


def _cell(cell: str, label: str, row_no: int, column: str) -> float:
    text = cell.strip()
    if _NUMBER.fullmatch(text):
        value = float(text)
        if abs(value) <= _FLOAT32_MAX:
            return value
        reason = "is outside the float32 range"
    elif text.lower() in _BOOLEANS:
        return _BOOLEANS[text.lower()]
    else:
        reason = "is not a number"
    raise DatasetError(
        f"{label}: row {row_no}, column {_show(column)}: value {_show(cell)} {reason}"
    )
