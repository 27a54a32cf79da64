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
"""

from __future__ import annotations

import csv
import io
import os
import re
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hanami.datasets.errors import DatasetError

__all__ = ["CsvTable", "read_csv"]

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_BOOLEANS = {"true": 1.0, "false": 0.0}
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class CsvTable:
    """A parsed CSV file: the header's column names and a float32 matrix ``[rows, columns]``."""

    columns: tuple[str, ...]
    data: np.ndarray

    @property
    def description(self) -> dict[str, dict[str, int]]:
        """Column groups for a dataset file: each CSV column is a group of width 1."""
        return {
            name: {"column_start": i, "column_end": i + 1} for i, name in enumerate(self.columns)
        }


def read_csv(source: str | os.PathLike[str] | bytes, *, name: str | None = None) -> CsvTable:
    """Parse a CSV file (a path, or its content as bytes) strictly.

    Errors name the file (``name``, the path, or ``<bytes>``), the row as a 1-based line
    number of the file (the header is row 1) and the column by its header name. A file
    that cannot be opened raises the ``OSError``.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        label = name or "<bytes>"
        try:
            text = bytes(source).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{label}: not UTF-8 text (byte {exc.start})") from exc
        return _parse(io.StringIO(text, newline=""), label)
    label = name or str(source)
    try:
        with Path(source).open(encoding="utf-8-sig", newline="") as lines:
            return _parse(lines, label)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{label}: not UTF-8 text ({exc.reason})") from exc


def _parse(lines: Iterable[str], label: str) -> CsvTable:
    reader = csv.reader(lines, strict=True)
    columns: tuple[str, ...] | None = None
    values = array("d")
    rows = 0
    consumed = 0  # physical lines consumed so far; a record starts on the line after
    try:
        for record in reader:
            row_no, consumed = consumed + 1, reader.line_num
            if not record:
                continue
            if columns is None:
                columns = _header(record, label)
                continue
            if len(record) != len(columns):
                raise DatasetError(
                    f"{label}: row {row_no} has {len(record)} fields but the header has "
                    f"{len(columns)} columns"
                )
            values.extend(
                _cell(cell, label, row_no, col) for cell, col in zip(record, columns, strict=True)
            )
            rows += 1
    except csv.Error as exc:
        raise DatasetError(f"{label}: malformed CSV at row {reader.line_num}: {exc}") from exc
    if columns is None:
        raise DatasetError(f"{label}: the file is empty; expected a header row of column names")
    if rows == 0:
        raise DatasetError(f"{label}: the file has a header but no data rows")
    data = np.frombuffer(values, dtype=np.float64).astype(np.float32).reshape(rows, len(columns))
    return CsvTable(columns=columns, data=data)


def _header(record: list[str], label: str) -> tuple[str, ...]:
    names = tuple(field.strip() for field in record)
    for i, column in enumerate(names):
        if not column:
            raise DatasetError(f"{label}: header column {i + 1} has an empty name")
        if column in names[:i]:
            raise DatasetError(f"{label}: header names column {column!r} twice")
    return names


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
    raise DatasetError(f"{label}: row {row_no}, column {column!r}: value {cell!r} {reason}")
