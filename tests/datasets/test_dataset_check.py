"""Grading results: the original's class rule, and the generic check over any column group."""

import numpy as np
import pytest

from hanami.datasets import (
    DatasetError,
    check,
    check_columns,
    classification_accuracy,
    predict_classes,
    write_dataset,
)


def naive_class(row) -> int:
    """The original's scan (check_dataset_v1_0.cpp), as the oracle."""
    best, index = -0.1, 0
    for i, value in enumerate(row):
        if value > best:
            best, index = value, i
    return index


def test_predict_matches_the_original_scan():
    rng = np.random.default_rng(7)
    scores = rng.choice([-1.0, -0.1, -0.05, 0.0, 0.3, 0.3001, 1.0], size=(2000, 10))
    scores = scores.astype(np.float32)
    assert predict_classes(scores).tolist() == [naive_class(r) for r in scores]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ([0, 0, 0], 0),  # all zero -> class 0
        ([0.2, 0.5, 0.5], 1),  # tie -> first maximum
        ([-0.5, -0.2, -0.3], 0),  # nothing above -0.1 -> class 0, not the arg-max 1
        ([-0.5, -0.1, -0.3], 0),  # -0.1 itself does not beat the start value
        ([-0.5, -0.09, -0.3], 1),
        ([np.nan, 0.1, 0.2], 2),  # NaN never wins
        ([np.nan, np.nan, np.nan], 0),
    ],
)
def test_predict_edge_cases(row, expected):
    assert predict_classes([row]).tolist() == [expected]
    assert predict_classes(np.array([row], np.float32)).tolist() == [expected]


def test_accuracy_with_one_hot_and_indices():
    outputs = np.array([[0.1, 0.9, 0], [0.8, 0.1, 0], [0, 0, 0], [0.3, 0.3, 0.2]])
    one_hot = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0]], np.uint8)
    assert classification_accuracy(outputs, one_hot) == 50.0
    assert classification_accuracy(outputs, [1, 2, 0, 1]) == 50.0
    assert classification_accuracy(outputs, [1, 0, 0, 0]) == 100.0


def test_accuracy_rejects_bad_shapes():
    with pytest.raises(DatasetError, match="differ in shape"):
        classification_accuracy(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(DatasetError, match=r"expected must be \[2\] class indices"):
        classification_accuracy(np.zeros((2, 3)), [0, 1, 2])
    with pytest.raises(DatasetError, match="0 rows"):
        classification_accuracy(np.zeros((0, 3)), np.zeros(0))
    with pytest.raises(DatasetError, match="scores must have shape"):
        classification_accuracy(np.zeros(3), np.zeros(3))


def test_check_columns_classification():
    outputs = np.array([[0.9, 0.1], [0.2, 0.6], [0.7, 0.3]])
    expected = np.array([[1, 0], [1, 0], [1, 0]], np.uint8)
    report = check_columns(outputs, expected)
    assert report.mode == "classification" and report.rows == 3
    assert report.accuracy == pytest.approx(200 / 3)
    assert report.mse == pytest.approx(np.mean((outputs - expected) ** 2))
    assert report.mae == pytest.approx(np.mean(np.abs(outputs - expected)))


def test_check_columns_regression():
    report = check_columns([[1.0], [3.0]], [[2.0], [2.0]])
    assert (report.mode, report.accuracy, report.mse, report.mae) == ("regression", None, 1.0, 1.0)
    report = check_columns([[1.0, 0.0]], [[0.5, 0.5]])
    assert report.mode == "regression"


def test_check_columns_modes():
    outputs, expected = [[0.1, 0.9]], [[0.2, 0.7]]
    assert check_columns(outputs, expected, mode="classification").accuracy == 100.0
    assert check_columns([[0.0, 1.0]], [[0, 1]], mode="regression").accuracy is None
    with pytest.raises(DatasetError, match="at least 2 columns"):
        check_columns([[1.0]], [[1.0]], mode="classification")
    with pytest.raises(DatasetError, match="mode must be"):
        check_columns(outputs, expected, mode="fuzzy")
    with pytest.raises(DatasetError, match="same shape"):
        check_columns(outputs, [[1.0]])
    with pytest.raises(DatasetError, match="nothing to check"):
        check_columns(np.zeros((0, 2)), np.zeros((0, 2)))


def test_check_columns_chunks_agree_with_one_pass(monkeypatch):
    import hanami.datasets.checking as module

    rng = np.random.default_rng(1)
    outputs = rng.random((1000, 10))
    expected = np.eye(10, dtype=np.uint8)[rng.integers(0, 10, 1000)]
    whole = check_columns(outputs, expected)
    monkeypatch.setattr(module, "_CHUNK_ROWS", 7)
    chunked = check_columns(outputs, expected)
    assert chunked.accuracy == whole.accuracy == classification_accuracy(outputs, expected)
    assert chunked.mse == pytest.approx(whole.mse)
    # one non-one-hot row in a late chunk turns the whole check into regression
    expected[999] = 0
    assert check_columns(outputs, expected).mode == "regression"


def test_check_datasets_any_group_and_row_count(tmp_path):
    labels = np.eye(3, dtype=np.uint8)[[0, 1, 2, 2, 1]]
    reference = write_dataset(
        tmp_path / "ref",
        np.hstack([np.zeros((5, 2), np.uint8), labels]),
        {
            "picture": {"column_start": 0, "column_end": 2},
            "label": {"column_start": 2, "column_end": 5},
        },
    )
    outputs = np.array([[0.9, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]], np.float32)
    result = write_dataset(tmp_path / "res", outputs, {"out": {"column_start": 0, "column_end": 3}})

    report = check(result, reference, "out", "label")
    assert (report.rows, report.mode, report.accuracy) == (4, "classification", 75.0)
    # aligned with the last row of a window of 2: result row i -> reference row i + 1
    assert check(result, reference, "out", "label", reference_offset=1).accuracy == 25.0

    with pytest.raises(DatasetError, match="has 3 columns but reference column 'picture' has 2"):
        check(result, reference, "out", "picture")
    with pytest.raises(DatasetError, match="result has 4 rows but the reference has only 5"):
        check(result, reference, "out", "label", reference_offset=2)
    with pytest.raises(KeyError):
        check(result, reference, "out", "labels")
