"""Writing a dataset file in row chunks, so that it appears under its name only complete."""

from __future__ import annotations

import json
import os
import tempfile
import weakref
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from hanami.datasets.errors import DatasetError
from hanami.datasets.fileformat import (
    MAX_DESCRIPTION,
    MAX_NAME,
    check_description,
    data_offset,
    dataset_dtype,
    encode_header,
    is_int,
)
from hanami.datasets.filereader import Dataset, open_dataset


class DatasetWriter:
    """Write a dataset file in row chunks, making it visible only once it is complete.

    The rows go into a pre-sized temp file in the target's directory; :meth:`commit`
    checks that every row was written, fsyncs and renames it over ``path`` atomically, so
    no reader ever sees a half-written dataset. :meth:`abort` (also run when a ``with``
    block ends without a commit, or when the writer is garbage-collected) deletes the
    temp file. The column count is the largest ``column_end`` in ``description``.

    Example::

        with DatasetWriter(path, {"x": {"column_start": 0, "column_end": 3}}, 2, "float32") as w:
            w.write_rows(0, [[1, 2, 3], [4, 5, 6]])
            dataset = w.commit()
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        description: Mapping[str, Mapping[str, int]],
        rows: int,
        dtype: DTypeLike,
        *,
        name: str = "",
    ) -> None:
        self.path = Path(path)
        self.dtype = dataset_dtype(dtype)
        if not is_int(rows) or rows < 0:
            raise DatasetError(f"rows must be a non-negative integer, got {rows!r}")
        self.rows = int(rows)
        groups, self.columns = check_description(description, None, "")
        name_raw = name.encode("utf-8")
        if len(name_raw) > MAX_NAME:
            raise DatasetError(f"dataset name is {len(name_raw)} bytes of UTF-8; at most 254")
        description_raw = json.dumps(groups, separators=(",", ":")).encode("utf-8")
        if len(description_raw) > MAX_DESCRIPTION:
            raise DatasetError(f"description is {len(description_raw)} bytes; at most 1 MiB")
        self._offset = data_offset(len(description_raw))
        self._row_bytes = self.columns * self.dtype.itemsize
        size = self._offset + self.rows * self._row_bytes
        header = encode_header(
            self.dtype,
            rows=self.rows,
            columns=self.columns,
            name_raw=name_raw,
            description_raw=description_raw,
            offset=self._offset,
            size=size,
        )

        fd, temp = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name[:200]}.", suffix=".tmp"
        )
        self.temp_path = Path(temp)
        self._file: IO[bytes] | None = os.fdopen(fd, "r+b")
        self._discard = weakref.finalize(self, _discard, self._file, self.temp_path)
        self._written: list[tuple[int, int]] = []
        try:
            self._file.write(header)
            self._file.write(description_raw)
            self._file.truncate(size)
        except BaseException:
            self.abort()
            raise

    @property
    def rows_written(self) -> int:
        """How many distinct rows have been written so far (rows written twice count once)."""
        return sum(end - start for start, end in self._written)

    def write_rows(self, start_row: int, rows: ArrayLike) -> None:
        """Write ``rows`` (``[k, columns]``, or one row ``[columns]``) starting at ``start_row``.

        Chunks may come in any order and may be written again (a re-sent upload chunk).
        uint8 datasets take integers in 0-255; float32 datasets take any real numbers that
        are finite in float32.
        """
        file = self._open_file()
        block = np.asarray(rows)
        if block.ndim == 1:
            block = block[np.newaxis]
        if block.ndim != 2 or block.shape[1] != self.columns:
            raise DatasetError(
                f"{self.path}: rows must have shape [k, {self.columns}], got {block.shape}"
            )
        if not is_int(start_row) or start_row < 0 or start_row + len(block) > self.rows:
            raise DatasetError(
                f"{self.path}: cannot write {len(block)} rows at row {start_row!r}: the "
                f"dataset has {self.rows} rows"
            )
        block = self._convert(block)
        file.seek(self._offset + start_row * self._row_bytes)
        file.write(np.ascontiguousarray(block).data)
        if len(block):
            self._mark(int(start_row), int(start_row) + len(block))

    def commit(self) -> Dataset:
        """Check that every row was written, then publish the file atomically and open it."""
        file = self._open_file()
        if self.rows_written != self.rows:
            gap_start = self._written[0][1] if self._written and self._written[0][0] == 0 else 0
            gap_end = next((s for s, _ in self._written if s > gap_start), self.rows)
            raise DatasetError(
                f"{self.path}: cannot commit: {self.rows - self.rows_written} of {self.rows} "
                f"rows were never written (first gap: rows {gap_start}..{gap_end - 1})"
            )
        file.flush()
        os.fsync(file.fileno())
        file.close()
        self._file = None
        try:
            os.replace(self.temp_path, self.path)
        except OSError:
            self.abort()
            raise
        self._discard.detach()
        _fsync_directory(self.path.parent)
        return open_dataset(self.path)

    def abort(self) -> None:
        """Delete the temp file; the final path is left untouched. Safe to call twice."""
        self._file = None
        self._discard()

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()

    def _open_file(self) -> IO[bytes]:
        if self._file is None:
            raise DatasetError(f"{self.path}: the writer was already committed or aborted")
        return self._file

    def _convert(self, block: np.ndarray) -> np.ndarray:
        if self.dtype == np.uint8:
            if block.dtype.kind not in "biu":
                raise DatasetError(
                    f"{self.path}: a uint8 dataset takes integer rows, got {block.dtype}"
                )
            if block.size and (block.min() < 0 or block.max() > 255):
                raise DatasetError(f"{self.path}: a uint8 dataset takes values 0-255")
            return block.astype(np.uint8)
        if block.dtype.kind not in "biuf":
            raise DatasetError(
                f"{self.path}: a float32 dataset takes real numbers, got {block.dtype}"
            )
        with np.errstate(over="ignore"):
            converted = block.astype(self.dtype)
        if not np.isfinite(converted).all():
            raise DatasetError(f"{self.path}: NaN, infinity or a value outside the float32 range")
        return converted

    def _mark(self, start: int, end: int) -> None:
        """Merge ``[start, end)`` into the sorted list of disjoint written row ranges."""
        kept = []
        for a, b in self._written:
            if b < start or a > end:
                kept.append((a, b))
            else:
                start, end = min(a, start), max(b, end)
        kept.append((start, end))
        self._written = sorted(kept)


def write_dataset(
    path: str | os.PathLike[str],
    data: ArrayLike,
    description: Mapping[str, Mapping[str, int]],
    *,
    name: str = "",
    dtype: DTypeLike | None = None,
) -> Dataset:
    """Write a whole ``[rows, columns]`` matrix as a dataset file atomically and open it."""
    matrix = np.asarray(data)
    if matrix.ndim != 2:
        raise DatasetError(f"dataset data must be 2-dimensional, got shape {matrix.shape}")
    target = matrix.dtype if dtype is None else dtype
    with DatasetWriter(path, description, len(matrix), target, name=name) as out:
        out.write_rows(0, matrix)
        return out.commit()


def _discard(file: IO[bytes], temp_path: Path) -> None:
    file.close()
    temp_path.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    """Persist the rename itself; without this a crash could forget the new name (POSIX)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
