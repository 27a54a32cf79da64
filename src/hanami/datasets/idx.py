"""Strict reader for IDX files (the MNIST container format), raw or gzip-compressed.

The original service read IDX files without checking magic, sizes or label values, so a
truncated upload or a label above 9 caused out-of-bounds reads and writes (service.md,
section 11, S8). Everything here is checked before it is used.

IDX layout: two zero bytes, one type code byte, one byte with the number of dimensions
``ndim``, ``ndim`` big-endian uint32 sizes, then the big-endian data in row-major order.

:class:`IdxReader` checks the header against a :class:`~hanami.datasets.ParseLimits`
before it reads any data (the header says exactly how much will follow, so a gzip bomb is
refused from its first bytes), then streams the rows in chunks of about 8 MiB.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np

from hanami.datasets.errors import DatasetError
from hanami.datasets.limits import ParseLimits, check_stop

__all__ = ["IdxReader", "mnist_to_columns", "read_idx"]

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 23
MNIST_CLASSES = 10

Source = str | os.PathLike[str] | bytes


def read_idx(
    source: Source,
    *,
    name: str | None = None,
    limits: ParseLimits | None = None,
    stop: threading.Event | None = None,
) -> np.ndarray:
    """Read an IDX file into a native-endian array shaped like the dimensions in its header.

    ``source`` is a path or the file content as bytes; ``name`` is what error messages
    call the file (default: the path, or ``<bytes>``). A file that cannot be opened raises
    the ``OSError``; ``DatasetError`` is reserved for bad content.

    The data is read in chunks up to the size the header declares, so a gzip bomb or a
    header with absurd dimensions cannot make it allocate more than the file really holds.
    """
    with IdxReader(source, name=name, limits=limits, stop=stop) as reader:
        return reader.read()


class IdxReader:
    """Open an IDX file and check its header; :meth:`chunks` then streams its rows.

    ``shape`` is the declared shape (rows first) and ``dtype`` the native-endian data type.
    A header over ``limits`` raises before any data is read: too many rows (the first
    dimension) or columns (the product of the others) a :class:`DatasetError`, more bytes
    than ``limits.max_bytes`` (header included, after decompression) an
    :class:`~hanami.datasets.InputTooLarge`. A set ``stop`` raises
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
        if isinstance(source, bytes | bytearray | memoryview):
            self.label = name or "<bytes>"
            self._raw: BinaryIO = io.BytesIO(source)
        else:
            self.label = name or str(source)
            self._raw = Path(source).open("rb")  # noqa: SIM115 - closed by close()
        self._stream: BinaryIO = self._raw
        try:
            self._compressed = self._raw.read(2) == _GZIP_MAGIC
            self._raw.seek(0)
            if self._compressed:
                self._stream = gzip.GzipFile(fileobj=self._raw, mode="rb")
            self._read_header()
        except BaseException:
            self.close()
            raise

    @property
    def rows(self) -> int:
        return self.shape[0]

    @property
    def row_bytes(self) -> int:
        return math.prod(self.shape[1:]) * self._file_dtype.itemsize

    def chunks(self) -> Iterator[np.ndarray]:
        """The data as arrays ``[k, *shape[1:]]``, then a check that nothing follows it."""
        row_bytes = self.row_bytes
        if row_bytes == 0:
            if self.rows:
                yield np.empty(self.shape, self.dtype)
        else:
            per_chunk = max(1, _CHUNK // row_bytes)
            for start in range(0, self.rows, per_chunk):
                check_stop(self.stop)
                count = min(per_chunk, self.rows - start)
                data = self._read_upto(count * row_bytes)
                if len(data) < count * row_bytes:
                    self._truncated(start * row_bytes + len(data))
                block = np.frombuffer(data, dtype=self._file_dtype)  # no copy of the bytearray
                yield block.reshape(count, *self.shape[1:]).astype(self.dtype, copy=False)
        self._check_end()

    def read(self) -> np.ndarray:
        """All the data, shaped like the header says."""
        chunks = list(self.chunks())
        return np.concatenate(chunks) if chunks else np.empty(self.shape, self.dtype)

    def close(self) -> None:
        self._stream.close()
        self._raw.close()

    def __enter__(self) -> IdxReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _read_header(self) -> None:
        label = self.label
        magic = self._read_upto(4)
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
            raise DatasetError(
                f"{label}: unsupported IDX data type 0x{code:02X} (supported: {known})"
            )
        if ndim == 0:
            raise DatasetError(f"{label}: IDX header declares 0 dimensions")
        dim_bytes = self._read_upto(4 * ndim)
        if len(dim_bytes) < 4 * ndim:
            raise DatasetError(
                f"{label}: truncated IDX header: expected {4 * ndim} bytes of dimension "
                f"sizes, found {len(dim_bytes)}"
            )
        self.shape: tuple[int, ...] = struct.unpack(f">{ndim}I", dim_bytes)
        self._file_dtype = IDX_DTYPES[code]
        self.dtype: np.dtype = self._file_dtype.newbyteorder("=")
        self.header_size = 4 + 4 * ndim
        self.data_size = self.rows * self.row_bytes
        self.limits.check_rows(self.rows, label)
        self.limits.check_columns(math.prod(self.shape[1:]), label)
        self.limits.check_bytes(self.header_size + self.data_size, label)

    def _truncated(self, found: int) -> None:
        raise DatasetError(
            f"{self.label}: truncated IDX data: header {self.shape} needs {self.data_size} "
            f"bytes after the {self.header_size}-byte header, found {found}"
        )

    def _check_end(self) -> None:
        extra = len(self._read_upto(_CHUNK))
        if extra:
            self.limits.check_bytes(self.header_size + self.data_size + extra, self.label)
            more = "" if extra < _CHUNK else " or more"
            raise DatasetError(
                f"{self.label}: {extra}{more} trailing bytes after the {self.data_size} data "
                f"bytes that the header {self.shape} declares"
            )

    def _read_upto(self, size: int) -> bytearray:
        """Read ``size`` bytes or until EOF, in bounded pieces so a lying header allocates
        nothing."""
        parts = bytearray()
        try:
            while len(parts) < size:
                chunk = self._stream.read(min(_CHUNK, size - len(parts)))
                if not chunk:
                    break
                parts += chunk
        except (OSError, EOFError, zlib.error) as exc:
            if not self._compressed:
                raise
            raise DatasetError(f"{self.label}: damaged gzip stream: {exc}") from exc
        return parts


def check_mnist_headers(images: IdxReader, labels: IdxReader) -> None:
    """The checks of :func:`mnist_to_columns` that need only the two headers."""
    _check_mnist_shapes(images.shape, images.dtype, labels.shape, labels.dtype)


def _check_mnist_shapes(
    images_shape: tuple[int, ...],
    images_dtype: np.dtype,
    labels_shape: tuple[int, ...],
    labels_dtype: np.dtype,
) -> None:
    if images_dtype != np.uint8 or len(images_shape) < 2:
        raise DatasetError(
            f"MNIST images must be unsigned bytes (IDX type 0x08) with at least 2 dimensions, "
            f"found {images_dtype} with shape {images_shape}"
        )
    if len(labels_shape) != 1 or not np.issubdtype(labels_dtype, np.integer):
        raise DatasetError(
            f"MNIST labels must be a 1-dimensional integer array, found {labels_dtype} with "
            f"shape {labels_shape}"
        )
    if labels_shape[0] != images_shape[0]:
        raise DatasetError(
            f"the image file holds {images_shape[0]} images but the label file "
            f"{labels_shape[0]} labels"
        )


def check_labels(labels: np.ndarray) -> np.ndarray:
    """MNIST labels as uint8 after checking that each is 0-9 (the first bad one is named)."""
    bad = np.flatnonzero((labels < 0) | (labels >= MNIST_CLASSES))
    if bad.size:
        row = int(bad[0])
        raise DatasetError(
            f"label {int(labels[row])} at row {row} (0-based) is out of range: MNIST labels "
            f"are 0-{MNIST_CLASSES - 1} ({bad.size} bad labels in total)"
        )
    return labels.astype(np.uint8)


def one_hot(labels: np.ndarray) -> np.ndarray:
    """Checked labels as uint8 one-hot rows ``[n, 10]``."""
    rows = np.zeros((len(labels), MNIST_CLASSES), dtype=np.uint8)
    rows[np.arange(len(labels)), labels] = 1
    return rows


def mnist_to_columns(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turn MNIST images and labels into the two column groups of an MNIST dataset.

    Returns ``(inputs, one_hot)``: the raw pixels as uint8 ``[n, rows*cols]`` (0-255, not
    normalised, as the original stores them) and the labels as uint8 one-hot ``[n, 10]``.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    _check_mnist_shapes(images.shape, images.dtype, labels.shape, labels.dtype)
    return images.reshape(len(images), int(np.prod(images.shape[1:]))), one_hot(
        check_labels(labels)
    )
