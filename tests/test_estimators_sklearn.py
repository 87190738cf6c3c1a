"""The estimators as a scikit-learn user drives them: sklearn's own estimator checks, clone,
parameters, tags, fitted state, pipelines, model selection, pickling and reproducibility.

Every estimator here is tiny (a few hidden units, two epochs) and seeded: these tests check the
contract with scikit-learn, not the accuracy.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone, is_classifier, is_regressor  # noqa: E402
from sklearn.exceptions import NotFittedError as SklearnNotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils import get_tags  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402

from rnnkit import data as rkdata  # noqa: E402
from rnnkit.data import NotFittedError  # noqa: E402
from rnnkit.estimators import Forecaster, SequenceClassifier, TextGenerator  # noqa: E402

FAST = dict(hidden_size=4, epochs=2, seed=0, verbose=False)
TEXT = "abcabcabd " * 30


def data(n: int = 40, T: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(N, T) univariate sequences and string labels."""
    X = np.random.default_rng(0).standard_normal((n, T))
    return X, np.where(X.mean(axis=1) > 0, "up", "down")


def series(T: int = 80) -> np.ndarray:
    return 5 + np.sin(np.arange(T) / 3)


def fitted(name: str):
    """A small fitted estimator of each kind, and the arguments of its fit."""
    if name == "SequenceClassifier":
        args = data()
        return SequenceClassifier(**FAST).fit(*args), args
    if name == "Forecaster":
        return Forecaster(horizon=3, lookback=8, seasonal_period=1, **FAST).fit(series()), (series(),)
    return TextGenerator(seq_length=8, **FAST).fit(TEXT), (TEXT,)


# -- 1. scikit-learn's own checks ----------------------------------------------------------------
#: the checks SequenceClassifier fails by design, and why (xfail_strict: one that starts to pass fails)
EXPECTED_FAILED_CHECKS = {
    "check_n_features_in": "n_features_in_ is C, the channels per step: an (N, T) X holds N univariate "
                           "sequences of T steps, so n_features_in_ is 1, not X.shape[1] = T",
    "check_n_features_in_after_fitting": "n_features_in_ is C (channels), not X.shape[1] (steps); predict "
                                         "accepts sequences of any length T",
    "check_classifiers_train": "predict takes sequences of another length T (X.shape[1] counts steps, not "
                               "features), which this check expects refused; two epochs also stay below its "
                               "0.83 accuracy bar",
    "check_estimators_empty_data_messages": "X of shape (N, 0) is N sequences of 0 steps: refused with 'at least "
                                            "one step', not sklearn's '0 feature(s)' wording",
    "check_fit2d_predict1d": "a 1-D X is refused with a ValueError that says X = series.reshape(1, -1), not "
                             "sklearn's 'Reshape your data' wording",
    "check_complex_data": "complex X raises TypeError('Complex data not supported: ...'): rnnkit raises TypeError "
                          "for every wrong dtype, this check wants ValueError",
    "check_dtype_object": "object arrays are refused with a TypeError saying how to convert them (rnnkit's rule for "
                          "every input), not converted as sklearn does",
}


with warnings.catch_warnings():   # "does not inherit from sklearn.base.BaseEstimator": by design
    warnings.simplefilter("ignore", UserWarning)

    @parametrize_with_checks([SequenceClassifier(**FAST)], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
                             xfail_strict=True)
    def test_sklearn_estimator_checks(estimator, check):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            check(estimator)


# -- 2. not fitted yet -----------------------------------------------------------------------------
@pytest.mark.parametrize("cls, method, args", [
    (SequenceClassifier, "predict", (np.zeros((2, 3)),)), (SequenceClassifier, "predict_proba", (np.zeros((2, 3)),)),
    (SequenceClassifier, "score", (np.zeros((2, 3)), [0, 1])), (Forecaster, "predict", ()),
    (TextGenerator, "sample", ()), (TextGenerator, "perplexity", ("ab",)), (SequenceClassifier, "save", ("x",)),
])
def test_use_before_fit_raises_sklearns_not_fitted_error_too(cls, method, args):
    est = cls(**FAST)
    with pytest.raises(SklearnNotFittedError, match=f"This {cls.__name__} is not fitted yet.*{method}") as info:
        getattr(est, method)(*args)
    err = info.value
    assert isinstance(err, NotFittedError) and isinstance(err, ValueError) and isinstance(err, AttributeError)
    back = pickle.loads(pickle.dumps(err))            # n_jobs workers send errors back pickled
    assert isinstance(back, SklearnNotFittedError) and isinstance(back, NotFittedError) and back.args == err.args
    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(est)


@pytest.mark.parametrize("scaler, data", [(rkdata.StandardScaler(), np.zeros(3)), (rkdata.MinMaxScaler(), np.zeros(3)),
                                          (rkdata.PerSeriesScaler(), [np.zeros(3)])])
def test_scalers_used_before_fit_raise_sklearns_not_fitted_error_too(scaler, data):
    with pytest.raises(SklearnNotFittedError, match="is not fitted yet") as info:
        scaler.transform(data)
    assert isinstance(info.value, NotFittedError)


def test_not_fitted_error_without_sklearn_imported_keeps_rnnkit_light():
    code = ("import sys, numpy as np; from rnnkit.estimators import SequenceClassifier; "
            "from rnnkit.data import NotFittedError\n"
            "try:\n    SequenceClassifier().predict(np.zeros((1, 2)))\n"
            "except NotFittedError as e:\n    print(type(e) is NotFittedError, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False"]


