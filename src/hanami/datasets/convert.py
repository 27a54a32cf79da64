"""Turn uploaded MNIST (IDX) and CSV files into dataset files (service.md 5.2).

These are what the upload endpoints run. The layouts match the original, so tasks and
clients bind the same column group names: MNIST gives a uint8 dataset with the groups
``picture`` (raw pixels) and ``label`` (one-hot, 10 columns); CSV gives a float32 dataset
with one group of width 1 per header column.

Both stream: memory stays bounded by a chunk (plus the MNIST labels, one byte or so per
row) whatever the file size, ``limits`` are checked as the file is read, and a set ``stop``
ends the conversion between chunks with :class:`~hanami.datasets.ParseStopped`. Nothing
is left behind when a conversion fails: the dataset file appears only once it is complete.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import numpy as np

from hanami.datasets.csv import CsvReader, csv_description
from hanami.datasets.filereader import Dataset
from hanami.datasets.filewriter import DatasetWriter
from hanami.datasets.idx import (
    MNIST_CLASSES,
    IdxReader,
    check_labels,
    check_mnist_headers,
    one_hot,
)
from hanami.datasets.limits import ParseLimits, check_stop

__all__ = ["convert_csv", "convert_mnist"]

Source = str | os.PathLike[str] | bytes
_CHUNK_BYTES = 1 << 23


def convert_mnist(
    images: Source,
    labels: Source,
    path: str | os.PathLike[str],
    *,
    name: str = "",
    file_names: tuple[str, str] | None = None,
    limits: ParseLimits | None = None,
    stop: threading.Event | None = None,
) -> Dataset:
    """Convert an IDX image file and its IDX label file into an MNIST dataset at ``path``.

    ``file_names`` are what error messages call the two files (default: their paths, or
    ``<image file>`` and ``<label file>`` for bytes).
    """
    image_name, label_name = file_names or (
        _label(images, "image file"),
        _label(labels, "label file"),
    )
    with (
        IdxReader(images, name=image_name, limits=limits, stop=stop) as pixels,
        IdxReader(labels, name=label_name, limits=limits, stop=stop) as classes,
    ):
        check_mnist_headers(pixels, classes)
        checked = check_labels(classes.read())
        width = pixels.row_bytes
        description = {
            "picture": {"column_start": 0, "column_end": width},
            "label": {"column_start": width, "column_end": width + MNIST_CLASSES},
        }
        with DatasetWriter(path, description, pixels.rows, np.uint8, name=name) as out:
            start = 0
            for block in pixels.chunks():
                end = start + len(block)
                rows = block.reshape(len(block), width)
                out.write_rows(start, np.hstack((rows, one_hot(checked[start:end]))))
                start = end
            return out.commit()


def convert_csv(
    source: Source,
    path: str | os.PathLike[str],
    *,
    name: str = "",
    file_name: str | None = None,
    limits: ParseLimits | None = None,
    stop: threading.Event | None = None,
) -> Dataset:
    """Convert a CSV file with a header row into a float32 dataset at ``path``.

    The row count is known only at the end, and a dataset file's header comes first: the
    rows go to an anonymous spill file next to ``path`` and are copied from there.
    """
    target = Path(path)
    label = file_name or _label(source, "CSV file")
    with (
        CsvReader(source, name=label, limits=limits, stop=stop) as reader,
        tempfile.TemporaryFile(dir=target.parent) as spill,
    ):
        rows = 0
        for block in reader.chunks():
            spill.write(block.tobytes())
            rows += len(block)
        width = len(reader.columns)
        description = csv_description(reader.columns)
        per_chunk = max(1, _CHUNK_BYTES // (4 * width))
        spill.seek(0)
        with DatasetWriter(target, description, rows, np.float32, name=name) as out:
            for start in range(0, rows, per_chunk):
                check_stop(stop)
                block = np.fromfile(spill, np.float32, count=min(per_chunk, rows - start) * width)
                out.write_rows(start, block.reshape(-1, width))
            return out.commit()


def _label(source: Source, what: str) -> str:
    return f"<{what}>" if isinstance(source, bytes | bytearray | memoryview) else str(source)
