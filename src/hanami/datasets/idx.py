"""Strict reader for IDX files (the MNIST container format), raw or gzip-compressed.

The original service read IDX files without checking magic, sizes or label values, so a
truncated upload or a label above 9 caused out-of-bounds reads and writes (service.md,
section 11, S8). Everything here is checked before it is used.

IDX layout: two zero bytes, one type code byte, one byte with the number of dimensions
``ndim``, ``ndim`` big-endian uint32 sizes, then the big-endian data in row-major order.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from hanami.datasets.errors import DatasetError

__all__ = ["mnist_to_columns", "read_idx"]

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 24
MNIST_CLASSES = 10


def read_idx(source: str | os.PathLike[str] | bytes, *, name: str | None = None) -> np.ndarray:
    """Read an IDX file into a native-endian array shaped like the dimensions in its header.

    ``source`` is a path or the file content as bytes; ``name`` is what error messages
    call the file (default: the path, or ``<bytes>``). A file that cannot be opened raises
    the ``OSError``; ``DatasetError`` is reserved for bad content.

    The data is read in chunks up to the size the header declares, so a gzip bomb or a
    header with absurd dimensions cannot make it allocate more than the file really holds.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        return _read_file(io.BytesIO(source), name or "<bytes>")
    with Path(source).open("rb") as raw:
        return _read_file(raw, name or str(source))


def _read_file(raw: BinaryIO, label: str) -> np.ndarray:
    compressed = raw.read(2) == _GZIP_MAGIC
    raw.seek(0)
    if not compressed:
        return _read_stream(raw, label)
    try:
        with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
            return _read_stream(stream, label)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{label}: damaged gzip stream: {exc}") from exc


def _read_stream(stream: BinaryIO, label: str) -> np.ndarray:
    magic = _read_upto(stream, 4)
    if len(magic) < 4:
        raise DatasetError(
            f"{label}: truncated IDX header: expected 4 magic bytes, found {len(magic)}"
        )
    if magic[:2] != b"\x00\x00":
        raise DatasetError(
            f"{label}: not an IDX file: magic must start with 00 00, found {magic[:2].hex(' ')}"
        )
    code, ndim = magic[2], magic[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DatasetError(f"{label}: unsupported IDX data type 0x{code:02X} (supported: {known})")
    if ndim == 0:
        raise DatasetError(f"{label}: IDX header declares 0 dimensions")
    dim_bytes = _read_upto(stream, 4 * ndim)
    if len(dim_bytes) < 4 * ndim:
        raise DatasetError(
            f"{label}: truncated IDX header: expected {4 * ndim} bytes of dimension sizes, "
            f"found {len(dim_bytes)}"
        )
    shape = struct.unpack(f">{ndim}I", dim_bytes)
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    header = 4 + 4 * ndim
    data = _read_upto(stream, expected)
    if len(data) < expected:
        raise DatasetError(
            f"{label}: truncated IDX data: header {shape} needs {expected} bytes after the "
            f"{header}-byte header, found {len(data)}"
        )
    extra = len(_read_upto(stream, _CHUNK))
    if extra:
        more = "" if extra < _CHUNK else " or more"
        raise DatasetError(
            f"{label}: {extra}{more} trailing bytes after the {expected} data bytes that the "
            f"header {shape} declares"
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _read_upto(stream: BinaryIO, size: int) -> bytes:
    """Read ``size`` bytes or until EOF, in bounded chunks so a lying header allocates nothing."""
    parts = bytearray()
    while len(parts) < size:
        chunk = stream.read(min(_CHUNK, size - len(parts)))
        if not chunk:
            break
        parts += chunk
    return bytes(parts)


def mnist_to_columns(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turn MNIST images and labels into the two column groups of an MNIST dataset.

    Returns ``(inputs, one_hot)``: the raw pixels as uint8 ``[n, rows*cols]`` (0-255, not
    normalised, as the original stores them) and the labels as uint8 one-hot ``[n, 10]``.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim < 2:
        raise DatasetError(
            f"MNIST images must be unsigned bytes (IDX type 0x08) with at least 2 dimensions, "
            f"found {images.dtype} with shape {images.shape}"
        )
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(
            f"MNIST labels must be a 1-dimensional integer array, found {labels.dtype} with "
            f"shape {labels.shape}"
        )
    if len(labels) != len(images):
        raise DatasetError(
            f"the image file holds {len(images)} images but the label file {len(labels)} labels"
        )
    bad = np.flatnonzero((labels < 0) | (labels >= MNIST_CLASSES))
    if bad.size:
        row = int(bad[0])
        raise DatasetError(
            f"label {int(labels[row])} at row {row} (0-based) is out of range: MNIST labels "
            f"are 0-{MNIST_CLASSES - 1} ({bad.size} bad labels in total)"
        )
    one_hot = np.zeros((len(labels), MNIST_CLASSES), dtype=np.uint8)
    one_hot[np.arange(len(labels)), labels] = 1
    return images.reshape(len(images), int(np.prod(images.shape[1:]))), one_hot
