"""Sliding windows: shapes, exact values, stride, targets, several series, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data import last_window, sliding_windows, sliding_windows_multi


def test_univariate_windows_hold_the_right_values():
    s = np.arange(10.0)
    X, y = sliding_windows(s, lookback=3, horizon=2)
    assert X.shape == (6, 3, 1) and y.shape == (6, 2)
    assert X.dtype == np.float64
    np.testing.assert_array_equal(X[0, :, 0], [0, 1, 2])
    np.testing.assert_array_equal(y[0], [3, 4])
    np.testing.assert_array_equal(X[-1, :, 0], [5, 6, 7])
    np.testing.assert_array_equal(y[-1], [8, 9])
    # every window's target follows its input directly
    np.testing.assert_array_equal(y[:, 0], X[:, -1, 0] + 1)


def test_stride_skips_starts_and_count_matches_formula():
    s = np.arange(20.0)
    for lookback, horizon, stride in [(4, 1, 1), (4, 3, 2), (5, 2, 3), (1, 1, 7)]:
        X, y = sliding_windows(s, lookback, horizon, stride)
        n = (20 - lookback - horizon) // stride + 1
        assert X.shape == (n, lookback, 1) and y.shape == (n, horizon)
        np.testing.assert_array_equal(X[:, 0, 0], np.arange(n) * stride)


def test_multivariate_windows_and_target_columns():
    s = np.stack([np.arange(8.0), 100 + np.arange(8.0), -np.arange(8.0)], axis=1)  # (8, 3)
    X, y = sliding_windows(s, 3, 2)
    assert X.shape == (4, 3, 3) and y.shape == (4, 2, 3)
    np.testing.assert_array_equal(y[1], s[4:6])
    X1, y1 = sliding_windows(s, 3, 2, target=1)
    assert y1.shape == (4, 2)
    np.testing.assert_array_equal(y1[:, 0], 100 + np.arange(3, 7))
    _, y2 = sliding_windows(s, 3, 2, target=[0, 2])
    assert y2.shape == (4, 2, 2)
    np.testing.assert_array_equal(y2[..., 1], -y2[..., 0])


def test_integer_lists_and_pandas_are_accepted():
    X, y = sliding_windows([1, 2, 3, 4, 5], 2)
    assert X.dtype == np.float64 and X.shape == (3, 2, 1)
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": np.arange(6.0), "b": np.arange(6.0) * 2})
    X, y = sliding_windows(df, 2, 1)
    assert X.shape == (4, 2, 2)
    X, y = sliding_windows(df["a"], 2, 1)
    assert y.shape == (4, 1)


def test_exactly_one_window_when_length_is_lookback_plus_horizon():
    X, y = sliding_windows(np.arange(5.0), 3, 2)
    assert X.shape == (1, 3, 1)


@pytest.mark.parametrize("kwargs,match", [
    ({"lookback": 0}, "lookback"),
    ({"lookback": 2.5}, "lookback"),
    ({"lookback": 2, "horizon": 0}, "horizon"),
    ({"lookback": 2, "stride": True}, "stride"),
    ({"lookback": 2, "target": 5}, "target"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sliding_windows(np.ones((10, 2)), **kwargs)


def test_too_short_series_says_how_to_fix():
    msg = r"5 time steps, fewer than lookback \+ horizon = 4 \+ 2 = 6.*shorter lookback"
    with pytest.raises(ValueError, match=msg):
        sliding_windows(np.arange(5.0), 4, 2)


def test_nan_and_non_numeric_series_are_refused():
    with pytest.raises(ValueError, match="NaN.*fill_missing"):
        sliding_windows(np.array([1.0, np.nan, 3.0, 4.0]), 2)
    with pytest.raises(TypeError, match="real numbers"):
        sliding_windows(np.array(["a", "b", "c"]), 1)
    with pytest.raises(ValueError, match=r"\(T,\) or \(T, C\)"):
        sliding_windows(np.ones((2, 3, 4)), 1)


def test_windows_from_several_series_never_cross_series():
    a, b = np.arange(6.0), 100 + np.arange(8.0)
    X, y, ids = sliding_windows_multi([a, b], 3, 1)
    assert X.shape == (3 + 5, 3, 1) and y.shape == (8, 1)
    np.testing.assert_array_equal(ids, [0, 0, 0, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(y[ids == 0, 0], [3, 4, 5])
    np.testing.assert_array_equal(y[ids == 1, 0], 100 + np.arange(3, 8))
    with pytest.raises(ValueError, match="Series 1 of series_list.*fewer than"):
        sliding_windows_multi([a, np.arange(3.0)], 3, 1)
    with pytest.raises(ValueError, match="same number of columns"):
        sliding_windows_multi([np.ones((6, 2)), np.ones((6, 3))], 3, 1)
    with pytest.raises(TypeError, match="list"):
        sliding_windows_multi(np.ones((4, 6)), 3, 1)


def test_last_window_is_the_forecast_input():
    s = np.arange(10.0)
    w = last_window(s, 4)
    assert w.shape == (1, 4, 1)
    np.testing.assert_array_equal(w[0, :, 0], [6, 7, 8, 9])
    with pytest.raises(ValueError, match="fewer than lookback"):
        last_window(s, 11)


def test_an_empty_series_is_refused_clearly():
    for call in (lambda: sliding_windows(np.array([]), 1), lambda: last_window(np.array([]), 1),
                 lambda: sliding_windows(np.zeros((0, 3)), 1)):
        with pytest.raises(ValueError, match=r"expected a series with at least one time step, got an empty array"):
            call()
