"""Metrics against hand-computed values (and scikit-learn when installed), the seasonal-naive
baseline, the seasonal-period guess, the report, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit import metrics as M

Y = np.array([2.0, 4.0, 5.0, 10.0])
P = np.array([1.0, 5.0, 5.0, 6.0])  # errors 1, -1, 0, 4


def test_hand_computed_values():
    assert M.mae(Y, P) == pytest.approx(6 / 4)
    assert M.rmse(Y, P) == pytest.approx(math.sqrt(18 / 4))
    assert M.mape(Y, P) == pytest.approx(100 * (1 / 2 + 1 / 4 + 0 + 4 / 10) / 4)
    assert M.smape(Y, P) == pytest.approx(200 * (1 / 3 + 1 / 9 + 0 + 4 / 16) / 4)


def test_mase_is_scaled_by_the_in_sample_seasonal_naive_error():
    train = np.array([1.0, 3.0, 2.0, 6.0, 4.0])  # lag-1 abs diffs 2, 1, 4, 2 -> 2.25; lag-2: 1, 3, 2 -> 2
    assert M.mase(Y, P, train, m=1) == pytest.approx(1.5 / 2.25)
    assert M.mase(Y, P, train, m=2) == pytest.approx(1.5 / 2.0)
    assert M.mase_scale(train, 2) == pytest.approx(2.0)
    # seasonal naive scores exactly 1 in-sample
    y = np.sin(np.arange(40) * 2 * np.pi / 12) + np.arange(40) * 0.1
    assert M.mase(y[12:], y[:-12], y, m=12) == pytest.approx(1.0)


def test_mase_per_channel_scale():
    train = np.stack([np.arange(6.0), 10 * np.arange(6.0)], axis=1)  # scales 1 and 10
    y_true = np.array([[6.0, 60.0]])
    y_pred = np.array([[7.0, 70.0]])
    assert M.mase(y_true, y_pred, train) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="2 channels"):
        M.mase(np.ones((1, 3)), np.ones((1, 3)), train)


def test_mape_zeros_are_refused_or_skipped():
    y, p = np.array([0.0, 2.0, 4.0]), np.array([1.0, 1.0, 5.0])
    with pytest.raises(ValueError, match=r"1 zero\(s\) \(first at index \(0,\)\).*smape or mase.*zeros='skip'"):
        M.mape(y, p)
    assert M.mape(y, p, zeros="skip") == pytest.approx(100 * (0.5 + 0.25) / 2)
    with pytest.raises(ValueError, match="zero"):
        M.mape(np.zeros(2), np.ones(2), zeros="skip")
    with pytest.raises(ValueError, match="'zeros'"):
        M.mape(y, p, zeros="ignore")


def test_smape_counts_both_zero_as_perfect():
    assert M.smape([0.0, 1.0], [0.0, 1.0]) == 0.0
    assert M.smape([0.0], [3.0]) == pytest.approx(200.0)


def test_against_sklearn_if_installed():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y, p = rng.uniform(1, 10, 50), rng.uniform(1, 10, 50)
    assert M.mae(y, p) == pytest.approx(skm.mean_absolute_error(y, p))
    assert M.rmse(y, p) == pytest.approx(math.sqrt(skm.mean_squared_error(y, p)))
    assert M.mape(y, p) == pytest.approx(100 * skm.mean_absolute_percentage_error(y, p))
    labels = rng.integers(0, 3, 30)
    pred = rng.integers(0, 3, 30)
    assert M.accuracy(labels, pred) == pytest.approx(skm.accuracy_score(labels, pred))


def test_seasonal_naive_repeats_the_last_season():
    y = np.array([1.0, 2, 3, 4, 10, 20, 30, 40])
    np.testing.assert_array_equal(M.seasonal_naive(y, 6, m=4), [10, 20, 30, 40, 10, 20])
    np.testing.assert_array_equal(M.seasonal_naive(y, 3), [40, 40, 40])
    two = np.stack([y, -y], axis=1)
    np.testing.assert_array_equal(M.seasonal_naive(two, 2, m=2)[:, 1], [-30, -40])
    np.testing.assert_array_equal(M.seasonal_naive(y, 3, m=8), [1, 2, 3])  # one season is enough
    with pytest.raises(ValueError, match="at least as long as the seasonal period m = 9, got 8 steps"):
        M.seasonal_naive(y, 1, m=9)
    with pytest.raises(ValueError, match="mase needs a training series longer than the seasonal period m = 8"):
        M.mase([1.0], [2.0], y, m=8)  # MASE's scale needs a difference at lag m
    with pytest.raises(ValueError, match="'horizon'"):
        M.seasonal_naive(y, 0)



def test_seasonal_naive_index_is_shared_by_the_baseline_and_the_forecaster_anchor():
    from rnnkit.estimators.windows import anchor_index
    from rnnkit.metrics.baselines import seasonal_naive_index

    np.testing.assert_array_equal(seasonal_naive_index(8, np.arange(6), 4), [4, 5, 6, 7, 4, 5])
    np.testing.assert_array_equal(anchor_index(8, 6, 4), seasonal_naive_index(8, np.arange(6), 4))
    np.testing.assert_array_equal(seasonal_naive_index(np.array([[5], [9]]), np.arange(3), 2),
                                  [[3, 4, 3], [7, 8, 7]])

def test_guess_seasonal_period():
    t = np.arange(240)
    rng = np.random.default_rng(1)
    assert M.guess_seasonal_period(np.sin(2 * np.pi * t / 12) + 0.02 * t + 0.2 * rng.normal(size=240)) == 12
    assert M.guess_seasonal_period(np.sin(2 * np.pi * t / 7) + 0.1 * rng.normal(size=240)) == 7
    season = np.tile([0, 1, 5, 1, 0, -2, -3, -2, 0, 2, 3, 1.0], 20)  # not a pure sine
    assert M.guess_seasonal_period(season + np.cumsum(0.1 * rng.normal(size=240))) == 12
    assert M.guess_seasonal_period(rng.normal(size=240)) == 1
    assert M.guess_seasonal_period(np.cumsum(rng.normal(size=240))) == 1
    assert M.guess_seasonal_period(np.arange(5.0)) == 1  # too short to tell
    assert M.guess_seasonal_period(np.ones(50)) == 1
    two = np.stack([np.sin(2 * np.pi * t / 12), np.cos(2 * np.pi * t / 12)], axis=1)
    assert M.guess_seasonal_period(two) == 12
    assert M.guess_seasonal_period(np.sin(2 * np.pi * t / 12), max_period=10) == 1



def test_guess_seasonal_period_is_checked_by_forecasting():
    """One search for guess_seasonal_period and the Forecaster: the autocorrelation guess is
    corrected by how well each candidate season forecasts the series."""
    from rnnkit.estimators.period import choose_period
    from rnnkit.metrics.seasonality import find_seasonal_period

    t = np.arange(240)
    rng = np.random.default_rng(0)
    # a strong 3-month harmonic of a yearly cycle: autocorrelation alone says 3
    harmonic = np.sin(2 * np.pi * t / 12) + np.sin(2 * np.pi * t / 3) + 0.2 * rng.normal(size=240)
    assert M.guess_seasonal_period(harmonic) == 12
    assert M.guess_seasonal_period(harmonic, max_period=10) == 3  # 12 is beyond max_period
    # a noisy season: multiples of 12 forecast a little better by chance, not enough to drift to them
    noisy = np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(size=240)
    assert M.guess_seasonal_period(noisy) == 12
    assert choose_period([noisy[:, None]]) == 12  # the Forecaster's search (it drifted to 48)
    # several series: the most common guess, checked over all of them
    many = [harmonic[:, None], noisy[:, None], (2 * noisy + 5)[:, None]]
    assert find_seasonal_period(many) == 12
    assert find_seasonal_period(many, cap=10) == 1  # the common guess, 12, is beyond the cap

def test_autocorrelation_matches_direct_sum():
    x = np.random.default_rng(2).normal(size=30)
    r = M.autocorrelation(x, 5)
    xc = x - x.mean()
    direct = [np.sum(xc[k:] * xc[: len(x) - k]) / np.sum(xc * xc) for k in range(6)]
    np.testing.assert_allclose(r, direct, atol=1e-12)


def test_forecast_report_puts_the_baseline_beside_the_model():
    train = np.tile([1.0, 2.0, 3.0, 4.0], 5)
    test = np.array([1.0, 2.0, 3.0, 4.0])
    rep = M.forecast_report(test, test + 1.0, train, m=4)
    assert rep["seasonal_naive"]["mae"] == 0.0 and rep["model"]["mae"] == 1.0
    assert set(rep["model"]) == {"mae", "rmse", "mape", "smape", "mase"}
    assert math.isnan(rep["model"]["mase"])  # the training series repeats exactly: scale 0
    rep = M.forecast_report(np.zeros(2), np.ones(2), np.arange(6.0))
    assert math.isnan(rep["model"]["mape"]) and rep["model"]["mase"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shape"):
        M.forecast_report(np.ones((2, 2)), np.ones((2, 2)), np.arange(6.0))


def test_accuracy_from_labels_and_scores():
    assert M.accuracy(["a", "b", "b"], ["a", "b", "a"]) == pytest.approx(2 / 3)
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert M.accuracy([0, 1, 1], scores) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match=r"\(3,\) \(labels\) or \(3, K\)"):
        M.accuracy([0, 1, 1], [0, 1])


def test_accuracy_refuses_a_single_column_of_scores():
    with pytest.raises(ValueError, match=r"K >= 2 classes, got one column \(2, 1\).*> 0.5\)\.astype\(int\)"):
        M.accuracy([0, 1], [[0.9], [0.2]])  # argmax of one column would always say class 0
    assert M.accuracy([0, 1], (np.array([[0.2], [0.9]])[:, 0] > 0.5).astype(int)) == 1.0


@pytest.mark.parametrize("fn", [M.mae, M.rmse, M.mape, M.smape])
def test_bad_input_is_refused(fn):
    with pytest.raises(ValueError, match=r"same shape, got \(3,\) and \(2,\)"):
        fn([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        fn([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(TypeError, match="real numbers"):
        fn(["a"], ["b"])
    with pytest.raises(ValueError, match="at least one value"):
        fn(np.zeros((0, 2)), np.zeros((0, 2)))


def test_guess_seasonal_period_refuses_an_empty_series():
    with pytest.raises(ValueError, match="at least one value"):
        M.guess_seasonal_period(np.array([]))
