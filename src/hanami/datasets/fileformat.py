"""The on-disk dataset file: a fixed header, a JSON description of column groups, a matrix.

Version ``v2.0`` is the successor of the original "hanami data-set" ``v1.0alpha`` format
(service.md 5.1). The first 344 bytes keep the original layout, so the magic and the
version fields tell the two apart. What changed, and why:

- The data starts at a 4096-byte boundary (``data offset``), so ``np.memmap`` maps it
  aligned instead of at the odd offset ``4096 + D``.
- A CRC-32 covers the header and the description, so a damaged header is detected.
- The header is final before the first row is written, and a file only ever appears
  under its name complete (temp file, fsync, ``os.replace``). The original rewrote the
  row count when a handle closed, so readers could not trust a file being written.
- All integers and float32 values are little-endian by definition, not "host layout".

Layout of ``v2.0`` (little-endian; strings are ASCII/UTF-8 padded with NUL bytes)::

    offset  size  field
         0     8  type identifier      "hanami"
         8    32  file identifier      "data-set"
        40     8  major version        "v2"
        48     8  minor version        "0"
        56     1  data type            1 = uint8, 4 = float32
        57     1  type size in bytes   1 or 4
        58     2  zero
        60     4  description length D (uint32, at most 1 MiB)
        64     8  file size in bytes   (uint64, exact)
        72     8  number of rows       (uint64)
        80     8  number of columns    (uint64)
        88   255  dataset name         (UTF-8)
       343     1  name length          (0-254 bytes)
       344     8  data offset          (uint64) = 4096 + D rounded up to a multiple of 4096
       352     4  CRC-32 of bytes 0-4095 (with these 4 bytes zero) followed by the description
       356  3740  zero
      4096     D  description: compact JSON {"<group>": {"column_start": s, "column_end": e}}
    4096+D   ...  zero up to the data offset
    offset   R*C*size  row-major matrix, no separators

A column group is the half-open column range ``[column_start, column_end)``; groups may
overlap and need not cover every column. Files in the original ``v1.0alpha`` format are
read as well (data at ``4096 + D``, no CRC), so existing datasets can be migrated.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import weakref
import zlib
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from hanami.datasets.errors import ColumnNotFoundError, DatasetError

__all__ = [
    "FORMAT_VERSION",
    "Dataset",
    "DatasetWriter",
    "open_dataset",
    "write_dataset",
]

HEADER_SIZE = 4096
MAX_DESCRIPTION = 1 << 20
MAX_NAME = 254
_TYPE_ID = b"hanami"
_FILE_ID = b"data-set"
_V2 = (b"v2", b"0")
_V1 = (b"v1", b"0alpha")
FORMAT_VERSION = "v2.0"
_DTYPES: dict[int, np.dtype] = {1: np.dtype("u1"), 4: np.dtype("<f4")}
_HEADER = struct.Struct("<8s32s8s8sBB2xIQQQ255sBQI")
_CRC_AT = 352


class Dataset:
    """An opened dataset file whose matrix ``data`` is a read-only memory map.

    Nothing is read into memory up front, so a 60000-row MNIST file opens instantly and
    a task reads only the rows it needs.
    """

    def __init__(
        self,
        path: Path,
        name: str,
        version: str,
        description: dict[str, dict[str, int]],
        data: np.ndarray,
    ) -> None:
        self.path = path
        self.name = name
        self.version = version
        self._description = description
        self.data = data

    @property
    def rows(self) -> int:
        return int(self.data.shape[0])

    @property
    def columns(self) -> int:
        return int(self.data.shape[1])

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def description(self) -> dict[str, dict[str, int]]:
        """The column groups as in the file: ``{name: {"column_start": s, "column_end": e}}``."""
        return {group: dict(bounds) for group, bounds in self._description.items()}

    def column(self, name: str) -> np.ndarray:
        """A ``[rows, width]`` view of the column group ``name`` (no copy)."""
        if name not in self._description:
            known = ", ".join(repr(group) for group in self._description)
            raise ColumnNotFoundError(f"{self.path}: no column group {name!r} (has {known})")
        bounds = self._description[name]
        return self.data[:, bounds["column_start"] : bounds["column_end"]]

    def read_rows(self, name: str, row_offset: int, number_of_rows: int) -> np.ndarray:
        """Copy rows ``[row_offset, row_offset + number_of_rows)`` of a group as float32.

        Unlike slicing, a range that does not lie inside the dataset is an error, so a
        client paging through results learns it went too far (the original answered with
        the invalid HTTP status "1").
        """
        view = self.column(name)
        if row_offset < 0 or number_of_rows < 1 or row_offset + number_of_rows > self.rows:
            raise DatasetError(
                f"{self.path}: rows {row_offset}..{row_offset + number_of_rows - 1} requested, "
                f"but the dataset has {self.rows} rows (0..{self.rows - 1})"
            )
        return np.array(view[row_offset : row_offset + number_of_rows], dtype=np.float32)

    def __repr__(self) -> str:
        return (
            f"Dataset({str(self.path)!r}, name={self.name!r}, version={self.version!r}, "
            f"rows={self.rows}, columns={self.columns}, dtype={self.dtype.name}, "
            f"groups={list(self._description)})"
        )


def open_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Open a dataset file (format v2.0 or v1.0alpha), checking every header field.

    The header is checked and the data mapped through the same open file, so a dataset
    replaced by a concurrent commit is never read half old, half new.
    """
    path = Path(path)
    with path.open("rb") as file:
        name, version, groups, dtype, rows, columns, offset = _read_header(file, path)
        if rows == 0:
            data = np.empty((0, columns), dtype=dtype)
        else:
            data = np.memmap(file, dtype=dtype, mode="r", offset=offset, shape=(rows, columns))
    return Dataset(path, name, version, groups, data)


