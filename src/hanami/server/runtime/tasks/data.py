"""How train and request tasks read their datasets: bindings and time windows.

A binding ties a hexagon name of the cluster to a column group of a dataset. With
``time_length`` T, a task runs over *windows* of T consecutive rows; with N the smallest row
count of all bound datasets there are ``N - T + 1`` windows per pass, numbered by their
first row ``c = 0 .. N - T``:

- the input of window ``c`` for an input hexagon is rows ``c, c+1, ..., c+T-1`` of its column
  group, **concatenated oldest first** (width = group width × T);
- the expected value of window ``c`` for an output hexagon is row ``c + T - 1``, the **last**
  row of the window (predict the present from the recent past);
- a request task writes one result row per window, so result row ``i`` belongs to the window
  ending at input row ``i + T - 1`` (grade it with ``reference_offset = T - 1``).

With T = 1 this is exactly the original: row ``c`` in, row ``c`` expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hanami.datasets import Dataset, open_dataset

__all__ = ["Binding", "WindowSource", "window_count"]

Index = slice | np.ndarray


@dataclass(frozen=True)
class Binding:
    hexagon_name: str
    dataset_uuid: str
    dataset_column: str
    location: str

    def as_json(self) -> dict[str, Any]:
        return {
            "hexagon_name": self.hexagon_name,
            "dataset_uuid": self.dataset_uuid,
            "dataset_column": self.dataset_column,
            "location": self.location,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Binding:
        return cls(
            data["hexagon_name"], data["dataset_uuid"], data["dataset_column"], data["location"]
        )


def window_count(rows: int, time_length: int) -> int:
    """Windows of ``time_length`` rows in ``rows`` rows (0 if the data is too short)."""
    return max(0, rows - time_length + 1)


class WindowSource:
    """Reads windows of the bound column groups straight from the memory-mapped datasets."""

    def __init__(self, inputs: list[Binding], outputs: list[Binding], time_length: int) -> None:
        self.time_length = time_length
        opened: dict[str, Dataset] = {}

        def column(binding: Binding) -> np.ndarray:
            dataset = opened.get(binding.location)
            if dataset is None:
                if not Path(binding.location).is_file():
                    raise ValueError(
                        f"dataset '{binding.dataset_uuid}' has no data file any more "
                        "(was it deleted?)"
                    )
                dataset = opened[binding.location] = open_dataset(binding.location)
            return dataset.column(binding.dataset_column)

        self.inputs_by_name = {b.hexagon_name: column(b) for b in inputs}
        self.outputs_by_name = {b.hexagon_name: column(b) for b in outputs}
        self.rows = min(c.shape[0] for c in [*self.inputs_by_name.values(),
                                              *self.outputs_by_name.values()])  # fmt: skip
        self.windows = window_count(self.rows, time_length)

    def inputs(self, index: Index) -> dict[str, np.ndarray]:
        """Input windows ``index`` (a slice or an array of window numbers) per hexagon."""
        return {name: self._window(col, index) for name, col in self.inputs_by_name.items()}

    def expected(self, index: Index) -> dict[str, np.ndarray]:
        """Expected rows (the last row of each window) per output hexagon."""
        shift = self.time_length - 1
        return {
            name: _rows(col, _shifted(index, shift)) for name, col in self.outputs_by_name.items()
        }

    def _window(self, column: np.ndarray, index: Index) -> np.ndarray:
        if self.time_length == 1:
            return _rows(column, index)
        return np.concatenate(
            [_rows(column, _shifted(index, k)) for k in range(self.time_length)], axis=1
        )


def _shifted(index: Index, k: int) -> Index:
    if k == 0:
        return index
    if isinstance(index, slice):
        return slice(index.start + k, index.stop + k)
    return index + k


def _rows(column: np.ndarray, index: Index) -> np.ndarray:
    return np.ascontiguousarray(column[index], dtype=np.float32)
