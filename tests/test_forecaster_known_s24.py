"""Forecaster review (s24), known covariates and X given as DataFrames: columns are read by
position, so predict refuses columns named otherwise than at fit (a reordered table had fed
one covariate in place of another, silently); names are saved, older files load unchecked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rnnkit
from rnnkit.estimators import Forecaster

FC = dict(hidden_size=4, epochs=2, seed=0, verbose=False, horizon=3, lookback=8, seasonal_period=1)
T, H = 100, 3


def frames(seed: int = 0) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    """y (T + H,), covariates X (temp, rain) and known covariates (promo, price) on one daily index."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-01-01", periods=T + H, freq="D")
    known = pd.DataFrame({"promo": rng.integers(0, 2, T + H).astype(float), "price": 5 + rng.random(T + H)},
                         index=days)
    X = pd.DataFrame({"temp": 20 + rng.random(T + H), "rain": rng.random(T + H)}, index=days)
    y = pd.Series(10 + 3 * known["promo"].to_numpy() + 0.1 * rng.standard_normal(T + H), index=days)
    return y, X, known


def test_reordered_known_columns_are_refused_not_swapped():
    y, X, known = frames()
    f = Forecaster(**FC).fit(y[:T], X[:T], known=known[:T])
    assert f.known_names_ == ["promo", "price"] and f.covariate_names_ == ["temp", "rain"]
    swapped = known[["price", "promo"]]
    with pytest.raises(ValueError, match=r"columns of known as in fit, \['promo', 'price'\], got \['price', 'promo'\]"):
        f.predict(known=swapped[T:])
    with pytest.raises(ValueError, match=r"known\[\['promo', 'price'\]\]"):
        f.predict(y[:T], X[:T], known=swapped)
    with pytest.raises(ValueError, match=r"columns of X as in fit, \['temp', 'rain'\], got \['rain', 'temp'\]"):
        f.predict(y[:T], X[:T][["rain", "temp"]], known=known)
    # the same columns, or unnamed arrays (read by position, as documented), are accepted
    want = f.predict(known=known[T:])
    np.testing.assert_array_equal(f.predict(known=known[T:].to_numpy()), want)
    np.testing.assert_array_equal(f.predict(y[:T], X[:T].to_numpy(), known=known.to_numpy()).to_numpy(), want)


def test_column_names_are_saved_and_older_files_load_unchecked(tmp_path, monkeypatch):
    y, X, known = frames()
    f = Forecaster(**FC).fit(y[:T], X[:T], known=known[:T])
    f.save(tmp_path / "new.safetensors")
    g = rnnkit.load(tmp_path / "new.safetensors")
    assert g.known_names_ == ["promo", "price"] and g.covariate_names_ == ["temp", "rain"]
    with pytest.raises(ValueError, match="columns of known as in fit"):
        g.predict(known=known[T:][["price", "promo"]])
    plain = Forecaster._get_state                                   # a file written before the names
    monkeypatch.setattr(Forecaster, "_get_state", lambda self: (
        {k: v for k, v in plain(self)[0].items() if not k.endswith("_names_")}, plain(self)[1]))
    f.save(tmp_path / "old.safetensors")
    old = rnnkit.load(tmp_path / "old.safetensors")
    assert old.known_names_ is None and old.covariate_names_ is None
    np.testing.assert_array_equal(old.predict(known=known[T:]), f.predict(known=known[T:]))


def test_a_list_of_series_needs_the_same_columns_in_every_frame():
    (y0, X0, k0), (y1, X1, k1) = frames(0), frames(1)
    f = Forecaster(**FC).fit([y0[:T], y1[:T]], known=[k0[:T], k1[:T]])
    assert f.known_names_ == ["promo", "price"]
    with pytest.raises(ValueError, match=r"columns of known as in fit"):
        f.predict(known=[k0[T:][["price", "promo"]], k1[T:][["price", "promo"]]])
    with pytest.raises(ValueError, match=r"DataFrames of known to have the same columns in every series"):
        Forecaster(**FC).fit([y0[:T], y1[:T]], known=[k0[:T], k1[:T][["price", "promo"]]])


def test_backtest_with_known_and_the_recursive_strategy_names_the_real_problem():
    y, _, known = frames()
    with pytest.raises(ValueError, match=r"^Forecaster with strategy='recursive' does not support known"):
        Forecaster(**dict(FC, strategy="recursive")).backtest(y, known=known, n_windows=2)