def _read_header(
    file: IO[bytes], path: Path
) -> tuple[str, str, dict[str, dict[str, int]], np.dtype, int, int, int]:
    """Validate header, description and file size; return what is needed to map the data."""
    size = os.fstat(file.fileno()).st_size
    header = file.read(HEADER_SIZE)
    if len(header) < HEADER_SIZE:
        raise DatasetError(
            f"{path}: truncated header: expected {HEADER_SIZE} bytes, found {len(header)}"
        )
    fields = _HEADER.unpack_from(header)
    type_id, file_id, major, minor = (_unpad(raw) for raw in fields[:4])
    if type_id != _TYPE_ID or file_id != _FILE_ID:
        raise DatasetError(
            f"{path}: not a hanami dataset file (identifiers {type_id!r}, {file_id!r}; "
            f"expected {_TYPE_ID!r}, {_FILE_ID!r})"
        )
    version = f"{major.decode('ascii', 'replace')}.{minor.decode('ascii', 'replace')}"
    if (major, minor) not in (_V2, _V1):
        raise DatasetError(
            f"{path}: unsupported dataset format version {version} (supported: v2.0, v1.0alpha)"
        )
    code, type_size, desc_len, file_size, rows, columns, name_raw, name_len, offset, crc = fields[
        4:
    ]
    if code not in _DTYPES or type_size != _DTYPES[code].itemsize:
        raise DatasetError(
            f"{path}: bad data type {code} with type size {type_size} "
            f"(expected 1/1 for uint8 or 4/4 for float32)"
        )
    if desc_len > MAX_DESCRIPTION:
        raise DatasetError(
            f"{path}: description length {desc_len} exceeds the limit of {MAX_DESCRIPTION}"
        )
    description_raw = file.read(desc_len)
    if len(description_raw) < desc_len:
        raise DatasetError(
            f"{path}: truncated description: expected {desc_len} bytes, "
            f"found {len(description_raw)}"
        )
    if (major, minor) == _V2:
        header_zeroed = header[:_CRC_AT] + bytes(4) + header[_CRC_AT + 4 :]
        if zlib.crc32(description_raw, zlib.crc32(header_zeroed)) != crc:
            raise DatasetError(f"{path}: header checksum mismatch: the header is corrupt")
        if offset != _data_offset(desc_len):
            raise DatasetError(
                f"{path}: data offset {offset} does not match the description length "
                f"{desc_len} (expected {_data_offset(desc_len)})"
            )
    else:
        offset = HEADER_SIZE + desc_len
    if name_len > MAX_NAME or name_raw[name_len] != 0:
        raise DatasetError(f"{path}: bad name field (length byte {name_len})")
    name = _decode(name_raw[:name_len], path, "name")
    try:
        description = json.loads(_decode(description_raw, path, "description"))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: description is not valid JSON: {exc}") from exc
    groups, _ = _check_description(description, columns, f"{path}: ")
    dtype = _DTYPES[code]
    expected = offset + rows * columns * dtype.itemsize
    if size != expected or ((major, minor) == _V2 and file_size != size):
        raise DatasetError(
            f"{path}: size mismatch: {rows} rows x {columns} columns of {dtype.name} need "
            f"{expected - offset} data bytes from offset {offset}, found {size - offset}"
            + ("" if file_size == size else f" (the header records a file size of {file_size})")
        )
    return name, version, groups, dtype, rows, columns, offset


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
        self.dtype = _dataset_dtype(dtype)
        if not _is_int(rows) or rows < 0:
            raise DatasetError(f"rows must be a non-negative integer, got {rows!r}")
        self.rows = int(rows)
        groups, self.columns = _check_description(description, None, "")
        name_raw = name.encode("utf-8")
        if len(name_raw) > MAX_NAME:
            raise DatasetError(f"dataset name is {len(name_raw)} bytes of UTF-8; at most 254")
        description_raw = json.dumps(groups, separators=(",", ":")).encode("utf-8")
        if len(description_raw) > MAX_DESCRIPTION:
            raise DatasetError(f"description is {len(description_raw)} bytes; at most 1 MiB")
        self._offset = _data_offset(len(description_raw))
        self._row_bytes = self.columns * self.dtype.itemsize
        size = self._offset + self.rows * self._row_bytes
        code = next(c for c, dt in _DTYPES.items() if dt == self.dtype)
        header = bytearray(HEADER_SIZE)
        _HEADER.pack_into(
            header, 0, _TYPE_ID, _FILE_ID, *_V2, code, self.dtype.itemsize,
            len(description_raw), size, self.rows, self.columns, name_raw, len(name_raw),
            self._offset, 0,
        )  # fmt: skip
        crc = zlib.crc32(description_raw, zlib.crc32(header))
        struct.pack_into("<I", header, _CRC_AT, crc)

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
        if not _is_int(start_row) or start_row < 0 or start_row + len(block) > self.rows:
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


