"""Turn uploaded MNIST (IDX) and CSV files into dataset files (service.md 5.2).

These are what the upload-finalize endpoints run. The layouts match the original, so
tasks and clients bind the same column group names: MNIST gives a uint8 dataset with the
groups ``picture`` (raw pixels) and ``label`` (one-hot, 10 columns); CSV gives a float32
dataset with one group of width 1 per header column.
"""

from __future__ import annotations

import os

import numpy as np

from hanami.datasets.csv import read_csv
from hanami.datasets.fileformat import Dataset, DatasetWriter, write_dataset
from hanami.datasets.idx import mnist_to_columns, read_idx

__all__ = ["convert_csv", "convert_mnist"]

Source = str | os.PathLike[str] | bytes
_CHUNK_ROWS = 8192


def convert_mnist(
    images: Source, labels: Source, path: str | os.PathLike[str], *, name: str = ""
) -> Dataset:
    """Convert an IDX image file and its IDX label file into an MNIST dataset at ``path``."""
    pixels, one_hot = mnist_to_columns(
        read_idx(images, name=_label(images, "image file")),
        read_idx(labels, name=_label(labels, "label file")),
    )
    width = pixels.shape[1]
    description = {
        "picture": {"column_start": 0, "column_end": width},
        "label": {"column_start": width, "column_end": width + one_hot.shape[1]},
    }
    with DatasetWriter(path, description, len(pixels), np.uint8, name=name) as out:
        for start in range(0, len(pixels), _CHUNK_ROWS):
            stop = start + _CHUNK_ROWS
            out.write_rows(start, np.hstack((pixels[start:stop], one_hot[start:stop])))
        return out.commit()


def convert_csv(source: Source, path: str | os.PathLike[str], *, name: str = "") -> Dataset:
    """Convert a CSV file with a header row into a float32 dataset at ``path``."""
    table = read_csv(source, name=_label(source, "CSV file"))
    return write_dataset(path, table.data, table.description, name=name)


def _label(source: Source, what: str) -> str:
    return f"<{what}>" if isinstance(source, bytes | bytearray | memoryview) else str(source)
