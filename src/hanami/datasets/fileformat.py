"""The on-disk dataset file's layout, and its header read and written in one place.

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
``filereader`` maps a file, ``filewriter`` writes one.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import DTypeLike

from hanami.datasets.errors import DatasetError

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


def read_header(
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
        if offset != data_offset(desc_len):
            raise DatasetError(
                f"{path}: data offset {offset} does not match the description length "
                f"{desc_len} (expected {data_offset(desc_len)})"
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
    groups, _ = check_description(description, columns, f"{path}: ")
    dtype = _DTYPES[code]
    expected = offset + rows * columns * dtype.itemsize
    if size != expected or ((major, minor) == _V2 and file_size != size):
        raise DatasetError(
            f"{path}: size mismatch: {rows} rows x {columns} columns of {dtype.name} need "
            f"{expected - offset} data bytes from offset {offset}, found {size - offset}"
            + ("" if file_size == size else f" (the header records a file size of {file_size})")
        )
    return name, version, groups, dtype, rows, columns, offset


def encode_header(
    dtype: np.dtype,
    *,
    rows: int,
    columns: int,
    name_raw: bytes,
    description_raw: bytes,
    offset: int,
    size: int,
) -> bytes:
    """The v2.0 header of a file of this shape, with its CRC over header and description."""
    code = next(c for c, dt in _DTYPES.items() if dt == dtype)
    header = bytearray(HEADER_SIZE)
    _HEADER.pack_into(
        header, 0, _TYPE_ID, _FILE_ID, *_V2, code, dtype.itemsize,
        len(description_raw), size, rows, columns, name_raw, len(name_raw),
        offset, 0,
    )  # fmt: skip
    crc = zlib.crc32(description_raw, zlib.crc32(header))
    struct.pack_into("<I", header, _CRC_AT, crc)
    return bytes(header)


def check_description(
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
        if not (is_int(start) and is_int(end) and 0 <= start < end):
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


def dataset_dtype(dtype: DTypeLike) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise DatasetError(f"unknown dtype {dtype!r}; use uint8 or float32") from exc
    for supported in _DTYPES.values():
        if (resolved.kind, resolved.itemsize) == (supported.kind, supported.itemsize):
            return supported
    raise DatasetError(f"dataset dtype must be uint8 or float32, got {resolved}")


def data_offset(description_length: int) -> int:
    return HEADER_SIZE + -(-description_length // HEADER_SIZE) * HEADER_SIZE


def is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _unpad(raw: bytes) -> bytes:
    return raw.split(b"\0", 1)[0]


def _decode(raw: bytes, path: Path, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: the {what} is not valid UTF-8") from exc