def _check_description(
    description: Any, columns: int | None, where: str
) -> tuple[dict[str, dict[str, int]], int]:
    """Validate column groups; return them normalised and the column count they imply."""
    if not isinstance(description, Mapping) or not description:
        raise DatasetError(f"{where}description must be a non-empty object of column groups")
    groups: dict[str, dict[str, int]] = {}
    for group, bounds in description.items():
        if not isinstance(group, str) or not group:
            raise DatasetError(f"{where}column group names must be non-empty strings")
        if not isinstance(bounds, Mapping) or set(bounds) != {"column_start", "column_end"}:
            raise DatasetError(
                f"{where}column group {group!r} must have exactly column_start and column_end"
            )
        start, end = bounds["column_start"], bounds["column_end"]
        if not (_is_int(start) and _is_int(end) and 0 <= start < end):
            raise DatasetError(
                f"{where}column group {group!r}: need integers 0 <= column_start < "
                f"column_end, got {start!r}, {end!r}"
            )
        if columns is not None and end > columns:
            raise DatasetError(
                f"{where}column group {group!r} ends at column {end}, but there are "
                f"only {columns} columns"
            )
        groups[group] = {"column_start": int(start), "column_end": int(end)}
    implied = max(bounds["column_end"] for bounds in groups.values())
    return groups, implied if columns is None else columns


def _dataset_dtype(dtype: DTypeLike) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise DatasetError(f"unknown dtype {dtype!r}; use uint8 or float32") from exc
    for supported in _DTYPES.values():
        if (resolved.kind, resolved.itemsize) == (supported.kind, supported.itemsize):
            return supported
    raise DatasetError(f"dataset dtype must be uint8 or float32, got {resolved}")


def _data_offset(description_length: int) -> int:
    return HEADER_SIZE + -(-description_length // HEADER_SIZE) * HEADER_SIZE


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _unpad(raw: bytes) -> bytes:
    return raw.split(b"\0", 1)[0]


def _decode(raw: bytes, path: Path, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: the {what} is not valid UTF-8") from exc


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
