"""Estimators under failure and unusual input: refits that raise, labels that are not classes,
time zones, inferred frequencies, flat lists, padding, sparse input and float32's range.

Every estimator here is tiny and seeded: these tests check the contract, not the accuracy.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import rnnkit
from conftest import assert_same_state, fitted_state
from rnnkit.estimators import Forecaster, SequenceClassifier, TextGenerator
from rnnkit.estimators import classifier, forecaster, text_generator
from rnnkit.estimators.time_index import future_index, index_info

FAST = dict(hidden_size=4, epochs=2, seed=0, verbose=False)
FC = dict(FAST, horizon=3, lookback=8, seasonal_period=1)
TEXT = "abcabcabd " * 60


def sequences(n: int = 40, T: int = 12, C: int = 2) -> tuple[np.ndarray, np.ndarray]:
    X = np.random.default_rng(0).standard_normal((n, T, C))
    return X, (X[:, :, 0].mean(axis=1) > 0).astype(int)


def series(T: int = 60) -> np.ndarray:
    return 5 + np.sin(np.arange(T) / 3)


# -- 1. a fit that raises leaves the previous fitted state whole ------------------------------
def _fail_training(*args, **kwargs):
    raise FloatingPointError("training diverged (simulated)")


def test_classifier_refit_with_one_class_keeps_the_previous_model():
    X, y = sequences()
    clf = SequenceClassifier(**FAST).fit(X, y)
    before, proba = fitted_state(clf), clf.predict_proba(X)
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(X[:, :, :1], np.full(len(X), "a"))   # other channels, labels and classes
    assert_same_state(before, fitted_state(clf))
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    assert set(clf.predict(X)) <= {0, 1}


@pytest.mark.parametrize("name", ["classifier", "forecaster", "text"])
def test_failed_training_in_a_refit_keeps_the_previous_state(name, monkeypatch):
    if name == "classifier":
        X, y = sequences()
        est = SequenceClassifier(**FAST).fit(X, y)
        predict = lambda e: e.predict_proba(X)                                  # noqa: E731
        refit = lambda e: e.fit(np.repeat(X, 2, axis=2), np.where(y, "b", "c"))   # noqa: E731
        module = classifier
    elif name == "forecaster":
        est = Forecaster(**FC).fit(series())
        predict = lambda e: e.predict()                                         # noqa: E731
        refit = lambda e: e.fit(np.c_[series(80), series(80)], X=np.arange(80.0))   # noqa: E731
        module = forecaster
    else:
        est = TextGenerator(seq_length=16, **FAST).fit(TEXT)
        predict = lambda e: (e.sample("ab", 20, seed=0), e.perplexity("abcab"))   # noqa: E731
        refit = lambda e: e.fit("xyz! " * 80)                                   # noqa: E731
        module = text_generator
    before, expected = fitted_state(est), predict(est)
    monkeypatch.setattr(module, "train_network", _fail_training)
    with pytest.raises(FloatingPointError, match="simulated"):
        refit(est)
    assert_same_state(before, fitted_state(est))
    result = predict(est)
    if name == "text":
        assert result == expected
    else:
        np.testing.assert_array_equal(result, expected)


# -- 2. time-zone-aware dates continue in their own zone ---------------------------------------
def test_forecaster_continues_a_time_zone_across_daylight_saving(tmp_path):
    index = pd.date_range("2020-01-28", "2020-03-27", freq="D", tz="Europe/Paris")
    y = pd.Series(series(len(index)), index=index)
    f = Forecaster(**FC).fit(y)
    pred = f.predict()
    expected = pd.date_range("2020-03-28", periods=3, freq="D", tz="Europe/Paris")
    assert pred.index.equals(expected)
    assert str(pred.index.tz) == "Europe/Paris"
    assert pred.index[-1] == pd.Timestamp("2020-03-30 00:00", tz="Europe/Paris")
    assert pred.index[-1].isoformat() == "2020-03-30T00:00:00+02:00"      # summer time
    assert isinstance(pd.concat([y, pred]).index, pd.DatetimeIndex)
    f.save(tmp_path / "f.safetensors")
    assert rnnkit.load(tmp_path / "f.safetensors").predict().index.equals(expected)


def test_hourly_index_continues_through_the_missing_hour():
    index = pd.date_range("2020-03-28 20:00", periods=6, freq="h", tz="Europe/Paris")   # ends 01:00+01:00
    future = future_index(index_info(index), 3)
    assert [t.isoformat() for t in future] == ["2020-03-29T03:00:00+02:00", "2020-03-29T04:00:00+02:00",
                                               "2020-03-29T05:00:00+02:00"]
    assert str(future.tz) == "Europe/Paris"


# -- 3. class labels ----------------------------------------------------------------------------
@pytest.mark.parametrize("labels, match", [
    (lambda y: np.where(np.arange(len(y)) == 3, np.nan, y.astype(float)), "1 missing label.*position 3"),
    (lambda y: [None] + list(y[1:]), "1 missing label.*position 0"),
    (lambda y: pd.Series([None] + list(y[1:]), dtype="Int64"), "missing label"),
    (lambda y: pd.Series(np.where(y == 1, "a", None), dtype="category"), "missing label"),
    (lambda y: [1 if v else "a" for v in y], r"one kind that can be sorted.*\['int', 'str'\]"),
    (lambda y: pd.Series([1 if v else "a" for v in y]), r"one kind that can be sorted.*\['int', 'str'\]"),
    (lambda y: y * 0.5, "Unknown label type: continuous.*0.5.*Forecaster.*astype"),
    (lambda y: np.random.default_rng(0).standard_normal(len(y)), "Unknown label type: continuous"),
    (lambda y: np.array(list(y + 0.25), dtype=object), "Unknown label type: continuous"),
])
def test_classifier_refuses_labels_that_are_not_classes(labels, match):
    X, y = sequences()
    with pytest.raises(ValueError, match=match):
        SequenceClassifier(**FAST).fit(X, labels(y))


def test_classifier_accepts_whole_float_and_bool_labels():
    X, y = sequences()
    clf = SequenceClassifier(**FAST).fit(X, y * 1.0)
    assert clf.classes_.tolist() == [0.0, 1.0]
    assert set(clf.predict(X)) <= {0.0, 1.0}
    assert SequenceClassifier(**FAST).fit(X, y.astype(bool)).classes_.tolist() == [False, True]


# -- 4. a flat list of numbers is one series ----------------------------------------------------
def test_forecaster_reads_a_flat_list_as_one_series():
    y = series()
    from_list = Forecaster(**FC).fit(list(y)).predict()
    np.testing.assert_array_equal(from_list, Forecaster(**FC).fit(y).predict())
    assert from_list.shape == (3,)
    from_scalars = Forecaster(**FC).fit([np.float64(v) for v in y]).predict()
    np.testing.assert_array_equal(from_scalars, from_list)
    with pytest.raises(ValueError, match="mixes single values and sequences.*np.asarray"):
        Forecaster(**FC).fit([y, 1.0])


# -- 5. inferred frequencies are stored as strings, without pandas' deprecation warning --------
@pytest.mark.parametrize("freq", ["MS", "D", "W-SUN", "15min"])
def test_inferred_frequency_is_a_string_without_warning(freq, tmp_path):
    dates = pd.date_range("2020-01-01", periods=60, freq=freq)
    y = pd.Series(series(), index=pd.DatetimeIndex(list(dates)))   # no freq set
    assert y.index.freq is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = index_info(y.index)
    assert info["freq"] == dates.freqstr and isinstance(info["freq"], str)
    with pd.option_context("future.infer_freq_returns_offset", True):
        f = Forecaster(**FC).fit(y)
        f.save(tmp_path / "f.safetensors")
    expected = pd.date_range(dates[-1], periods=4, freq=freq)[1:]
    assert f.predict().index.equals(expected)
    assert rnnkit.load(tmp_path / "f.safetensors").predict().index.equals(expected)


# -- 6. parameters passed down to layers are checked under the estimator's name ----------------
@pytest.mark.parametrize("value", [1, "yes", None])
def test_classifier_bidirectional_must_be_a_bool(value):
    X, y = sequences()
    with pytest.raises(TypeError, match="'bidirectional' parameter of SequenceClassifier must be a bool. Got"):
        SequenceClassifier(bidirectional=value, **FAST).fit(X, y)


@pytest.mark.parametrize("cls, params, name", [
    (SequenceClassifier, dict(hidden_size=2.0), "hidden_size"),
    (SequenceClassifier, dict(num_layers=0), "num_layers"),
    (SequenceClassifier, dict(dropout=1.0), "dropout"),
    (SequenceClassifier, dict(cell="LSTM"), "cell"),
    (Forecaster, dict(num_layers=1.5), "num_layers"),
    (TextGenerator, dict(embedding_size=0), "embedding_size"),
    (TextGenerator, dict(dropout=-0.1), "dropout"),
])
def test_layer_parameters_are_named_as_the_estimators(cls, params, name):
    est = cls(**{**FAST, **params})
    data = {SequenceClassifier: sequences(), Forecaster: (series(),), TextGenerator: (TEXT,)}[cls]
    with pytest.raises((TypeError, ValueError), match=f"'{name}' parameter of {cls.__name__}"):
        est.fit(*data)


# -- 7. padding is NaN only; sparse input is refused ------------------------------------------
def test_trailing_inf_is_not_padding():
    X, y = sequences()
    X[:, 9:] = np.inf
    with pytest.raises(ValueError, match="got inf at step 9.*never infinite"):
        SequenceClassifier(**FAST).fit(X, y)
    X[:, 9:] = np.nan                          # trailing all-NaN steps are padding
    clf = SequenceClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="got NaN at step 3"):
        clf.predict(np.where(np.arange(12)[None, :, None] == 3, np.nan, X[:2]))


def test_sparse_input_is_refused_with_a_way_out():
    sparse = pytest.importorskip("scipy.sparse")
    X, y = sequences()
    with pytest.raises(TypeError, match=r"sparse input: got a csr_matrix as X.*X.toarray\(\)"):
        SequenceClassifier(**FAST).fit(sparse.csr_matrix(X[:, :, 0]), y)
    with pytest.raises(TypeError, match=r"sparse input.*X\[0\].*toarray"):
        SequenceClassifier(**FAST).fit([sparse.csr_matrix(x) for x in X], y)
    with pytest.raises(TypeError, match=r"sparse input: got a csr_matrix as y.*y.toarray\(\)"):
        Forecaster(**FC).fit(sparse.csr_matrix(series()[:, None]))


# -- 8. values beyond float32's range ------------------------------------------------------------
def test_values_beyond_float32_are_refused_at_the_boundary():
    X, y = sequences()
    clf = SequenceClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"SequenceClassifier.predict expected values in sequence 0 of X within "
                                         r"float32's range.*largest magnitude of 2.\d+e\+40"):
        clf.predict(X * 1e40)
    with pytest.raises(ValueError, match="SequenceClassifier.fit .*float32's range"):
        SequenceClassifier(**FAST).fit(X * 1e200, y)
    y_big = series() * 1e300
    with pytest.raises(ValueError, match=r"Forecaster.fit expected values in y within float32's range.*e\+300"):
        Forecaster(**FC).fit(y_big)
    with pytest.raises(ValueError, match=r"values in X within float32's range"):
        Forecaster(**FC).fit(series(), X=np.full(60, 1e39))
    f = Forecaster(**FC).fit(series())
    with pytest.raises(ValueError, match=r"Forecaster.predict expected values in y within float32's range"):
        f.predict(y_big)
    assert np.all(np.isfinite(Forecaster(**FC).fit(series() * 1e30).predict()))   # large but representable


@pytest.mark.parametrize("make", [
    lambda mp: (Forecaster(horizon=2, hidden_size=4, epochs=20, lr=0.05, seed=0, verbose=False), (series(120),)),
    lambda mp: (mp.setattr(classifier, "WARMUP_UPDATES", 5),   # 5 warm-up epochs of one batch, then the rest
                SequenceClassifier(hidden_size=4, epochs=20, batch_size=40, seed=0, verbose=False), sequences())[1:],
], ids=["forecaster", "classifier-after-its-warm-up"])
def test_ctrl_c_in_a_later_epoch_keeps_the_weights_trained_so_far(make, monkeypatch):
    """best_epoch names the epoch whose weights the model keeps: after Ctrl-C none (None), the
    model keeping the weights of the batches it trained on, not an earlier epoch's (the
    classifier's Ctrl-C comes after its warm-up fit, whose best weights it must not restore)."""
    import os
    import signal

    from rnnkit.training.trainer import Trainer

    train_batch, seen, started = Trainer._train_batch, [], []

    def interrupted(self, batch, stats, epoch, b, nb):
        if b == 1:   # an epoch starts (the classifier runs two fits, each counting from epoch 1)
            started.append(epoch)
            if len(started) == 12:
                os.kill(os.getpid(), signal.SIGINT)   # a real Ctrl-C during the 12th epoch's first batch
        train_batch(self, batch, stats, epoch, b, nb)
        seen.append({k: v.copy() for k, v in self.model.state_dict().items()})

    monkeypatch.setattr(Trainer, "_train_batch", interrupted)
    est, data = make(monkeypatch)
    est.fit(*data)
    h = est.history_
    assert (h["stop_reason"], h["best_epoch"]) == ("interrupted", None)
    assert h["epochs"] in (11, 12)   # 12: the Ctrl-C came in the epoch's last batch, which ends the epoch
    for k, v in est.model_.state_dict().items():
        np.testing.assert_array_equal(v, seen[-1][k], err_msg=k)
