"""Grading request results against a labelled dataset.

The original check (service.md 5.5) was hard-wired to MNIST: 10000 rows, result columns
0-9, reference columns 784-793. :func:`classification_accuracy` keeps its exact rule for
picking a class, and :func:`check` grades any pair of column groups over all rows:

- A reference group whose every row is one-hot (width >= 2, one 1 and zeros) is graded
  as classification: ``accuracy`` is the percentage of rows whose predicted class equals
  the reference class.
- Every other group is graded as regression: no accuracy.
- Both report the mean squared and mean absolute error over all values, which is useful
  for one-hot targets as well (how confident the outputs are, not only whether they win).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from hanami.datasets.errors import DatasetError
from hanami.datasets.filereader import Dataset

__all__ = ["CheckReport", "check", "check_columns", "classification_accuracy", "predict_classes"]

CheckMode = Literal["auto", "classification", "regression"]
_NO_CLASS_BELOW = -0.1
_CHUNK_ROWS = 1 << 16


def predict_classes(scores: ArrayLike) -> np.ndarray:
    """The class of each row of ``scores`` ``[n, k]``, exactly as the original grades it.

    The original scans each row with ``best = -0.1`` and takes the first index whose value
    is strictly larger than the best so far. That is ``argmax`` with the first index on
    ties, except that a row with no value above -0.1 predicts class 0 (so does an all-zero
    row, through the tie rule). NaN never wins.
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] == 0:
        raise DatasetError(f"scores must have shape [rows, classes], got {values.shape}")
    values = np.where(np.isnan(values), -np.inf, values)
    classes = values.argmax(axis=1)
    classes[values.max(axis=1) <= _NO_CLASS_BELOW] = 0
    return classes


def classification_accuracy(outputs: ArrayLike, expected: ArrayLike) -> float:
    """Percentage (0-100) of rows whose predicted class matches the expected class.

    ``outputs`` is ``[n, k]``. ``expected`` is either ``[n]`` class indices or ``[n, k]``
    one-hot rows (their class is found with the same rule as the outputs').
    """
    predicted = predict_classes(outputs)
    target = np.asarray(expected)
    if target.ndim == 2:
        if target.shape != np.shape(outputs):
            raise DatasetError(
                f"outputs {np.shape(outputs)} and expected {target.shape} differ in shape"
            )
        target = predict_classes(target)
    elif target.ndim != 1 or len(target) != len(predicted):
        raise DatasetError(
            f"expected must be [{len(predicted)}] class indices or [{len(predicted)}, k] "
            f"one-hot rows, got shape {target.shape}"
        )
    if len(predicted) == 0:
        raise DatasetError("cannot compute an accuracy over 0 rows")
    return float(np.count_nonzero(predicted == target)) * 100.0 / len(predicted)


@dataclass(frozen=True)
class CheckReport:
    """How well a result matched its reference.

    ``accuracy`` is a percentage and only set for classification; ``mse`` and ``mae`` are
    averaged over every compared value.
    """

    rows: int
    mode: Literal["classification", "regression"]
    accuracy: float | None
    mse: float
    mae: float


def check_columns(
    outputs: ArrayLike, expected: ArrayLike, *, mode: CheckMode = "auto"
) -> CheckReport:
    """Grade ``outputs`` against ``expected``; both ``[n, width]`` with the same shape.

    ``mode="auto"`` grades as classification when every ``expected`` row is one-hot;
    ``"classification"`` forces it (the expected class is then the row's arg-max), and
    ``"regression"`` skips the accuracy. Rows are processed in chunks, so memory-mapped
    columns of any length are graded without loading them whole.
    """
    if mode not in ("auto", "classification", "regression"):
        raise DatasetError(f"mode must be auto, classification or regression, got {mode!r}")
    out, ref = np.asarray(outputs), np.asarray(expected)
    if out.ndim != 2 or out.shape != ref.shape:
        raise DatasetError(
            f"outputs and expected must be [rows, width] of the same shape, got "
            f"{out.shape} and {ref.shape}"
        )
    rows, width = out.shape
    if rows == 0 or width == 0:
        raise DatasetError(f"nothing to check: {rows} rows of width {width}")
    if mode == "classification" and width < 2:
        raise DatasetError("classification needs at least 2 columns (one per class)")
    one_hot = mode != "regression" and width >= 2
    correct = 0
    squared = absolute = 0.0
    for start in range(0, rows, _CHUNK_ROWS):
        o = np.asarray(out[start : start + _CHUNK_ROWS], dtype=np.float64)
        r = np.asarray(ref[start : start + _CHUNK_ROWS], dtype=np.float64)
        diff = o - r
        squared += float(np.square(diff).sum())
        absolute += float(np.abs(diff).sum())
        if mode == "auto" and one_hot:
            one_hot = bool(np.isin(r, (0.0, 1.0)).all() and (r.sum(axis=1) == 1).all())
        if one_hot:
            correct += int(np.count_nonzero(predict_classes(o) == predict_classes(r)))
    values = rows * width
    return CheckReport(
        rows=rows,
        mode="classification" if one_hot else "regression",
        accuracy=correct * 100.0 / rows if one_hot else None,
        mse=squared / values,
        mae=absolute / values,
    )


def check(
    result: Dataset,
    reference: Dataset,
    result_column: str,
    reference_column: str,
    *,
    mode: CheckMode = "auto",
    reference_offset: int = 0,
) -> CheckReport:
    """Grade every row of ``result``'s column group against ``reference``'s.

    Result row ``i`` is compared with reference row ``i + reference_offset``. The offset
    lines the two up when a task with ``time_length`` T > 1 produced fewer rows than its
    input (pass ``T - 1`` when the expected value belongs to the last row of the window).
    The reference must have a row for every result row; extra reference rows are ignored.
    """
    outputs = result.column(result_column)
    expected = reference.column(reference_column)
    if outputs.shape[1] != expected.shape[1]:
        raise DatasetError(
            f"column {result_column!r} has {outputs.shape[1]} columns but reference column "
            f"{reference_column!r} has {expected.shape[1]}"
        )
    if reference_offset < 0 or reference_offset + result.rows > reference.rows:
        raise DatasetError(
            f"the result has {result.rows} rows but the reference has only {reference.rows} "
            f"(offset {reference_offset})"
        )
    return check_columns(
        outputs, expected[reference_offset : reference_offset + result.rows], mode=mode
    )
