"""Forecaster review (s24): covariates X standardised with fit-time statistics, inputs without
columns, dates out of order, parameters changed after fit, and backtests too short for the
season or for fitting. Every estimator here is small and seeded (seconds in all).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import rnnkit
from rnnkit.estimators import Forecaster
from rnnkit.estimators.windows import floor_scale

FAST = dict(hidden_size=4, epochs=2, seed=0, verbose=False)
FC = dict(FAST, horizon=3, lookback=8, seasonal_period=1)


def event_series(T: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """y jumps by 3 one step after a rare event flag x (10 %), over a season of 4."""
    rng = np.random.default_rng(seed)
    x = (rng.random(T) < 0.1).astype(float)
    y = 10 + 2 * np.sin(2 * np.pi * np.arange(T) / 4) + 3.0 * np.r_[0, x[:-1]] + 0.1 * rng.standard_normal(T)
    return y, x


def expected_direct(f: Forecaster, y: np.ndarray, X: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The direct forecast from history y (T,) and X (T, F), with X standardised by (mean, scale)."""
    L = f.lookback_
    w = y[-L:]
    s = w.std() + floor_scale(y[:, None])[0]
    u = np.c_[(w - w[-1]) / s, (X[-L:] - mean) / scale][None]
    return w[-1] + s * f.model_.predict(u.astype(np.float32)).astype(np.float64)[0]


# -- covariates X: statistics fixed at fit ---------------------------------------------------
def test_x_is_standardised_with_the_training_statistics_at_predict():
    y, x = event_series(200)
    X = np.c_[x, np.arange(200.0)]                                  # a flag and a trend
    f = Forecaster(**FC).fit(y[:150], X=X[:150])
    mean, scale = X[:150].mean(0), X[:150].std(0)
    np.testing.assert_array_equal(f.covariate_mean_, mean)
    np.testing.assert_array_equal(f.covariate_scale_, scale)
    for n in (150, 40, 8):                                          # the whole history or a short one
        got = f.predict(y[150 - n:150], X=X[150 - n:150])
        np.testing.assert_allclose(got, expected_direct(f, y[150 - n:150], X[150 - n:150], mean, scale), rtol=1e-6)
    np.testing.assert_array_equal(f.predict(), f.predict(y[:150], X=X[:150]))


def test_x_rows_before_the_window_do_not_change_the_forecast():
    y, x = event_series(120)
    f = Forecaster(**FC).fit(y[:100], X=x[:100])
    other = x[:100].copy()
    other[:-f.lookback_] = 1.0 - other[:-f.lookback_]             # rows the network does not read
    np.testing.assert_array_equal(f.predict(y[:100], X=other), f.predict(y[:100], X=x[:100]))


def test_a_short_history_forecasts_as_well_as_the_full_one():
    y, x = event_series()
    f = Forecaster(horizon=1, lookback=8, seasonal_period=4, hidden_size=32, epochs=150, seed=0, verbose=False)
    f.fit(y[:500], X=x[:500])
    mae = {n: np.mean([abs(f.predict(y[o - n:o], X=x[o - n:o])[0] - y[o]) for o in range(500, 600)])
           for n in (500, 100)}
    # measured: 0.114 from 500 steps and 0.114 from 100; X standardised by the history: 0.114 and 0.199
    assert mae[100] < 1.2 * mae[500], mae
    assert mae[500] < 0.2, mae


def test_x_statistics_pool_the_training_series_of_a_global_model():
    ys = [event_series(80, seed=i)[0] for i in range(2)]
    Xs = [np.c_[event_series(80, seed=i)[1], 100.0 * i + np.arange(80)] for i in range(2)]
    f = Forecaster(**FC).fit(ys, Xs)
    both = np.concatenate(Xs)
    np.testing.assert_array_equal(f.covariate_mean_, both.mean(0))
    np.testing.assert_array_equal(f.covariate_scale_, both.std(0))
    np.testing.assert_allclose(f.covariate_tails_[1], (Xs[1][-f.lookback_:] - both.mean(0)) / both.std(0))
    new = f.predict(ys[1][:50], Xs[1][:50])                        # a new history: the same statistics
    np.testing.assert_allclose(new, expected_direct(f, ys[1][:50], Xs[1][:50], both.mean(0), both.std(0)), rtol=1e-6)


def test_x_statistics_are_saved_and_older_files_fall_back_to_the_history(tmp_path, monkeypatch):
    y, x = event_series(100)
    f = Forecaster(**FC).fit(y[:90], X=x[:90])
    f.save(tmp_path / "new.safetensors")
    g = rnnkit.load(tmp_path / "new.safetensors")
    np.testing.assert_array_equal(g.covariate_mean_, f.covariate_mean_)
    np.testing.assert_array_equal(g.covariate_scale_, f.covariate_scale_)
    np.testing.assert_array_equal(g.predict(y[50:90], x[50:90]), f.predict(y[50:90], x[50:90]))
    plain = Forecaster._get_state                                   # a file written before the statistics
    monkeypatch.setattr(Forecaster, "_get_state", lambda self: (plain(self)[0], {
        k: v for k, v in plain(self)[1].items() if not k.startswith("covariate_") or k == "covariate_tails_"}))
    f.save(tmp_path / "old.safetensors")
    old = rnnkit.load(tmp_path / "old.safetensors")
    assert old.covariate_mean_ is None and old.covariate_scale_ is None
    hist = x[50:90, None]
    np.testing.assert_allclose(old.predict(y[50:90], x[50:90]),
                               expected_direct(f, y[50:90], hist, hist.mean(0), hist.std(0)), rtol=1e-6)
    np.testing.assert_array_equal(old.predict(), f.predict())


