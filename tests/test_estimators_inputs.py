"""Inputs as scikit-learn users pass them: column-vector y, y None, labels of another kind at
score time, pandas' nullable columns, dtypes that are not real numbers, and a Generator seed in
backtest.

Every estimator here is tiny and seeded: these tests check the contract, not the accuracy.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from rnnkit.estimators import Forecaster, SequenceClassifier
from rnnkit.estimators.labels import DataConversionWarning

FAST = dict(hidden_size=4, epochs=2, seed=0, verbose=False)
FC = dict(FAST, horizon=3, lookback=8, seasonal_period=1)


def data(n: int = 40, T: int = 8) -> tuple[np.ndarray, np.ndarray]:
    X = np.random.default_rng(0).standard_normal((n, T))
    return X, np.where(X.mean(axis=1) > 0, "up", "down")


def series(T: int = 60) -> np.ndarray:
    return 5 + np.sin(np.arange(T) / 3)


# -- y as a column vector (N, 1): read as (N,) with a warning, as scikit-learn does --------------
@pytest.mark.parametrize("column", [lambda y: y[:, None], lambda y: [[v] for v in y],
                                    lambda y: pd.DataFrame({"label": y})], ids=["array", "list", "frame"])
def test_column_vector_y_is_read_as_its_column_with_a_warning(column):
    X, y = data()
    reference = SequenceClassifier(**FAST).fit(X, y)
    with pytest.warns(DataConversionWarning, match=r"A column-vector y was passed when a 1d array was expected: "
                                                   r"SequenceClassifier.fit reads y of shape \(40, 1\).*y.ravel\(\)"):
        clf = SequenceClassifier(**FAST).fit(X, column(y))
    assert clf.classes_.tolist() == ["down", "up"]
    np.testing.assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))
    with pytest.warns(DataConversionWarning, match="SequenceClassifier.score reads y of shape"):
        assert clf.score(X, column(y)) == reference.score(X, y)


def test_column_vector_warning_is_sklearns_and_points_at_the_caller():
    exceptions = pytest.importorskip("sklearn.exceptions")
    X, y = data()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SequenceClassifier(**FAST).fit(X, y[:, None])
    assert len(caught) == 1 and issubclass(caught[0].category, exceptions.DataConversionWarning)
    assert issubclass(caught[0].category, DataConversionWarning) and caught[0].filename == __file__
    with pytest.raises(ValueError, match=r"expected y of shape \(40,\), one label per sequence of X, got shape "
                                         r"\(40, 2\)"):
        SequenceClassifier(**FAST).fit(X, np.stack([y, y], axis=1))      # two columns: not a column vector


def test_y_none_says_y_is_missing():
    X, y = data()
    with pytest.raises(ValueError, match="SequenceClassifier.fit requires y to be passed, but the target y is None"):
        SequenceClassifier(**FAST).fit(X, None)
    clf = SequenceClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="SequenceClassifier.score requires y to be passed, but the target y is None"):
        clf.score(X, None)


# -- score compares labels of the kind of classes_ ------------------------------------------------
def test_score_refuses_labels_of_another_kind_instead_of_scoring_zero():
    X, y = data()
    codes = (y == "up").astype(int)
    clf = SequenceClassifier(**FAST).fit(X, codes)
    assert clf.score(X, codes) > 0.5                                           # the model is right often
    with pytest.raises(ValueError, match=r"Mix of label input types \(string and number\).*y of strings.*classes "
                                         r"learned by fit are numbers: \[0, 1\].*astype"):
        clf.score(X, codes.astype(str))                                        # "0"/"1": would score 0.0
    text = SequenceClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"Mix of label input types.*y of numbers.*are strings: \['down', 'up'\]"):
        text.score(X, codes)
    assert clf.score(X, codes.astype(float)) == clf.score(X, codes)          # 1.0 == 1: same kind
    assert clf.score(X, codes.astype(bool)) == clf.score(X, codes)


def test_score_counts_unseen_labels_as_wrong_as_sklearn_accuracy_does():
    metrics = pytest.importorskip("sklearn.metrics")
    X, y = data()
    clf = SequenceClassifier(**FAST).fit(X, y)
    y_new = np.where(np.arange(40) % 4 == 0, "sideways", y)                    # a class fit never saw
    assert clf.score(X, y_new) == metrics.accuracy_score(y_new, clf.predict(X)) < clf.score(X, y)


# -- pandas' nullable columns ---------------------------------------------------------------------
def test_classifier_reads_nullable_pandas_columns_with_na_padding():
    X, y = data()
    X[:5, 6:] = np.nan                                                         # five shorter sequences
    reference = SequenceClassifier(**FAST).fit(X, y).predict_proba(X)
    frame = pd.DataFrame(X).astype("Float64")                                  # NaN -> pd.NA; object in to_numpy()
    assert frame.isna().to_numpy().sum() == 10
    clf = SequenceClassifier(**FAST).fit(frame, pd.Series(y))
    np.testing.assert_array_equal(clf.predict_proba(frame), reference)
    counts = pd.DataFrame(np.round(X[5:] * 10)).astype("Int64")
    clf = SequenceClassifier(**FAST).fit(counts, y[5:])
    np.testing.assert_array_equal(clf.predict_proba(counts), clf.predict_proba(np.round(X[5:] * 10)))
    with pytest.raises(ValueError, match="got NaN at step 2"):                 # NA inside: refused as NaN is
        clf.predict(pd.DataFrame([[1, 2, pd.NA, 4]], dtype="Int64"))


def test_forecaster_reads_nullable_pandas_columns():
    index = pd.date_range("2020-01-01", periods=60, freq="D")
    frame = pd.DataFrame({"a": series(), "b": series()[::-1]}, index=index)
    cov = pd.DataFrame({"u": np.arange(60) % 7, "v": np.arange(60) % 5}, index=index)
    f = Forecaster(**FC).fit(frame, cov)
    g = Forecaster(**FC).fit(frame.astype("Float64"), cov.astype("Int64"))
    pd.testing.assert_frame_equal(g.predict(), f.predict())
    pd.testing.assert_frame_equal(g.predict(frame.astype("Float64"), cov.astype("Int64")), f.predict(frame, cov))
    gap = frame.astype("Float64")
    gap.iloc[5, 1] = pd.NA
    with pytest.raises(ValueError, match=r"without NaN or infinite values, got 1 of them \(first at index \(5, 1\)\)"):
        Forecaster(**FC).fit(gap)


# -- values that are not real numbers: a TypeError that names the dtype ---------------------------
@pytest.mark.parametrize("make, match", [
    (lambda X: X > 0, "real numbers.*got dtype bool.*np.asarray"),
    (lambda X: X.astype(str), "real numbers.*got dtype <U.*np.asarray"),
    (lambda X: X.astype(object), "real numbers.*got dtype object"),
    (lambda X: pd.DataFrame(X).assign(flag=True), "real numbers.*got dtype object"),
    (lambda X: X + 1j, r"Complex data not supported.*real numbers in X, got dtype complex128.*x.real, x.imag"),
    (lambda X: list(X + 1j), r"Complex data not supported.*in sequence 0 of X"),
])
def test_values_that_are_not_real_numbers_are_refused_by_dtype(make, match):
    X, y = data()
    with pytest.raises(TypeError, match=f"SequenceClassifier.fit expected .*{match}" if "Complex" not in match
                       else match):
        SequenceClassifier(**FAST).fit(make(X), y)


def test_wrong_shape_message_no_longer_blames_the_dtype():
    clf = SequenceClassifier(**FAST).fit(*data())
    with pytest.raises(ValueError, match=r"got ndarray of shape \(8,\)\. One univariate series alone is "
                                         r"X = series.reshape\(1, -1\)"):
        clf.predict(np.zeros(8))


# -- backtest copies the seed as sklearn.base.clone does ------------------------------------------
def test_backtest_does_not_advance_a_generator_seed():
    y = series(80)
    make = lambda: Forecaster(**{**FC, "seed": np.random.default_rng(0)})   # noqa: E731
    expected = make().fit(y).predict()
    f = make()
    f.backtest(y, n_windows=2)
    np.testing.assert_array_equal(f.fit(y).predict(), expected)
