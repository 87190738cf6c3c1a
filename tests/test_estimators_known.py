"""Known covariates of the Forecaster (values known in advance over the horizon): what the
network reads, learning from them, the shape rules of predict, lists, pandas, saving and a
backtest that sees nothing after an origin but the forecast steps' known values.

Every estimator here is tiny and seeded (the whole file runs in a few seconds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rnnkit
from conftest import assert_same_state, fitted_state
from rnnkit.estimators import Forecaster, forecaster
from rnnkit.estimators.windows import floor_scale, training_windows

FAST = dict(hidden_size=4, epochs=2, seed=0, verbose=False)
FC = dict(FAST, horizon=3, lookback=8, seasonal_period=1)
H = 3


def promo_series(T: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """y_t = 10 + 3 promo_t + noise (0.1), promo_t random 0/1: only predictable from promo."""
    rng = np.random.default_rng(seed)
    promo = rng.integers(0, 2, T).astype(float)
    return 10 + 3 * promo + 0.1 * rng.standard_normal(T), promo


def calendar(T: int, seed: int = 0) -> np.ndarray:
    """(T, 2) known covariates: a random promotion flag and a weekly sine."""
    rng = np.random.default_rng(seed)
    return np.c_[rng.integers(0, 2, T), np.sin(2 * np.pi * np.arange(T) / 7)].astype(float)


# -- what the network reads ------------------------------------------------------------------
def test_training_windows_with_known_follow_the_equations():
    rng = np.random.default_rng(1)
    T, L, C, F, K = 40, 6, 2, 1, 2
    y, X, k = rng.standard_normal((T, C)).cumsum(0), rng.standard_normal((T, F)), calendar(T)
    k_std = (k - k.mean(0)) / k.std(0)                             # as fit standardises them
    x0, z0 = training_windows(y, X, L, H, 1)
    x, z = training_windows(y, X, L, H, 1, k_std)
    N = T - L - H + 1
    assert x.shape == (N, L + H, C + F + K + 1) and z.shape == (N, H, C)
    np.testing.assert_array_equal(z, z0)                           # targets do not change
    np.testing.assert_array_equal(x[:, :L, :C + F], x0)            # the L history steps: x and X as before
    assert (x[:, L:, :C + F] == 0).all()                           # forecast steps: target and X unknown
    for i in (0, 7, N - 1):
        np.testing.assert_allclose(x[i, :, C + F:C + F + K], k_std[i:i + L + H], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(x[:, :, -1], np.broadcast_to(np.r_[np.zeros(L), np.ones(H)], (N, L + H)))


def test_predict_builds_its_input_with_the_training_statistics():
    y, _ = promo_series(90)
    k = calendar(90 + H)
    f = Forecaster(**FC).fit(y[:70], known=k[:70])
    assert f.n_known_ == 2 and f.model_.layers[0].input_size == 1 + 2 + 1
    T, L = 60, f.lookback_
    w = y[T - L:T]
    s = w.std() + floor_scale(y[:T, None])[0]
    train = k[:70]                                                 # statistics fixed at fit
    k_std = (k[:T + H] - train.mean(0)) / train.std(0)
    u = np.zeros((1, L + H, 4))
    u[0, :L, 0] = (w - w[-1]) / s
    u[0, :, 1:3] = k_std[T - L:T + H]
    u[0, L:, 3] = 1
    expected = w[-1] + s * f.model_.predict(u.astype(np.float32)).astype(np.float64)[0]
    np.testing.assert_array_equal(f.predict(y[:T], known=k[:T + H]), expected)
    # known is scaled alike from a short history (y's floor scale still comes from what is passed)
    short = y[T - L:T]
    s_short = short.std() + floor_scale(short[:, None])[0]
    want_short = w[-1] + s_short * f.model_.predict(u.astype(np.float32) * np.r_[s / s_short, 1, 1, 1].astype(
        np.float32)).astype(np.float64)[0]
    np.testing.assert_allclose(f.predict(short, known=k[T - L:T + H]), want_short, rtol=1e-6)
    # rows T.. (the forecast steps) change the forecast
    k2 = k.copy()
    k2[T:T + H, 0] += 5
    changed = f.predict(y[:T], known=k2[:T + H])
    assert not np.allclose(changed, expected)


# -- learning --------------------------------------------------------------------------------
def test_known_covariate_is_learned_and_beats_the_same_model_without_it():
    y, promo = promo_series(300)
    params = dict(horizon=4, lookback=8, hidden_size=16, epochs=80, seed=0, verbose=False)
    with_known = Forecaster(**params).backtest(y, known=promo, n_windows=10)     # fitted on y[:260] only
    without = Forecaster(**params).backtest(y, n_windows=10)
    mae, mae_without = with_known.metrics["model"]["mae"], without.metrics["model"]["mae"]
    naive = with_known.metrics["seasonal_naive"]["mae"]
    # measured: 0.23 with promo, 1.60 without, 1.66 for seasonal naive (promo is random: no pattern in y)
    assert mae < 0.5 * mae_without, (mae, mae_without)
    assert mae < 0.5 * naive, (mae, naive)
    again = Forecaster(**params).backtest(y, known=promo, n_windows=10)
    np.testing.assert_array_equal(again.forecasts, with_known.forecasts)        # deterministic with seed


# -- shape rules -----------------------------------------------------------------------------
def test_after_the_training_series_known_holds_the_h_future_rows():
    y, _ = promo_series(80)
    k = calendar(80 + H)
    f = Forecaster(**FC).fit(y, known=k[:80])
    ahead = f.predict(known=k[80:])
    assert ahead.shape == (H,)
    # the same forecast as from the training series with its whole known history: (T + H, K)
    np.testing.assert_array_equal(f.predict(y, known=k), ahead)
    assert f.predict(y[:50], known=k[:50 + H]).shape == (H,)
    assert f.known_mean_.shape == f.known_scale_.shape == (2,) and f.known_tails_.shape == (1, f.lookback_, 2)


def test_one_dimensional_known_is_one_covariate():
    y, promo = promo_series(80 + H)
    f = Forecaster(**FC).fit(y[:80], known=promo[:80])
    assert f.n_known_ == 1
    np.testing.assert_array_equal(f.predict(known=promo[80:]), f.predict(known=promo[80:, None]))
    np.testing.assert_array_equal(f.predict(y[:80], known=promo), f.predict(known=promo[80:]))
    g = Forecaster(**FC).fit(y[:80], known=promo[:80, None])
    np.testing.assert_array_equal(g.predict(known=promo[80:]), f.predict(known=promo[80:]))


def test_list_of_series_takes_a_list_of_known():
    lengths = (80, 100, 90)
    ys = [promo_series(n, seed=i)[0] * (1 + i) for i, n in enumerate(lengths)]
    ks = [calendar(n + H, seed=i) for i, n in enumerate(lengths)]
    f = Forecaster(**FC).fit(ys, known=[k[:-H] for k in ks])
    assert f.n_known_ == 2 and f.known_mean_.shape == (2,)   # pooled over the series
    np.testing.assert_allclose(f.known_mean_, np.concatenate([k[:-H] for k in ks]).mean(0), rtol=1e-14)
    ahead = f.predict(known=[k[-H:] for k in ks])
    assert isinstance(ahead, list) and [a.shape for a in ahead] == [(H,)] * 3
    again = f.predict(ys, known=ks)                                   # (T_i + H, K) each
    for a, b in zip(ahead, again):
        np.testing.assert_array_equal(a, b)
    part = f.predict([y[:60] for y in ys[:2]], known=[k[:60 + H] for k in ks[:2]])
    assert [p.shape for p in part] == [(H,), (H,)]


def test_pandas_known_and_index():
    y, _ = promo_series(80)
    idx = pd.date_range("2020-01-01", periods=80 + H, freq="D")
    k = pd.DataFrame(calendar(80 + H), index=idx, columns=["promo", "weekly"])
    s = pd.Series(y, index=idx[:80], name="sales")
    f = Forecaster(**FC).fit(s, known=k.iloc[:80])
    out = f.predict(known=k.iloc[80:])
    assert isinstance(out, pd.Series) and out.name == "sales" and out.index.equals(idx[80:])
    np.testing.assert_array_equal(out.to_numpy(), f.predict(known=k.to_numpy()[80:]).to_numpy())
    mid = f.predict(s.iloc[:50], known=k.iloc[:50 + H])
    assert mid.index.equals(idx[50:50 + H])
    g = Forecaster(**FC).fit(s, known=k["promo"].iloc[:80])           # a pandas Series: K = 1
    assert g.n_known_ == 1 and g.predict(known=k["promo"].iloc[80:]).shape == (H,)


def test_x_and_known_together():
    y, _ = promo_series(80)
    X, k = np.random.default_rng(3).standard_normal((80, 2)), calendar(80 + H)
    f = Forecaster(**FC).fit(np.c_[y, -y], X, k[:80])
    assert (f.n_channels_, f.n_covariates_, f.n_known_) == (2, 2, 2)
    assert f.model_.layers[0].input_size == 2 + 2 + 2 + 1
    assert f.predict(known=k[80:]).shape == (H, 2)
    np.testing.assert_array_equal(f.predict(np.c_[y, -y], X, k), f.predict(known=k[80:]))
    with pytest.raises(ValueError, match="2 covariate"):
        f.predict(np.c_[y, -y], known=k)


# -- saving ----------------------------------------------------------------------------------
def test_save_and_load_keep_the_known_covariates_exactly(tmp_path):
    ys = [promo_series(80, seed=i)[0] for i in range(2)]
    Xs = [np.random.default_rng(i).standard_normal((80, 1)) for i in range(2)]
    ks = [calendar(80 + H, seed=i) for i in range(2)]
    f = Forecaster(**FC).fit(ys, Xs, [k[:80] for k in ks])
    path = tmp_path / "f.safetensors"
    f.save(path)
    g = rnnkit.load(path)
    assert g.n_known_ == 2
    for name in ("known_tails_", "known_mean_", "known_scale_"):
        np.testing.assert_array_equal(getattr(g, name), getattr(f, name))
        assert getattr(g, name).dtype == getattr(f, name).dtype
    for a, b in zip(g.predict(known=[k[80:] for k in ks]), f.predict(known=[k[80:] for k in ks])):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(g.predict([y[:60] for y in ys], [x[:60] for x in Xs], [k[:60 + H] for k in ks]),
                    f.predict([y[:60] for y in ys], [x[:60] for x in Xs], [k[:60 + H] for k in ks])):
        np.testing.assert_array_equal(a, b)


def test_files_without_known_load_with_none(tmp_path, monkeypatch):
    y, _ = promo_series(60)
    f = Forecaster(**FC).fit(y)
    assert f.n_known_ == 0 and f.known_mean_ is None
    f.save(tmp_path / "new.safetensors")
    g = rnnkit.load(tmp_path / "new.safetensors")
    assert g.n_known_ == 0 and g.known_tails_ is None
    np.testing.assert_array_equal(g.predict(), f.predict())
    plain = Forecaster._get_state                                      # a file written before n_known_ existed
    monkeypatch.setattr(Forecaster, "_get_state", lambda self: (
        {k: v for k, v in plain(self)[0].items() if k != "n_known_"}, plain(self)[1]))
    f.save(tmp_path / "old.safetensors")
    old = rnnkit.load(tmp_path / "old.safetensors")
    assert old.n_known_ == 0
    np.testing.assert_array_equal(old.predict(), f.predict())


# -- backtest --------------------------------------------------------------------------------
@pytest.mark.parametrize("refit", [False, True])
def test_backtest_sees_known_up_to_origin_plus_h_and_nothing_else(refit):
    y, _ = promo_series(100)
    k = calendar(100)
    res = Forecaster(**FC).backtest(y, known=k, n_windows=4, step=3, refit=refit)
    o = int(res.origins[1])
    y2, k2 = y.copy(), k.copy()
    y2[o:] += 50.0                                                    # the future of y at origin 1
    k2[o + H:] = -k2[o + H:] + 3.0                                    # known values after its forecast steps
    res2 = Forecaster(**FC).backtest(y2, known=k2, n_windows=4, step=3, refit=refit)
    np.testing.assert_array_equal(res2.forecasts[:2], res.forecasts[:2])
    assert not np.array_equal(res2.forecasts[2:], res.forecasts[2:])
    k3 = k.copy()
    k3[o + H - 1] += 4.0                                              # the last forecast step's known values
    res3 = Forecaster(**FC).backtest(y, known=k3, n_windows=4, step=3, refit=refit)
    np.testing.assert_array_equal(res3.forecasts[0], res.forecasts[0])
    assert not np.array_equal(res3.forecasts[1], res.forecasts[1])    # they are used at origin 1


def test_backtest_forecasts_are_the_fitted_copy_predicting_from_each_origin():
    y, _ = promo_series(100)
    k = calendar(100)
    res = Forecaster(**FC).backtest(y, known=k, n_windows=3)
    est = res.estimator
    assert est.n_known_ == 2 and len(est.tails_[0]) == est.lookback_
    for j, o in enumerate(res.origins):
        np.testing.assert_array_equal(res.forecasts[j], est.predict(y[:o], known=k[:o + H]))
    ref = Forecaster(**FC).fit(y[:res.origins[0]], known=k[:res.origins[0]])
    np.testing.assert_array_equal(ref.predict(known=k[res.origins[0]:res.origins[0] + H]), res.forecasts[0])
    lists = Forecaster(**FC).backtest([y, y[10:]], known=[k, k[10:]], n_windows=2)
    assert [f.shape for f in lists.forecasts] == [(2, H), (2, H)]


# -- refits ----------------------------------------------------------------------------------
def test_a_refit_that_raises_keeps_the_known_state(monkeypatch):
    y, promo = promo_series(80 + H)
    f = Forecaster(**FC).fit(y[:80], known=promo[:80])
    before, expected = fitted_state(f), f.predict(known=promo[80:])
    with pytest.raises(ValueError, match="known"):
        f.fit(y[:80], known=promo[:70])                               # bad known: refused before training
    with pytest.raises(ValueError, match="direct"):
        f.set_params(strategy="recursive").fit(y[:80], known=promo[:80])
    f.set_params(strategy="direct")

    def fail(*args, **kwargs):
        raise FloatingPointError("training diverged (simulated)")

    monkeypatch.setattr(forecaster, "train_network", fail)
    with pytest.raises(FloatingPointError):
        f.fit(y[:80])                                                 # a refit without known that fails
    assert_same_state(before, fitted_state(f))
    np.testing.assert_array_equal(f.predict(known=promo[80:]), expected)
    monkeypatch.undo()
    f.fit(y[:80])                                                     # one that succeeds forgets known
    assert f.n_known_ == 0 and f.known_tails_ is None and f.known_mean_ is None
    assert f.model_.layers[0].input_size == 1
