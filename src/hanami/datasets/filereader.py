"""An opened dataset file: its matrix memory-mapped, its column groups by name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from hanami.datasets.errors import ColumnNotFoundError, DatasetError
from hanami.datasets.fileformat import read_header


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


class DatasetHeader(NamedTuple):
    """What a dataset file says about itself, read without mapping its data."""

    name: str
    version: str
    description: dict[str, dict[str, int]]
    rows: int
    columns: int


def read_dataset_header(path: str | os.PathLike[str]) -> DatasetHeader:
    """The header of a dataset file, checked as :func:`open_dataset` checks it.

    A GET of a dataset's details needs only these fields; mapping the data for them cost
    more than reading them (docs/performance.md).
    """
    path = Path(path)
    with path.open("rb") as file:
        name, version, groups, _, rows, columns, _ = read_header(file, path)
    return DatasetHeader(name, version, groups, rows, columns)


def open_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Open a dataset file (format v2.0 or v1.0alpha), checking every header field.

    The header is checked and the data mapped through the same open file, so a dataset
    replaced by a concurrent commit is never read half old, half new.
    """
    path = Path(path)
    with path.open("rb") as file:
        name, version, groups, dtype, rows, columns, offset = read_header(file, path)
        if rows == 0:
            data = np.empty((0, columns), dtype=dtype)
        else:
            data = np.memmap(file, dtype=dtype, mode="r", offset=offset, shape=(rows, columns))
    return Dataset(path, name, version, groups, data)
