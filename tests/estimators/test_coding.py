"""Features coded around running quantiles (``hanami.estimators._coding``)."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn")

from test_wide_inputs import one_pass_accuracies

from hanami.core.profiles import PROFILES
from hanami.estimators import HanamiClassifier, HanamiRegressor, _coding, prequential
from hanami.estimators._coding import EVERY, WINDOW, FeatureCoder, quantiles
from hanami.estimators._common import encode_features

QUANTILES = (0.2, 0.5, 0.8)


def test_batches_and_single_rows_give_the_same_codes():
    X = np.random.default_rng(0).normal(size=(WINDOW + 3 * EVERY + 7, 3))
    whole = FeatureCoder(QUANTILES, 10.0).encode(X, learn=True)
    single = FeatureCoder(QUANTILES, 10.0)
    rows = np.vstack([single.encode(X[i : i + 1], learn=True) for i in range(len(X))])
    np.testing.assert_array_equal(whole, rows)
    assert whole.shape == (len(X), 3 * 2 * len(QUANTILES))
    plain = encode_features(X[:1], 10.0).reshape(3, 1, 2)  # row 0: every centre is 0
    np.testing.assert_array_equal(whole[0].reshape(3, 3, 2), np.broadcast_to(plain, (3, 3, 2)))


def test_a_batch_coded_in_blocks_equals_single_rows(monkeypatch):
    """A training batch is coded in blocks of rows, each row around its own centres; with
    blocks of three rows (the 18 values of three rows of 2 features and 3 centres) the
    codes are those of single rows."""
    monkeypatch.setattr(_coding, "_BLOCK_VALUES", 18)
    X = np.random.default_rng(3).normal(size=(WINDOW + EVERY + 5, 2))
    whole = FeatureCoder(QUANTILES, 10.0).encode(X, learn=True)
    single = FeatureCoder(QUANTILES, 10.0)
    rows = np.vstack([single.encode(X[i : i + 1], learn=True) for i in range(len(X))])
    np.testing.assert_array_equal(whole, rows)


def test_zero_one_columns_are_only_those_of_0_and_1():
    columns = {
        "0 and 1": [0.0, 1.0, 1.0, 0.0],
        "-0 and 1": [-0.0, 1.0, 0.0, 1.0],
        "only 1": [1.0, 1.0, 1.0, 1.0],
        "only 0": [0.0, 0.0, 0.0, 0.0],
        "0, 1 and 2": [0.0, 1.0, 2.0, 1.0],
        "0, 0.5 and 1": [0.0, 0.5, 1.0, 1.0],
        "0, 1 and nan": [0.0, 1.0, np.nan, 1.0],
        "0, 1 and inf": [0.0, 1.0, np.inf, 1.0],
    }
    window = np.array(list(columns.values())).T
    found = _coding._zero_one(_coding._partitioned(window, np.array(QUANTILES)))
    assert dict(zip(columns, found.tolist(), strict=True)) == {
        name: name in ("0 and 1", "-0 and 1") for name in columns
    }


@pytest.mark.parametrize("kind", ["normal", "few values", "signed zeros", "nan and inf", "huge"])
def test_quantiles_equal_numpys_bit_for_bit(kind):
    rng = np.random.default_rng(len(kind))
    for n, d in ((1, 5), (2, 5), (3, 1), (7, 5), (64, 1), (511, 5), (512, 5)):
        values = rng.normal(size=(n, d))
        if kind == "few values":
            values = rng.integers(0, 3, size=(n, d)).astype(float)
        elif kind == "signed zeros":
            values = np.round(values, 1) * np.where(rng.random((n, d)) < 0.5, -0.0, 1.0)
        elif kind == "nan and inf":
            for special in (np.nan, np.inf, -np.inf):
                values[rng.random((n, d)) < 0.1] = special
        elif kind == "huge":
            values = values * 1e300
        values = pickle.loads(pickle.dumps(values))  # a dtype object of its own, as a
        # restored estimator's window has: the result keeps it, as np.quantile's does
        for q in (np.array(QUANTILES), np.array([0.0, 1.0]), rng.random(3)):
            kept = values.copy()
            with np.errstate(invalid="ignore"):  # inf - inf, as in np.quantile
                expected, got = np.quantile(values, q, axis=0), quantiles(values, q)
            assert kept.tobytes() == values.tobytes()  # the window is left as it was
            assert got.shape == expected.shape and got.strides == expected.strides
            assert (got.dtype is values.dtype) == (expected.dtype is values.dtype)
            assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("kind", ["normal", "few values", "0/1", "inf", "signed zeros", "nan"])
def test_prefix_centres_equal_one_window_at_a_time(kind):
    """The centres of a window's first update points, worked out together (sorted, each
    prefix padded with +inf), are those of each prefix alone, bit for bit and in the same
    layout and dtype object (docs/engine.md, Time per sample, Eighth round); windows with
    NaN or -0.0 take the prefixes one by one."""
    rng = np.random.default_rng(len(kind))
    for d in (1, 3, 13, 300):
        window = rng.normal(size=(WINDOW, d))
        if kind == "few values":
            window = rng.integers(-1, 2, size=(WINDOW, d)).astype(float)
        elif kind == "0/1":  # 0/1 columns, and columns of 0, 1 and 0.5 from row 3 on
            window = (rng.random((WINDOW, d)) < 0.3).astype(float)
            window[3:, ::2] *= np.where(rng.random((WINDOW - 3, 1)) < 0.2, 0.5, 1.0)
        elif kind == "inf":
            window[rng.random((WINDOW, d)) < 0.1] = np.inf
            window[rng.random((WINDOW, d)) < 0.1] = -np.inf
        elif kind == "signed zeros":
            window = np.round(window) * np.where(rng.random((WINDOW, d)) < 0.5, -0.0, 1.0)
        elif kind == "nan":
            window[rng.random((WINDOW, d)) < 0.02] = np.nan
        window = pickle.loads(pickle.dumps(window))  # a dtype object of its own
        for sizes in ([1, 2, 4, 8, 16, 32, 64, 128, 256, 512], [4, 8], [64]):
            q = np.array(QUANTILES)
            with np.errstate(invalid="ignore"):  # inf - inf, as in np.quantile
                together = _coding._prefix_centres(window, sizes, q)
                alone = [_coding._centres(window[:m], q) for m in sizes]
            for got, expected in zip(together, alone, strict=True):
                assert got.tobytes() == expected.tobytes()
                assert got.strides == expected.strides and got.dtype is expected.dtype


@pytest.mark.parametrize("kind", ["normal", "few values", "0/1", "inf", "signed zeros", "nan"])
def test_sliding_windows_centres_equal_one_window_at_a_time(kind):
    """The centres of the full window's update points in a batch, worked out together
    (docs/engine.md, Time per sample, twenty-third round), are each window's own, bit for
    bit and with the window's dtype object, whatever the values (the same values in the
    same ring order, partitioned at the same positions)."""
    rng = np.random.default_rng(len(kind))
    for d in (1, 3, 300):
        rows = rng.normal(size=(WINDOW + 5 * EVERY, d))
        if kind == "few values":
            rows = rng.integers(-1, 2, size=rows.shape).astype(float)
        elif kind == "0/1":
            rows = (rng.random(rows.shape) < 0.3).astype(float)
            rows[WINDOW:, ::2] *= 0.5  # 0/1 columns that stop being 0/1
        elif kind == "inf":
            rows[rng.random(rows.shape) < 0.1] = np.inf
            rows[rng.random(rows.shape) < 0.1] = -np.inf
        elif kind == "signed zeros":
            rows = np.round(rows) * np.where(rng.random(rows.shape) < 0.5, -0.0, 1.0)
        elif kind == "nan":
            rows[rng.random(rows.shape) < 0.02] = np.nan
        index = np.array([rng.permutation(len(rows))[:WINDOW] for _ in range(4)])
        window = pickle.loads(pickle.dumps(rows[:1]))  # a dtype object of its own
        q = np.array(QUANTILES)
        with np.errstate(invalid="ignore"):  # inf - inf, as in np.quantile
            together = _coding._window_centres(rows, index, q, window.dtype)
            alone = [_coding._centres(rows[i].astype(window.dtype), q) for i in index]
        for got, expected in zip(together, alone, strict=True):
            assert got.tobytes() == expected.tobytes()
            assert got.strides == expected.strides and got.dtype is window.dtype


def test_a_full_window_slides_without_a_recomputation_per_update_point(monkeypatch):
    """A batch past the full window recomputes its update points' centres together, not
    one window (a dozen NumPy calls) at a time; the coder ends as row by row would."""
    X = np.random.default_rng(5).normal(size=(WINDOW + 6 * EVERY + 9, 2))
    single = FeatureCoder(QUANTILES, 1.0)
    rows = np.vstack([single.encode(X[i : i + 1], learn=True) for i in range(len(X))])
    original, alone = _coding._centres, []

    def counted(*args):
        alone.append(args)
        return original(*args)

    monkeypatch.setattr(_coding, "_centres", counted)
    whole = FeatureCoder(QUANTILES, 1.0)
    np.testing.assert_array_equal(whole.encode(X, learn=True), rows)
    assert not alone
    assert whole.centres.tobytes() == single.centres.tobytes()
    assert whole.window.tobytes() == single.window.tobytes() and whole.seen == single.seen


def test_a_row_is_coded_with_centres_of_earlier_rows_only():
    X = np.arange(1.0, 9.0)[:, None]
    codes = FeatureCoder((0.5,), 1.0).encode(X, learn=True)
    # centres: 0 for row 0, then the median of rows 0 (row 1), 0-1 (rows 2-3), 0-3 (rows 4-7)
    centre = np.array([0.0, 1.0, 1.5, 1.5, 2.5, 2.5, 2.5, 2.5])
    np.testing.assert_allclose(codes[:, 0], X[:, 0] - centre)
    np.testing.assert_array_equal(codes[:, 1], 0.0)


def test_requests_leave_the_centres_alone():
    coder = FeatureCoder(QUANTILES, 1.0)
    coder.encode(np.random.default_rng(1).normal(size=(100, 2)), learn=True)
    before = coder.centres.copy()
    coder.encode(np.full((5, 2), 1e6), learn=False)
    np.testing.assert_array_equal(coder.centres, before)


def test_outliers_move_no_centre_and_a_range_change_is_followed():
    rng = np.random.default_rng(2)
    clean = rng.uniform(0.0, 1.0, size=(2 * WINDOW, 1))
    coder = FeatureCoder(QUANTILES, 1.0)
    coder.encode(clean, learn=True)
    settled = coder.centres.copy()
    coder.encode(1e6 * clean[:10], learn=True)  # ten x1e6 samples
    assert np.abs(coder.centres - settled).max() < 0.05
    coder.encode(10.0 * clean[:WINDOW], learn=True)  # the range grows tenfold
    np.testing.assert_allclose(coder.centres[:, 0], 10.0 * np.array(QUANTILES), atol=0.6)


def test_new_features_widen_the_coder_on_the_right():
    coder = FeatureCoder(QUANTILES, 1.0)
    first = coder.encode(np.ones((4, 1)), learn=True)
    wider = coder.encode(np.ones((1, 2)), learn=False)
    np.testing.assert_array_equal(wider[:, : first.shape[1]], first[-1:])
    assert wider.shape[1] == 2 * coder.width


def test_quantile_coding_learns_a_band_far_from_zero(monkeypatch):
    """Class 1 is a band of width 1.4 around 1,000: the plain code (from 0) hardly resolves
    it in 300 rows; the code around running quantiles does (measured: 0.73-0.75 plain,
    0.96-0.98 with quantiles, seeds 0-2)."""

    def accuracy() -> float:
        scores = []
        for seed in range(3):
            rng = np.random.default_rng(seed)
            X = 1000.0 + rng.normal(size=(600, 2))
            y = (np.abs(X[:, 0] - 1000.0) < 0.7).astype(int)
            seen = prequential(HanamiClassifier(random_state=seed), X, y, classes=[0, 1])
            scores.append(float((seen[300:] == y[300:]).mean()))
        return min(scores)

    assert PROFILES["stream"].input_quantiles == QUANTILES
    assert accuracy() > 0.93
    monkeypatch.setitem(PROFILES, "stream",
                        dataclasses.replace(PROFILES["stream"], input_quantiles=()))  # fmt: skip
    assert accuracy() < 0.8


def test_quantile_coding_learns_a_parabola_far_from_zero(monkeypatch):
    """The regressor ("default" profile) on y = (x - 1000)²: mean absolute error relative to
    always answering the mean (measured, seeds 0-2: 0.87, 0.95, 0.91 plain, 0.44, 0.72,
    0.51 with quantiles)."""

    def relative_errors() -> list[float]:
        errors = []
        for seed in range(3):
            rng = np.random.default_rng(seed)
            X = 1000.0 + rng.normal(size=(800, 1))
            y = (X[:, 0] - 1000.0) ** 2
            model = HanamiRegressor(random_state=seed, epochs=3).fit(X[:600], y[:600])
            error = np.abs(model.predict(X[600:]) - y[600:]).mean()
            errors.append(float(error / np.abs(y[600:] - y[:600].mean()).mean()))
        return errors

    assert PROFILES["default"].input_quantiles == QUANTILES
    assert max(relative_errors()) < 0.8
    monkeypatch.setitem(PROFILES, "default",
                        dataclasses.replace(PROFILES["default"], input_quantiles=()))  # fmt: skip
    assert min(relative_errors()) > 0.85


def test_a_zero_one_feature_is_coded_around_zero():
    """A column with only 0 and 1 in the window gets every centre at 0 (its "on" state once
    per centre); a column with 0, 1 and 2 keeps its quantiles."""
    X = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 1.0]])
    coder = FeatureCoder(QUANTILES, 1.0)
    coder.encode(X, learn=True)
    assert coder.centres[:, 0].tolist() == [0.0, 0.0, 0.0]
    assert coder.centres[:, 1].tolist() == pytest.approx(np.quantile(X[:, 1], QUANTILES))
    codes = coder.encode(np.array([[1.0, 1.0], [0.0, 1.0]]), learn=False)
    assert codes[:, :6].tolist() == [[1, 0, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0]]


def _sparse_bits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """100 binary features, eight classes, about 30 % of the bits on (as in binarised
    digits): each row is its class's random pattern with 15 % of the bits flipped."""
    rng = np.random.default_rng(seed)
    patterns = (rng.random((8, 100)) < 0.3).astype(int)
    y = rng.integers(0, 8, n)
    flipped = rng.random((n, 100)) < 0.15
    return np.where(flipped, 1 - patterns[y], patterns[y]).astype(np.float64), y


def test_zero_one_features_around_zero_learn_sparse_bits_better(monkeypatch):
    """One pass over the sparse bit patterns: 0/1 columns coded around 0 score higher than
    around their quantiles (which code a often-on bit by its "off" state), over three seeds
    (on seed 2 the quantile coding is ahead by two rows since wide inputs stop splitting
    their input sections: docs/engine.md, Shorter input sections for wide inputs)."""

    around_zero = one_pass_accuracies(_sparse_bits)
    monkeypatch.setattr(_coding, "BINARY_AROUND_ZERO", False)
    quantiles = one_pass_accuracies(_sparse_bits)
    assert np.mean(around_zero) > np.mean(quantiles) + 0.005, (around_zero, quantiles)
