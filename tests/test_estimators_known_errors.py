"""Every refusal of the Forecaster's known covariates: what was expected, what was received and
how to fix it (the shape rules of predict stated in full), never a traceback from NumPy."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from rnnkit.estimators import Forecaster

FC = dict(hidden_size=4, epochs=2, seed=0, verbose=False, horizon=3, lookback=8, seasonal_period=1)
H = 3
BOTH_RULES = [r"with y given, known covers y's T steps of history and the 3 forecast step\(s\): \(T \+ 3, K\)",
              r"with y None \(forecasting after the training series\), only the 3 future row\(s\): \(3, K\)"]


def series(T: int = 60) -> np.ndarray:
    return 5 + np.sin(np.arange(T) / 3)


def known(T: int, K: int = 2) -> np.ndarray:
    return np.sin(np.arange(T)[:, None] / (3.0 + np.arange(K)))


@pytest.fixture(scope="module")
def fitted() -> Forecaster:
    return Forecaster(**FC).fit(series(), known=known(60))


def refused(call, *patterns: str, error: type = ValueError) -> str:
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for p in patterns:
        assert re.search(p, message), (p, message)
    return message


# -- predict: the two shape rules ------------------------------------------------------------
@pytest.mark.parametrize("rows", [60, 62, 64, 3])
def test_predict_with_y_refuses_other_lengths_than_t_plus_h(fitted, rows):
    refused(lambda: fitted.predict(series(), known=known(rows)), r"Forecaster\.predict expected known",
            r"T \+ H = 60 \+ 3 = 63 rows", *BOTH_RULES, re.escape(f"got shape ({rows}, 2)"))


@pytest.mark.parametrize("rows", [2, 4, 63])
def test_predict_after_training_refuses_other_lengths_than_h(fitted, rows):
    refused(lambda: fitted.predict(known=known(rows)), r"with 3 rows", *BOTH_RULES,
            re.escape(f"got shape ({rows}, 2)"))


def test_a_one_dimensional_known_reports_its_own_shape():
    f = Forecaster(**FC).fit(series(), known=known(60, 1)[:, 0])
    refused(lambda: f.predict(known=np.zeros(5)), *BOTH_RULES, re.escape("got shape (5,)"))
    refused(lambda: f.predict(series(50), known=np.zeros(50)), r"50 \+ 3 = 53", re.escape("got shape (50,)"))


def test_known_is_required_iff_fitted_with_it(fitted):
    for call in (lambda: fitted.predict(), lambda: fitted.predict(series())):
        refused(call, r"needs the known covariates", r"n_known_ = 2", *BOTH_RULES)
    plain = Forecaster(**FC).fit(series())
    for call in (lambda: plain.predict(known=known(3)), lambda: plain.predict(series(), known=known(63))):
        refused(call, r"fitted without them \(n_known_ = 0\)", r"Drop known, or refit with fit\(y, known=\.\.\.\)")


def test_predict_refuses_another_number_of_known_covariates(fitted):
    refused(lambda: fitted.predict(known=known(3, 3)), r"expected 2 known covariate\(s\), as in fit, got 3")
    refused(lambda: fitted.predict(series(), known=known(63, 1)[:, 0]), r"expected 2 known .*got 1")


def test_x_without_y_is_still_refused_with_known():
    X = np.arange(60.0)
    f = Forecaster(**FC).fit(series(), X, known(60))
    refused(lambda: f.predict(X=X, known=known(3)), r"covariates X without y")
    refused(lambda: f.predict(series(), known=known(63)), r"expected 1 covariate\(s\) in X, as in fit, got 0")


def test_lists_need_one_known_per_series():
    ys = [series(60), series(70)]
    f = Forecaster(**FC).fit(ys, known=[known(60), known(70)])
    refused(lambda: f.predict(known=[known(3)]), r"list of 2 arrays, one per series of y, got list of 1")
    refused(lambda: f.predict(known=known(3)), r"list of 2 arrays, one per series of y, got ndarray")
    refused(lambda: f.predict(known=[known(3), known(4)]), r"known\[1\] \(the known covariates\) with 3 rows",
            re.escape("got shape (4, 2)"))
    refused(lambda: f.predict(ys, known=[known(63), known(70)]), r"known\[1\]", r"70 \+ 3 = 73",
            re.escape("got shape (70, 2)"))
    refused(lambda: f.predict(known=[known(3), known(3, 1)]), r"same number of known covariates.*\[1, 2\]")


# -- fit ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("rows", [59, 63])
def test_fit_needs_known_aligned_with_y(rows):
    refused(lambda: Forecaster(**FC).fit(series(), known=known(rows)), r"Forecaster\.fit expected known",
            r"with 60 rows \(aligned with y: one row per time step of y\)", re.escape(f"got shape ({rows}, 2)"))


def test_fit_refuses_bad_known_values():
    y = series()
    refused(lambda: Forecaster(**FC).fit(y, known=np.zeros((60, 0))), r"at least one column",
            re.escape("got shape (60, 0)"), r"known=None")
    bad = known(60)
    bad[7, 1] = np.nan
    refused(lambda: Forecaster(**FC).fit(y, known=bad), r"'known' without NaN", r"fill_missing")
    refused(lambda: Forecaster(**FC).fit(y, known=np.full((60, 1), 1e39)), r"known.*float32's range")
    refused(lambda: Forecaster(**FC).fit(y, known=np.array(["a"] * 60)), r"'known' to hold real numbers",
            error=TypeError)
    refused(lambda: Forecaster(**FC).fit(y, known=known(60)[None]), r"known", error=ValueError)
    refused(lambda: Forecaster(**FC).fit([y, y], known=[known(60)]), r"list of 2 arrays")
    refused(lambda: Forecaster(**FC).fit([y, y], known=[known(60), known(60, 1)]), r"same number of known")


def test_fit_refuses_sparse_known():
    sparse = pytest.importorskip("scipy.sparse")
    refused(lambda: Forecaster(**FC).fit(series(), known=sparse.csr_matrix(known(60))), r"sparse",
            r"known\.toarray\(\)", error=TypeError)


def test_recursive_strategy_refuses_known():
    refused(lambda: Forecaster(**dict(FC, strategy="recursive")).fit(series(), known=known(60)),
            r"strategy='recursive' does not support known covariates", r"use strategy='direct'")


def test_pandas_known_with_nullable_and_bool_columns():
    y = pd.Series(series())
    k = pd.DataFrame({"price": pd.array(np.arange(60), dtype="Int64"), "promo": np.arange(60) % 2})
    f = Forecaster(**FC).fit(y, known=k)
    assert f.n_known_ == 2
    k.loc[5, "price"] = pd.NA
    refused(lambda: Forecaster(**FC).fit(y, known=k), r"'known' without NaN")
    flags = pd.DataFrame({"holiday": np.arange(60) % 7 == 0})
    refused(lambda: Forecaster(**FC).fit(y, known=flags), r"real numbers", r"dtype=float", error=TypeError)


# -- backtest ----------------------------------------------------------------------------------
def test_backtest_needs_known_aligned_with_y():
    refused(lambda: Forecaster(**FC).backtest(series(), known=known(63), n_windows=2),
            r"Forecaster\.backtest expected known", r"aligned with y", re.escape("got shape (63, 2)"))
    refused(lambda: Forecaster(**dict(FC, strategy="recursive")).backtest(series(), known=known(60), n_windows=2),
            r"use strategy='direct'")
