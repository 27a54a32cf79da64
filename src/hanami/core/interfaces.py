"""Values in and out of a cluster's interfaces: the checked column arrays of a call, the
encoding of ``bool``/``float``/``int`` outputs as internal bits and back, and what one
:meth:`~hanami.core.cluster.Cluster.train` call reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hanami.core.template import Output

__all__ = ["OUTPUT_WIDTH", "Columns", "Data", "TrainStats", "as_columns", "decode", "encode",
           "split_outputs"]  # fmt: skip

ArrayLike = np.ndarray | list | tuple
Data = ArrayLike | Mapping[str, ArrayLike]

OUTPUT_WIDTH = {"plain": 1, "bool": 1, "float": 32, "int": 64}


class Columns(list):
    """One float32 2-D array per interface, already checked by :func:`as_columns`."""


@dataclass(frozen=True)
class TrainStats:
    """How a cluster did on the rows of one :meth:`Cluster.train` call, while learning them."""

    samples: int
    mean_squared_error: float  # summed over the outputs, averaged over the rows
    accuracy: float  # share of rows whose largest output is the expected largest one
    outputs: np.ndarray | dict[str, np.ndarray] | None = None
    """With ``return_outputs=True``: what each row got before it was learned, shaped as
    :meth:`Cluster.request` returns it (prequential scoring at engine speed)."""


def as_columns(data: Data, names: list[str], what: str) -> Columns:
    """One 2-D float32 array per interface, in template order."""
    if not isinstance(data, Mapping):
        if len(names) != 1:
            raise ValueError(f"this cluster has {what}s {names}; pass a dict by name")
        data = {names[0]: data}
    unknown = set(data) - set(names)
    if unknown:
        raise ValueError(f"unknown {what} name(s) {sorted(unknown)}; expected {names}")
    missing = [n for n in names if n not in data]
    if missing:
        raise ValueError(f"missing {what} value(s) for {missing}")
    out = []
    for name in names:
        a = np.asarray(data[name], dtype=np.float32)
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim != 2 or a.shape[1] == 0:
            raise ValueError(f"{what} {name!r} must be 1-D or 2-D with at least one column")
        if not np.isfinite(a).all():
            raise ValueError(f"{what} {name!r} contains NaN or infinite values")
        out.append(a)
    if len({a.shape[0] for a in out}) > 1:
        raise ValueError(f"all {what}s need the same number of rows")
    return Columns(out)


def split_outputs(
    raw: np.ndarray, outputs: Sequence[Output], widths: Sequence[int]
) -> np.ndarray | dict[str, np.ndarray]:
    """Internal outputs ``[rows, total]`` as values per output interface (one interface:
    its array alone)."""
    result, at = {}, 0
    for spec, n in zip(outputs, widths, strict=True):
        width = int(n * OUTPUT_WIDTH[spec.type])
        result[spec.name] = decode(raw[:, at : at + width], spec.type)
        at += width
    return result[outputs[0].name] if len(result) == 1 else result


def encode(values: np.ndarray, kind: str) -> np.ndarray:
    """Expected values of one output interface as internal outputs: one per value for
    ``plain`` and ``bool``, the bits of the big-endian float32 / int64 for ``float`` / ``int``."""
    if kind == "plain":
        return values
    if kind == "bool":
        return (values >= 0.5).astype(np.float32)
    if kind == "float":
        bits = values.astype(">f4").view(np.uint8)
    else:
        bits = np.rint(values).astype(">i8").view(np.uint8)
    return np.unpackbits(bits.reshape(values.shape[0], -1), axis=1).astype(np.float32)


def decode(raw: np.ndarray, kind: str) -> np.ndarray:
    """Internal outputs back to values: thresholded bits packed MSB first for int/float."""
    if kind == "plain":
        return raw
    if kind == "bool":
        return (raw >= 0.5).astype(np.float32)
    packed = np.packbits((raw >= 0.5).astype(np.uint8), axis=1)
    if kind == "float":
        return packed.view(">f4").astype(np.float32)
    return packed.view(">i8").astype(np.int64)
