"""Metrics against scikit-learn and the standard forecasting definitions on random data, and the
inputs accuracy refuses (NaN, labels of two kinds, class ids the scores cannot have)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import metrics as M

skm = pytest.importorskip("sklearn.metrics")


# -- accuracy -------------------------------------------------------------------------------------
def test_accuracy_matches_sklearn_on_labels_and_scores():
    rng = np.random.default_rng(0)
    for K in (2, 3, 7):
        y = rng.integers(0, K, 200)
        scores = rng.standard_normal((200, K))
        scores[:5, 0] = -np.inf   # log-probabilities of impossible classes are allowed
        assert M.accuracy(y, scores) == pytest.approx(skm.accuracy_score(y, scores.argmax(1)))
        assert M.accuracy(y.astype(float), scores) == pytest.approx(skm.accuracy_score(y, scores.argmax(1)))
        pred = rng.integers(0, K, 200)
        assert M.accuracy(y, pred) == pytest.approx(skm.accuracy_score(y, pred))
    names = np.array(["cat", "dog", "eel"])
    y, pred = names[rng.integers(0, 3, 50)], names[rng.integers(0, 3, 50)]
    assert M.accuracy(y, pred) == pytest.approx(skm.accuracy_score(y, pred))
    assert M.accuracy(y.astype(object), pred) == pytest.approx(skm.accuracy_score(y, pred))


@pytest.mark.parametrize("y_true,y_pred,where", [
    ([0.0, 1.0, np.nan], [0.0, 1.0, np.nan],
     r"y_true without NaN or other missing labels .*, got 1 \(first at index \(2,\)\)"),
    ([0, 1, 1], [0.0, np.nan, 1.0], r"y_pred without NaN .* got 1 .* \(1,\)"),
    ([0, 1], [[np.nan, 0.1], [0.2, 0.8]], r"y_pred without NaN .* got 1 .* \(0, 0\)"),  # argmax would say 0
    ([1, None, 2], [1, 2, 2], r"y_true without NaN or other missing labels .* \(first at index \(1,\)\)"),
    (["a", "b"], ["a", None], r"y_pred without NaN or other missing labels"),  # None had compared unequal
    (np.array(["a", np.nan], dtype=object), ["a", "b"], r"y_true without NaN"),
])
def test_accuracy_refuses_nan(y_true, y_pred, where):
    with pytest.raises(ValueError, match=where):
        M.accuracy(y_true, y_pred)


def test_accuracy_refuses_string_labels_against_numbers():
    with pytest.raises(ValueError, match=r"Mix of label input types \(string and number\): accuracy got string labels "
                                         r"in y_true and number labels in y_pred \(e\.g\. 'a' and 0\)"):
        M.accuracy(["a", "b"], [0, 1])    # never equal: the old answer was 0.0
    with pytest.raises(ValueError, match="number labels in y_true and string labels in y_pred"):
        M.accuracy([0, 1], np.array(["0", "1"], dtype=object))


@pytest.mark.parametrize("y_true,shown", [([1, 2, 3], r"\[3\]"), ([0, 1, -1], r"\[-1\]"),
                                          ([0.5, 1.0, 2.0], r"\[0\.5\]"), (["a", "b", "c"], r"\['a', 'b', 'c'\]")])
def test_accuracy_with_scores_needs_class_ids(y_true, shown):
    with pytest.raises(ValueError, match=r"class ids 0\.\.2 with \(3, 3\) scores, got " + shown + r".*searchsorted"):
        M.accuracy(y_true, np.eye(3))   # 1-based ids or names never match an argmax: the old answer was 0.0


def test_accuracy_single_column_message_covers_labels_too():
    with pytest.raises(ValueError, match=r"pass y_pred\.ravel\(\) if it holds labels"):
        M.accuracy([0, 1, 1], np.array([[0], [1], [1]]))


# -- forecast metrics -----------------------------------------------------------------------------
def test_forecast_metrics_match_sklearn_and_the_standard_definitions():
    rng = np.random.default_rng(1)
    y, p = rng.uniform(1, 10, (30, 3)), rng.uniform(1, 10, (30, 3))
    # every element counts once (for equal columns MAE and MAPE equal sklearn's uniform average)
    assert M.mae(y, p) == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-14)
    assert M.mape(y, p) == pytest.approx(100 * skm.mean_absolute_percentage_error(y, p), rel=1e-14)
    assert M.rmse(y, p) == pytest.approx(skm.root_mean_squared_error(y.ravel(), p.ravel()), rel=1e-14)
    assert M.smape(y, p) == pytest.approx(np.mean(200 * np.abs(y - p) / (np.abs(y) + np.abs(p))), rel=1e-14)
    train = rng.standard_normal((40, 3)).cumsum(0)
    for m in (1, 4, 12):
        scale = np.array([np.mean([abs(train[t, c] - train[t - m, c]) for t in range(m, 40)]) for c in range(3)])
        assert M.mase(y, p, train, m=m) == pytest.approx(np.mean(np.abs(y - p) / scale), rel=1e-13)
        assert M.mase(y[:, 0], p[:, 0], train[:, 0], m=m) == pytest.approx(
            np.mean(np.abs(y[:, 0] - p[:, 0])) / scale[0], rel=1e-13)
    with pytest.raises(ValueError, match="does not change at lag m = 3"):
        M.mase(y[:, 0], p[:, 0], np.tile([1.0, 2.0, 3.0], 5), m=3)   # in-sample seasonal naive is exact
