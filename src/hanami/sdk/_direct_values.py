"""The caller's arrays and dicts as named float32 buffers for direct I/O, and answers back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "Values",
    "hexagon_names",
    "one_row",
    "reply_values",
    "row_buffers",
    "row_count",
    "sample_buffers",
]

Values = ArrayLike | Mapping[str, ArrayLike]


def hexagon_names(value: str | Sequence[str] | None) -> list[str]:
    """Hexagon names given as one name, several or none."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def sample_buffers(values: Values, defaults: list[str], what: str) -> list[tuple[str, np.ndarray]]:
    """``[(hexagon, flat float32 values)]`` for one sample (an array or a dict of them)."""
    if isinstance(values, Mapping):
        items = list(values.items())
    elif len(defaults) == 1:
        items = [(defaults[0], values)]
    else:
        raise ValueError(
            f"pass a dict {{hexagon_name: values}} for the {what}s, or name the {what} "
            f"hexagon with client.direct(..., {what}s='name')"
        )
    if not items:
        raise ValueError(f"no {what} values given")
    return [(name, np.asarray(v, dtype=np.float32).ravel()) for name, v in items]


def reply_values(reply: Any) -> np.ndarray:
    """The float32 values of a ``ClusterIO_Message`` answer, cut to its ``numberOfValues``."""
    values = np.asarray(reply.values, dtype=np.float32)
    number = int(reply.numberOfValues)
    return values[:number] if 0 < number < len(values) else values


def row_buffers(
    values: ArrayLike | Mapping[str, ArrayLike], defaults: list[str], what: str
) -> dict[str, np.ndarray]:
    """``{hexagon: [rows, width] float32}`` from a 2-D array or a dict of them."""
    if not isinstance(values, Mapping):
        if len(defaults) != 1:
            raise ValueError(
                f"pass a dict {{hexagon_name: rows}} for the {what}s, or name the {what} "
                f"hexagon with client.direct(..., {what}s='name')"
            )
        values = {defaults[0]: values}
    out = {}
    for name, value in values.items():
        array = np.asarray(value, dtype=np.float32)
        out[name] = array.reshape(len(array), -1) if array.ndim != 2 else array
    if not out:
        raise ValueError(f"no {what} values given")
    return out


def row_count(buffers: Mapping[str, np.ndarray], what: str) -> int:
    """The number of rows, which must be the same in every buffer."""
    counts = {len(v) for v in buffers.values()}
    if len(counts) != 1:
        raise ValueError(f"all arrays of {what} must have the same number of rows")
    return counts.pop()


def one_row(buffers: Mapping[str, np.ndarray], i: int) -> dict[str, np.ndarray]:
    """Row ``i`` of every buffer."""
    return {k: v[i] for k, v in buffers.items()}