# -- inputs -----------------------------------------------------------------------------------
def test_inputs_without_columns_are_refused_by_name():
    y = np.sin(np.arange(40.0))
    with pytest.raises(ValueError, match=r"expected y with at least one column .*\(40, 0\)"):
        Forecaster(**FC).fit(np.zeros((40, 0)))
    with pytest.raises(ValueError, match=r"expected X\[1\] with at least one column .*X=None"):
        Forecaster(**FC).fit([y, y], X=[y, np.zeros((40, 0))])


@pytest.mark.parametrize("index", [pd.date_range("2024-01-01", periods=40, freq="D")[::-1],
                                   pd.period_range("2000-01", periods=40, freq="M")[::-1],
                                   pd.DatetimeIndex(list(pd.date_range("2024-01-01", periods=39, freq="D"))
                                                    + [pd.Timestamp("2023-12-01")])])
def test_dates_that_go_back_in_time_are_refused(index):
    series = pd.Series(np.sin(np.arange(40.0)), index=index)
    with pytest.raises(ValueError, match=r"expected y in increasing time order.*y\.sort_index\(\)"):
        Forecaster(**FC).fit(series)
    f = Forecaster(**FC).fit(series.sort_index().to_numpy())
    with pytest.raises(ValueError, match=r"Forecaster\.predict expected y\[0\] in increasing time order"):
        f.predict([series])


def test_a_repeated_date_is_still_read_by_position():
    days = pd.date_range("2024-10-20", periods=39, freq="D")
    series = pd.Series(np.sin(np.arange(40.0)), index=days.insert(20, days[20]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = Forecaster(**FC).fit(series).predict()
    assert list(out.index) == [40, 41, 42] and "no regular step" in str(caught[0].message)


# -- parameters changed after fit ---------------------------------------------------------------
@pytest.mark.parametrize("change", [dict(horizon=5), dict(horizon=2), dict(strategy="recursive")])
def test_predict_refuses_horizon_or_strategy_changed_since_fit(change, tmp_path):
    y = np.sin(np.arange(60) / 3)
    f = Forecaster(**FC).fit(y)
    before = f.predict()
    f.set_params(**change)
    name, value = next(iter(change.items()))
    fitted = FC.get(name, "direct")
    with pytest.raises(ValueError, match=rf"fitted with {name}={fitted!r}, but {name} is now {value!r}"):
        f.predict()
    f.set_params(**{name: fitted})
    np.testing.assert_array_equal(f.predict(), before)
    f.save(tmp_path / "f.safetensors")
    assert (rnnkit.load(tmp_path / "f.safetensors").horizon_, f.strategy_) == (3, "direct")
    f.set_params(**change).fit(y)                                   # a refit takes the new value
    assert f.predict().shape == ((value,) if name == "horizon" else (3,))


# -- backtest ---------------------------------------------------------------------------------
def test_backtest_refuses_a_season_longer_than_the_history():
    y = np.sin(np.arange(60) / 3) + 5
    with pytest.raises(ValueError, match=r"seasonal_period = 100 steps .* leaves 54 of the shortest series"):
        Forecaster(**FC).set_params(seasonal_period=100).backtest(y, n_windows=2)
    res = Forecaster(**FC).set_params(seasonal_period=30).backtest(y, n_windows=2)
    assert np.isfinite([res.metrics[w][m] for w in res.metrics for m in res.metrics[w]]).all()


def test_backtest_names_the_origin_whose_history_is_too_short_to_fit():
    y = np.sin(np.arange(20) / 3)
    with pytest.raises(ValueError, match=r"backtest: fitting on the history before origin 1 of 5 \(5 steps"):
        Forecaster(**FC).backtest(y, n_windows=5)
    with pytest.raises(ValueError, match="'hidden_size' parameter"):   # a bad parameter is named as such
        Forecaster(**FC).set_params(hidden_size=0).backtest(y, n_windows=5)


def test_a_missing_time_in_the_index_is_named_as_such():
    idx = pd.DatetimeIndex([f"2020-01-{d:02d}" for d in range(1, 31)] + [None]
                           + [f"2020-02-{d:02d}" for d in range(1, 30)])
    y = pd.Series(np.sin(np.arange(60)), index=idx)
    with pytest.raises(ValueError, match=r"missing one \(NaT\) at position 30"):
        Forecaster(horizon=2, epochs=1, verbose=False).fit(y)


def test_a_series_too_short_is_the_exported_error_class():
    import rnnkit

    with pytest.raises(rnnkit.SeriesTooShortError, match="at least lookback \\+ horizon \\+ 1 = 15 steps"):
        Forecaster(horizon=2, lookback=12, epochs=1, verbose=False).fit(np.arange(14.0))
    assert issubclass(rnnkit.errors.SeriesTooShortError, ValueError)


def test_parameter_type_error_is_exported_with_the_other_error_classes():
    import rnnkit

    with pytest.raises(rnnkit.errors.ParameterTypeError, match="'hidden_size' parameter"):
        Forecaster(hidden_size="64", epochs=1, verbose=False).fit(np.arange(60.0))
    assert issubclass(rnnkit.ParameterTypeError, TypeError) and issubclass(rnnkit.ParameterTypeError, ValueError)