# -- 3. parameters, tags and fitted state ----------------------------------------------------------
@pytest.mark.parametrize("name", ["SequenceClassifier", "Forecaster", "TextGenerator"])
def test_clone_params_fitted_attributes_and_refit(name):
    est, args = fitted(name)
    fresh = clone(est)
    assert type(fresh) is type(est) and fresh.get_params() == est.get_params()
    assert fresh.get_params(deep=True) == fresh.get_params(deep=False)
    assert not [a for a in vars(fresh) if a.endswith("_")]                # no fitted attribute before fit
    assert fresh.fit(*args) is fresh
    check_is_fitted(fresh)
    with pytest.raises(ValueError, match=f"Invalid parameter 'nope__deep' for estimator {name}.*Valid parameters"):
        fresh.set_params(nope__deep=1)
    changed = type(est)(**FAST).set_params(lr=0.1, epochs=3)
    assert repr(changed) == f"{name}(hidden_size=4, epochs=3, lr=0.1, seed=0, verbose=False)"


def test_tags_say_what_each_estimator_is():
    assert is_classifier(SequenceClassifier()) and get_tags(SequenceClassifier()).estimator_type == "classifier"
    for est in (Forecaster(), TextGenerator()):       # fit(y, X) / fit(text): not scikit-learn regressors
        assert not is_classifier(est) and not is_regressor(est) and get_tags(est).estimator_type is None
    assert get_tags(SequenceClassifier(seed=0)).non_deterministic is False
    assert get_tags(SequenceClassifier()).non_deterministic is True


def test_refit_replaces_every_fitted_attribute():
    X, y = data()
    clf = SequenceClassifier(**FAST).fit(X, y)
    X3 = np.random.default_rng(1).standard_normal((30, 6, 3))
    clf.fit(X3, np.arange(30) % 3)
    assert clf.n_features_in_ == 3 and clf.classes_.tolist() == [0, 1, 2]
    assert clf.predict_proba(X3).shape == (30, 3)
    with pytest.raises(ValueError, match="3 channels, as in fit, got 1"):
        clf.predict(X)


# -- 4. pipelines, model selection, pickling -------------------------------------------------------
def test_pipeline_grid_search_and_scoring_strings():
    X, y = data()
    pipe = make_pipeline(StandardScaler(), SequenceClassifier(**FAST))
    grid = GridSearchCV(pipe, {"sequenceclassifier__hidden_size": [2, 4], "sequenceclassifier__cell": ["gru"]},
                        cv=2, scoring="balanced_accuracy").fit(X, y)
    assert grid.best_params_["sequenceclassifier__hidden_size"] in (2, 4)
    assert grid.best_estimator_.classes_.tolist() == ["down", "up"]
    # score() is the accuracy (higher is better), the same as the "accuracy" scorer
    clf = SequenceClassifier(**FAST)
    np.testing.assert_array_equal(cross_val_score(clf, X, y, cv=2), cross_val_score(clf, X, y, cv=2,
                                                                                    scoring="accuracy"))
    for scoring in ("roc_auc", "neg_log_loss", "f1_macro"):   # through predict_proba / predict
        assert np.isfinite(cross_val_score(clf, X, y, cv=2, scoring=scoring)).all()
    # NumPy parameter values from a grid (np.arange, np.logspace) are accepted
    grid = GridSearchCV(clf, {"hidden_size": np.array([2, 3]), "lr": np.logspace(-3, -2, 2), "seed": np.arange(1)},
                        cv=2).fit(X, y)
    assert grid.best_estimator_.predict(X).shape == (40,)


@pytest.mark.parametrize("name", ["SequenceClassifier", "Forecaster", "TextGenerator"])
def test_pickled_fitted_estimators_predict_the_same(name):
    """What n_jobs > 1 relies on (cross_val_score(..., n_jobs=2) gives the serial scores; not run
    here: starting the worker processes takes seconds)."""
    est, args = fitted(name)
    assert pickle.loads(pickle.dumps(clone(est))).get_params() == est.get_params()
    back = pickle.loads(pickle.dumps(est))
    if name == "SequenceClassifier":
        np.testing.assert_array_equal(back.predict_proba(args[0]), est.predict_proba(args[0]))
    elif name == "Forecaster":
        np.testing.assert_array_equal(back.predict(), est.predict())
    else:
        assert back.sample("ab", 20, seed=0) == est.sample("ab", 20, seed=0)


# -- 5. reproducibility and probabilities -----------------------------------------------------------
def test_seeded_fits_and_clones_agree_and_probabilities_match_predict():
    X, y = data()
    clf = SequenceClassifier(**{**FAST, "epochs": 5})
    p1 = clone(clf).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(clone(clf).fit(X, y).predict_proba(X), p1)
    np.testing.assert_array_equal(clf.fit(X, y).predict_proba(X), p1)
    np.testing.assert_array_equal(clf.fit(X, y).predict_proba(X), p1)          # a refit starts from scratch
    np.testing.assert_allclose(p1.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(clf.classes_[p1.argmax(axis=1)], clf.predict(X))
    gen = SequenceClassifier(**{**FAST, "seed": np.random.default_rng(7)})     # clone copies the Generator
    np.testing.assert_array_equal(clone(gen).fit(X, y).predict_proba(X), clone(gen).fit(X, y).predict_proba(X))
    f = Forecaster(horizon=3, lookback=8, seasonal_period=1, **FAST)
    np.testing.assert_array_equal(clone(f).fit(series()).predict(), clone(f).fit(series()).predict())
