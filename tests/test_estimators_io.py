"""Saving and loading estimators: one safetensors file, bit-identical predictions, no pickle."""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit
from rnnkit.errors import LoadError
from rnnkit.estimators import Forecaster, SequenceClassifier, TextGenerator, load_estimator

FAST = dict(hidden_size=4, epochs=2, seed=0, verbose=False)


@pytest.mark.parametrize("labels", [["cat", "dog", "eel"], [3, 7, 9], [0.0, 1.0, 2.0]])   # floats: whole values only
def test_classifier_round_trip(tmp_path, labels):
    rng = np.random.default_rng(0)
    X = [rng.standard_normal((int(rng.integers(3, 12)), 2)) for _ in range(30)]
    y = np.array(labels)[np.arange(30) % 3]
    clf = SequenceClassifier(bidirectional=True, pooling=("mean", "max", "last"), dropout=0.1, **FAST).fit(X, y)
    path = tmp_path / "clf.safetensors"
    clf.save(path)
    for back in (load_estimator(path), rnnkit.load(path)):
        assert isinstance(back, SequenceClassifier)
        np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
        np.testing.assert_array_equal(back.predict(X), clf.predict(X))
        assert back.classes_.dtype.kind == clf.classes_.dtype.kind
        assert back.get_params() == clf.get_params() and isinstance(back.pooling, tuple)


def test_forecaster_round_trip(tmp_path):
    pd = pytest.importorskip("pandas")
    t = np.arange(80)
    y = pd.Series(5 + np.sin(2 * np.pi * t / 12) + 0.01 * t, index=pd.date_range("2001-01-01", periods=80, freq="MS"))
    X = (t % 12)[:, None].astype(float)
    for est, cov in ((Forecaster(horizon=4, **FAST), X), (Forecaster(horizon=4, strategy="recursive", **FAST), None)):
        est.fit(y, cov)
        path = tmp_path / "f.safetensors"
        est.save(path)
        back = rnnkit.load(path)
        assert isinstance(back, Forecaster) and back.lookback_ == est.lookback_
        pd.testing.assert_series_equal(back.predict(), est.predict())
        np.testing.assert_array_equal(back.predict(y.to_numpy()[:50], None if cov is None else cov[:50]),
                                      est.predict(y.to_numpy()[:50], None if cov is None else cov[:50]))


def test_text_generator_round_trip(tmp_path):
    text = "abracadabra " * 30
    gen = TextGenerator(hidden_size=8, embedding_size=4, seq_length=12, epochs=2, seed=0, verbose=False).fit(text)
    path = tmp_path / "gen.safetensors"
    gen.save(path)
    back = load_estimator(path)
    assert back.vocab_ == gen.vocab_
    assert back.sample("abra", 40, seed=3) == gen.sample("abra", 40, seed=3)
    assert back.perplexity(text[:100]) == gen.perplexity(text[:100])


def test_load_errors(tmp_path):
    model = rnnkit.Sequential([rnnkit.LSTM(2, 3, seed=0), rnnkit.LastStep(), rnnkit.Linear(3, 1, seed=0)])
    path = tmp_path / "plain.safetensors"
    model.save(path)
    assert isinstance(rnnkit.load(path), rnnkit.Sequential)            # plain models still load as models
    with pytest.raises(LoadError, match="not an estimator"):
        load_estimator(path)
    with pytest.raises(ValueError, match="not fitted yet"):
        Forecaster().save(tmp_path / "x.safetensors")


@pytest.mark.parametrize("change, pattern", [
    (lambda r: r.update(state={}), r"KeyError\('seasonal_period_'\)"),      # every fitted attribute is required
    (lambda r: r.update(state=[1, 2]), "'params' and 'state' as JSON objects, got dict and list"),
    (lambda r: r.update(params="horizon=4"), "got str and dict"),
    (lambda r: r.update(tuple_params="horizon"), "'tuple_params' as a list of names of list parameters"),
    (lambda r: r.update(tuple_params=["horizon"]), "'tuple_params' as a list of names of list parameters"),
])
def test_a_damaged_estimator_record_is_refused_when_loading(tmp_path, change, pattern):
    """Not later, when predict reads an attribute the file did not restore."""
    import json

    from rnnkit.io import read_safetensors, write_safetensors

    path = tmp_path / "f.safetensors"
    Forecaster(horizon=2, **FAST).fit(np.sin(np.arange(40) / 3)).save(path)
    tensors, meta = read_safetensors(path)
    record = json.loads(meta["estimator"])
    change(record)
    write_safetensors(path, tensors, metadata={**meta, "estimator": json.dumps(record)})
    for load in (load_estimator, rnnkit.load):
        with pytest.raises(LoadError, match=pattern):
            load(path)


def test_a_file_without_tuple_params_still_loads_its_lists(tmp_path):
    import json

    from rnnkit.io import read_safetensors, write_safetensors

    path = tmp_path / "clf.safetensors"
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 5, 2)), np.arange(12) % 2
    SequenceClassifier(pooling=("last",), **FAST).fit(X, y).save(path)
    tensors, meta = read_safetensors(path)
    record = json.loads(meta["estimator"])
    assert record.pop("tuple_params") == ["pooling"]
    write_safetensors(path, tensors, metadata={**meta, "estimator": json.dumps(record)})
    assert load_estimator(path).pooling == ["last"]
