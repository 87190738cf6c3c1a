"""Estimator behaviour: shapes, labels, index continuation, seeds, parameters and bad input.

Every estimator here is tiny (a few hidden units, a few epochs) and seeded: these tests check
the contract, not the accuracy (see test_estimators_learning.py for that).
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data import NotFittedError
from rnnkit.estimators import Forecaster, SequenceClassifier, TextGenerator
from rnnkit.estimators.windows import anchor_index, training_windows

FAST = dict(hidden_size=4, epochs=2, seed=0, verbose=False)


def sequences(n: int = 40, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    X = [rng.standard_normal((int(rng.integers(4, 15)), 2)) for _ in range(n)]
    y = np.array(["up" if x[:, 0].mean() > 0 else "down" for x in X])
    return X, y


def seasonal(T: int = 96, seed: int = 0) -> np.ndarray:
    t = np.arange(T)
    return 10 + 0.05 * t + np.sin(2 * np.pi * t / 12) + 0.05 * np.random.default_rng(seed).standard_normal(T)


# -- SequenceClassifier --------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["list", "3d", "2d"])
def test_classifier_input_forms_and_shapes(form):
    rng = np.random.default_rng(1)
    if form == "list":
        X, y = sequences()
    else:
        X = rng.standard_normal((30, 12, 3) if form == "3d" else (30, 12))
        y = (X.reshape(30, 12, -1)[:, :, 0].mean(axis=1) > 0).astype(int) + 5
    clf = SequenceClassifier(**FAST).fit(X, y)
    assert clf.predict(X).shape == (len(y),)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(clf.predict(X)) <= set(clf.classes_)
    assert 0.0 <= clf.score(X, y) <= 1.0
    assert clf.n_features_in_ == (2 if form == "list" else 3 if form == "3d" else 1)


def test_classifier_labels_keep_their_type():
    X, y = sequences()
    clf = SequenceClassifier(**FAST).fit(X, y)
    assert list(clf.classes_) == ["down", "up"]
    assert clf.predict(X).dtype.kind == "U"


def test_classifier_long_sequences_are_pooled_and_nan_tails_dropped():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 300))
    X[0, 250:] = np.nan                          # UCR-style padding of a shorter series
    clf = SequenceClassifier(max_steps=100, **FAST).fit(X, np.arange(10) % 2)
    assert clf.pool_size_ == 3
    assert clf.predict(X).shape == (10,)
    with pytest.raises(ValueError, match="finite"):
        bad = X.copy()
        bad[1, 5] = np.nan
        clf.predict(bad)


def test_stratified_split_keeps_every_class():
    from rnnkit.estimators.sequences import stratified_split

    y = np.array([0] * 10 + [1] * 5 + [2])
    train, val = stratified_split(y, 0.2, seed=0)
    assert sorted(np.r_[train, val]) == list(range(16))
    assert list(np.bincount(y[val], minlength=3)) == [2, 1, 0] and set(y[train]) == {0, 1, 2}


def test_classifier_seed_reproducible():
    X, y = sequences()
    p1 = SequenceClassifier(**FAST).fit(X, y).predict_proba(X)
    p2 = SequenceClassifier(**FAST).fit(X, y).predict_proba(X)
    p3 = SequenceClassifier(**{**FAST, "seed": 1}).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)
    assert not np.array_equal(p1, p3)


def test_classifier_history_and_validation_split():
    X, y = sequences()
    h = SequenceClassifier(**{**FAST, "epochs": 3}).fit(X, y).history_
    assert h["epochs"] == 3 and len(h["loss"]) == 3 and "val_loss" not in h   # auto: no split below 1000
    h = SequenceClassifier(validation_fraction=0.25, **{**FAST, "epochs": 3}).fit(X, y).history_
    assert len(h["val_loss"]) == 3 and 1 <= h["best_epoch"] <= 3


@pytest.mark.parametrize("params, match", [
    (dict(hidden_size=0), "'hidden_size' parameter of SequenceClassifier must be an int >= 1. Got 0"),
    (dict(cell="tcn"), "'cell' parameter of SequenceClassifier must be one of"),
    (dict(dropout=1.5), "'dropout' parameter"),
    (dict(lr=-1.0), "'lr' parameter"),
    (dict(pooling=("mean", "median")), "'pooling' parameter"),
    (dict(max_steps=1), "'max_steps' parameter"),
])
def test_classifier_bad_params_raise_at_fit(params, match):
    X, y = sequences()
    clf = SequenceClassifier(**{**FAST, **params})            # the constructor only stores
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


def test_classifier_bad_data():
    X, y = sequences()
    with pytest.raises(ValueError, match="at least 2 classes"):
        SequenceClassifier(**FAST).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="one label per sequence"):
        SequenceClassifier(**FAST).fit(X, y[:-1])
    with pytest.raises(NotFittedError, match="not fitted yet"):
        SequenceClassifier().predict(X)
    clf = SequenceClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="2 channels, as in fit, got 3"):
        clf.predict([np.zeros((5, 3))])
    with pytest.raises(ValueError, match="same number of channels"):
        clf.predict([np.zeros((5, 2)), np.zeros((5, 3))])


def test_get_set_params_and_repr():
    clf = SequenceClassifier(hidden_size=8, seed=3)
    params = clf.get_params()
    assert params["hidden_size"] == 8 and params["cell"] == "lstm" and "verbose" in params
    assert clf.set_params(hidden_size=16, lr=0.01) is clf and clf.hidden_size == 16
    assert repr(clf) == "SequenceClassifier(hidden_size=16, lr=0.01, seed=3)"
    with pytest.raises(ValueError, match="Invalid parameter 'hiden_size'"):
        clf.set_params(hiden_size=3)
    assert set(Forecaster().get_params()) >= {"lookback", "horizon", "strategy", "seed"}
    assert set(TextGenerator().get_params()) >= {"seq_length", "embedding_size"}


def test_scikit_learn_clone_cross_val_and_grid_search():
    sklearn = pytest.importorskip("sklearn")
    from sklearn.base import clone, is_classifier
    from sklearn.model_selection import GridSearchCV, cross_val_score

    X, y = sequences(30)
    clf = SequenceClassifier(**FAST)
    c2 = clone(clf)
    assert c2.get_params() == clf.get_params() and c2 is not clf
    assert is_classifier(clf)
    scores = cross_val_score(clf, X, y, cv=2)
    assert scores.shape == (2,)
    grid = GridSearchCV(clf, {"hidden_size": [2, 4]}, cv=2).fit(np.stack([x[:4] for x in X]), y)
    assert grid.best_params_["hidden_size"] in (2, 4)
    assert clone(Forecaster(horizon=3)).horizon == 3 and sklearn.__version__


# -- Forecaster ----------------------------------------------------------------------------------
def test_windows_reconstruct_targets_exactly():
    y = seasonal(60).reshape(-1, 1)
    L, H, m = 24, 5, 12
    x, z = training_windows(y, None, L, H, m)
    assert x.shape == (60 - L - H + 1, L, 1) and z.shape == (60 - L - H + 1, H, 1)
    i = 7
    w = y[i:i + L, 0]
    s = w.std() + 0.1 * np.diff(y[:, 0]).std()
    np.testing.assert_allclose(x[i, :, 0], (w - w[-1]) / s)
    np.testing.assert_allclose(z[i, :, 0] * s + w[anchor_index(L, H, m)], y[i + L:i + L + H, 0])
    # two channels and a covariate: the windows of sliding_windows, in its order
    y2 = np.stack([y[:, 0], y[::-1, 0]], axis=1)
    X = np.arange(60.0)[:, None] % 7
    x2, z2 = training_windows(y2, X, L, H, m)
    assert x2.shape == (60 - L - H + 1, L, 3) and z2.shape == (60 - L - H + 1, H, 2)
    np.testing.assert_allclose(x2[i, :, 2], (X[i:i + L, 0] - X.mean()) / X.std())
    np.testing.assert_allclose(z2[:, :, 0], z[:, :, 0])


def test_forecaster_shapes_period_and_lookback():
    y = seasonal()
    f = Forecaster(horizon=6, **FAST).fit(y)
    assert (f.seasonal_period_, f.lookback_) == (12, 24)
    assert f.predict().shape == (6,)
    assert f.predict(y[:50]).shape == (6,)
    f2 = Forecaster(horizon=3, lookback=10, **FAST).fit(np.stack([y, 2 * y], axis=1))
    assert f2.predict().shape == (3, 2) and f2.lookback_ == 10


def test_forecaster_recursive_list_and_covariates():
    y = seasonal()
    f = Forecaster(horizon=4, strategy="recursive", **FAST).fit(y)
    assert f.predict().shape == (4,)
    series = [seasonal(80, s) * (1 + 10 * s) for s in range(3)]
    g = Forecaster(horizon=2, **FAST).fit(series)
    out = g.predict()
    assert isinstance(out, list) and len(out) == 3 and out[0].shape == (2,)
    assert [o.shape for o in g.predict(series[:2])] == [(2,), (2,)]
    X = np.arange(96.0)[:, None] % 12
    c = Forecaster(horizon=3, **FAST).fit(y, X)
    assert c.predict().shape == (3,) and c.predict(y[:60], X[:60]).shape == (3,)
    with pytest.raises(ValueError, match="1 covariate"):
        c.predict(y[:60])
    with pytest.raises(ValueError, match="recursive"):
        Forecaster(strategy="recursive", **FAST).fit(y, X)


def test_forecaster_continues_pandas_index():
    pd = pytest.importorskip("pandas")
    y = seasonal()
    s = pd.Series(y, index=pd.date_range("2000-01-01", periods=len(y), freq="MS"), name="sales")
    f = Forecaster(horizon=3, **FAST).fit(s)
    out = f.predict()
    assert isinstance(out, pd.Series) and out.name == "sales"
    assert list(out.index) == list(pd.date_range("2008-01-01", periods=3, freq="MS"))
    assert out.index.freqstr == "MS"
    mid = f.predict(s.iloc[:60])
    assert mid.index[0] == pd.Timestamp("2005-01-01")
    r = f.predict(pd.Series(y, index=pd.RangeIndex(100, 100 + 2 * len(y), 2)))
    assert list(r.index) == [292, 294, 296]
    df = pd.DataFrame({"a": y, "b": -y}, index=pd.period_range("1990-01", periods=len(y), freq="M"))
    out2 = Forecaster(horizon=2, **FAST).fit(df).predict()
    assert list(out2.columns) == ["a", "b"] and str(out2.index[0]) == "1998-01"


def test_forecaster_seed_reproducible_and_errors():
    y = seasonal()
    a = Forecaster(horizon=3, **FAST).fit(y).predict()
    b = Forecaster(horizon=3, **FAST).fit(y).predict()
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="at least lookback \\+ horizon \\+ 1"):
        Forecaster(lookback=20, horizon=5, **FAST).fit(y[:20])
    with pytest.raises(ValueError, match="'strategy' parameter of Forecaster"):
        Forecaster(strategy="multi", **FAST).fit(y)
    f = Forecaster(horizon=3, **FAST).fit(y)
    with pytest.raises(ValueError, match="at least lookback_ = 24"):
        f.predict(y[:10])
    with pytest.raises(ValueError, match="without NaN"):
        f.predict(np.r_[y[:40], np.nan])


def test_backtest_reports_model_beside_seasonal_naive():
    from rnnkit.metrics import seasonal_naive

    y = seasonal()
    est = Forecaster(horizon=6, **FAST)
    res = est.backtest(y, n_windows=3, step=4)
    assert not hasattr(est, "model_")                       # the estimator itself is left alone
    assert list(res.origins) == [82, 86, 90]
    assert res.forecasts.shape == res.actuals.shape == res.baseline.shape == (3, 6)
    np.testing.assert_array_equal(res.actuals[1], y[86:92])
    np.testing.assert_array_equal(res.baseline[0], seasonal_naive(y[:82], 6, 12))
    assert set(res.metrics) == {"model", "seasonal_naive"}
    assert set(res.metrics["model"]) == {"mae", "rmse", "mape", "smape", "mase"}
    assert "seasonal_naive" in res.summary()
    with pytest.raises(ValueError, match="fewer windows"):
        est.backtest(y[:20], n_windows=3)


# -- TextGenerator -------------------------------------------------------------------------------
TEXT = "the cat sat on the mat. " * 40


def test_text_generator_sample_and_perplexity():
    gen = TextGenerator(hidden_size=16, embedding_size=8, seq_length=16, epochs=3, seed=0, verbose=False).fit(TEXT)
    assert gen.vocab_ == "".join(sorted(set(TEXT)))
    out = gen.sample("the ", length=30, seed=1)
    assert out.startswith("the ") and len(out) == 34 and set(out) <= set(gen.vocab_)
    assert gen.sample("the ", 30, seed=1) == out                       # seeded draws repeat
    assert len(gen.sample("", 10, seed=0)) == 10
    greedy = gen.sample("the", 12, temperature=0)
    assert gen.sample("the", 12, top_k=1, seed=5) == greedy
    assert 1.0 < gen.perplexity(TEXT[:200]) < len(gen.vocab_)
    with pytest.raises(ValueError, match="not in the vocabulary.*; the training text.s characters are ' "):
        gen.sample("dog!", 5)
    with pytest.raises(ValueError, match="'temperature' parameter"):
        gen.sample("the", 5, temperature=-1)
    with pytest.raises(TypeError, match="expected a str"):
        TextGenerator(**FAST).fit(["a", "b"])
