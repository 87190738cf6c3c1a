"""Scalers: training statistics only, per channel, exact inverse, constant channels, errors."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data import MinMaxScaler, NotFittedError, PerSeriesScaler, StandardScaler


@pytest.fixture
def series():
    rng = np.random.default_rng(0)
    return rng.normal(loc=[5.0, -3.0, 100.0], scale=[2.0, 0.5, 30.0], size=(200, 3))


def test_standard_scaler_uses_training_statistics_only(series):
    train, test = series[:150], series[150:] + 1000.0
    sc = StandardScaler().fit(train)
    np.testing.assert_allclose(sc.mean_, train.mean(axis=0))
    np.testing.assert_allclose(sc.scale_, train.std(axis=0))
    z = sc.transform(train)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-12)
    # the test part is scaled with the training statistics, not its own
    np.testing.assert_allclose(sc.transform(test), (test - train.mean(axis=0)) / train.std(axis=0))
    np.testing.assert_allclose(sc.inverse_transform(sc.transform(test)), test, rtol=1e-12)


def test_minmax_scaler_maps_training_range_and_round_trips(series):
    sc = MinMaxScaler(feature_range=(-1, 1)).fit(series[:100])
    z = sc.transform(series[:100])
    np.testing.assert_allclose(z.min(axis=0), -1)
    np.testing.assert_allclose(z.max(axis=0), 1)
    np.testing.assert_allclose(sc.inverse_transform(sc.transform(series)), series, rtol=1e-12)
    assert repr(sc) == "MinMaxScaler(feature_range=(-1, 1))"


def test_scalers_work_per_channel_on_windows(series):
    windows = series[:192].reshape(24, 8, 3)  # (N, T, C)
    sc = StandardScaler().fit(windows)
    np.testing.assert_allclose(sc.mean_, series[:192].mean(axis=0))
    assert sc.transform(windows).shape == (24, 8, 3)
    with pytest.raises(ValueError, match="last axis has 3 channels"):
        sc.transform(np.ones((5, 2)))


def test_univariate_scaler_accepts_any_shape():
    s = np.arange(10.0)
    sc = StandardScaler().fit(s)
    assert sc.n_features_in_ == 1
    X = np.arange(12.0).reshape(3, 4)  # e.g. (N, H) forecasts
    np.testing.assert_allclose(sc.inverse_transform(sc.transform(X)), X)
    np.testing.assert_allclose(sc.transform(4.5), 0.0)


@pytest.mark.parametrize("cls,expected", [(StandardScaler, 0.0), (MinMaxScaler, 0.0)])
def test_constant_series_do_not_divide_by_zero(cls, expected):
    s = np.full((20, 2), 7.0)
    s[:, 1] = np.linspace(0, 1, 20)
    sc = cls().fit(s)
    z = sc.transform(s)
    assert np.all(np.isfinite(z))
    np.testing.assert_allclose(z[:, 0], expected)
    np.testing.assert_allclose(sc.inverse_transform(z), s)



def test_one_mean_and_scale_for_the_scaler_and_the_estimators():
    from rnnkit.data.scalers import mean_and_scale
    from rnnkit.estimators.sequences import channel_stats
    from rnnkit.estimators.windows import scale_covariates

    x = np.random.default_rng(0).normal(size=(30, 3))
    x[:, 1] = 1e6  # constant: scale 1, maps to 0
    mean, scale = mean_and_scale(x)
    np.testing.assert_array_equal(scale, [x[:, 0].std(), 1.0, x[:, 2].std()])
    fitted = StandardScaler().fit(x)
    np.testing.assert_array_equal(fitted.mean_, mean)
    np.testing.assert_array_equal(fitted.scale_, scale)
    for m, s in zip(channel_stats([x[:10], x[10:]]), (mean, scale)):
        np.testing.assert_array_equal(m, s)
    np.testing.assert_array_equal(scale_covariates(x), (x - mean) / scale)
    assert (scale_covariates(x)[:, 1] == 0).all()

def test_transform_before_fit_is_refused():
    for sc in (StandardScaler(), MinMaxScaler(), PerSeriesScaler()):
        with pytest.raises(NotFittedError, match="not fitted yet.*fit"):
            sc.transform([np.ones(3)] if isinstance(sc, PerSeriesScaler) else np.ones(3))
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)


def test_fit_refuses_nan_and_bad_ranges():
    with pytest.raises(ValueError, match="NaN"):
        StandardScaler().fit(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="feature_range"):
        MinMaxScaler(feature_range=(1, 0)).fit(np.arange(3.0))
    with pytest.raises(ValueError, match="empty"):
        StandardScaler().fit(np.zeros((0, 2)))


def test_fit_transform_equals_fit_then_transform(series):
    expected = StandardScaler().fit(series).transform(series)
    np.testing.assert_array_equal(StandardScaler().fit_transform(series), expected)


def test_per_series_scaler_scales_each_series_by_its_own_statistics():
    a, b = np.arange(10.0), 1000 + 50 * np.arange(6.0)
    ps = PerSeriesScaler("standard").fit([a, b])
    za, zb = ps.transform([a, b])
    np.testing.assert_allclose([za.mean(), zb.mean()], 0, atol=1e-12)
    np.testing.assert_allclose([za.std(), zb.std()], 1)
    back = ps.inverse_transform([za, zb])
    np.testing.assert_allclose(back[1], b)
    # one series' forecasts back to its units
    np.testing.assert_allclose(ps.scalers_[1].inverse_transform(zb[:2]), b[:2])
    mm = PerSeriesScaler(MinMaxScaler(feature_range=(0, 10))).fit_transform([a, b])
    assert mm[1].max() == pytest.approx(10.0)


def test_per_series_scaler_errors_name_the_problem():
    with pytest.raises(ValueError, match="'standard', 'minmax'"):
        PerSeriesScaler("robust").fit([np.arange(3.0)])
    ps = PerSeriesScaler().fit([np.arange(3.0), np.arange(4.0)])
    with pytest.raises(ValueError, match="expected 2 series.*got 1"):
        ps.transform([np.arange(3.0)])
    with pytest.raises(TypeError, match="list of series"):
        ps.transform(np.arange(3.0))
    with pytest.raises(ValueError, match="Series 1: .*NaN"):
        PerSeriesScaler().fit([np.arange(3.0), np.array([1.0, np.nan])])


def test_constant_channels_are_those_scikit_learn_finds_constant():
    pre = pytest.importorskip("sklearn.preprocessing")
    x = np.array([[1e9, 0.1, 1e9], [1e9 + 1e-3, 0.1, 1e9 + 1e-3], [1e9 - 1e-3, 0.1, 1e9]])  # small spread, big level
    np.testing.assert_allclose(StandardScaler().fit_transform(x), pre.StandardScaler().fit_transform(x), atol=1e-9)
    np.testing.assert_allclose(MinMaxScaler().fit_transform(x), pre.MinMaxScaler().fit_transform(x), atol=1e-9)
    z = StandardScaler().fit_transform(x[:, 0])
    np.testing.assert_allclose(z, [0, 1.224744871391589, -1.224744871391589], rtol=1e-6)  # not 0: scaled
    assert StandardScaler().fit(x).scale_[1] == 1.0  # 0.1 repeated: constant up to rounding


@pytest.mark.parametrize("bad", [(0, np.inf), (-np.inf, 1), (np.nan, 1)])
def test_minmax_refuses_a_range_that_is_not_finite(bad):
    with pytest.raises(ValueError, match=r"'feature_range' parameter of MinMaxScaler must be a pair \(lo, hi\) of "
                                         r"finite numbers"):
        MinMaxScaler(feature_range=bad).fit(np.arange(3.0))


def test_scalers_read_pandas_nullable_columns_as_floats():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": pd.array([1, 2, 3], dtype="Int64"), "b": pd.array([1.0, 2.0, 3.5], dtype="Float64")})
    ref = StandardScaler().fit(df.to_numpy(dtype=float))
    got = StandardScaler().fit(df)
    np.testing.assert_array_equal(got.mean_, ref.mean_)
    np.testing.assert_array_equal(got.transform(df), ref.transform(df.to_numpy(dtype=float)))
