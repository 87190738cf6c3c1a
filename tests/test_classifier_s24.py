"""SequenceClassifier as a demanding scikit-learn user meets it: block spreads of a signal on a
large level, the input forms (object arrays of sequences, ragged steps, one sequence alone),
label kinds scikit-learn refuses, labels that keep their dtype through save/load, and learning
on the shipped JapaneseVowels set (ragged sequences, 12 channels, 9 classes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rnnkit
from rnnkit.datasets import load_japanese_vowels
from rnnkit.estimators import SequenceClassifier
from rnnkit.estimators.sequences import average_pool

FAST = dict(hidden_size=4, epochs=1, seed=0, verbose=False)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = [rng.standard_normal((int(rng.integers(5, 12)), 2)) for _ in range(40)]
    y = np.array([int(x[:, 0].mean() > 0) for x in X])
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return SequenceClassifier(**FAST).fit(X, y)


# -- length reduction -------------------------------------------------------------------------
@pytest.mark.parametrize("level, amplitude", [(1e8, 1.0), (1e9, 0.01), (-3e7, 0.5)])
def test_block_spreads_are_exact_on_a_large_level(level, amplitude):
    # mean(x^2) - mean(x)^2 gave spreads of 0 or 1.41 for a true 0.66 on 1e8 + sin(t)
    t = np.arange(203.0)
    x = np.stack([level + amplitude * np.sin(t), level - amplitude * np.cos(0.3 * t)], axis=1)
    out = average_pool([x], 10)[0]
    blocks = [x[i: i + 10] for i in range(0, len(x), 10)]   # the last block has 3 steps
    expected_mean = np.array([b.mean(axis=0) for b in blocks])
    expected_spread = np.array([b.std(axis=0) for b in blocks])
    assert out.shape == (21, 4)
    np.testing.assert_allclose(out[:, :2], expected_mean, rtol=1e-12)
    np.testing.assert_allclose(out[:, 2:], expected_spread, rtol=1e-6, err_msg="block spreads")


def test_block_spread_of_a_constant_block_is_zero():
    x = np.full((30, 1), 0.1)
    out = average_pool([x], 7)[0]
    assert (out[:, 1] < 1e-15).all(), out[:, 1]    # rounding of the mean only (1.4e-17); was 1e-9
    np.testing.assert_allclose(out[:, 0], 0.1, rtol=1e-15)


# -- input forms ------------------------------------------------------------------------------
def test_object_array_and_series_of_sequences_read_as_the_list(data, fitted):
    X, _ = data
    as_list = fitted.predict_proba(X)
    obj = np.empty(len(X), dtype=object)
    obj[:] = X
    np.testing.assert_array_equal(fitted.predict_proba(obj), as_list)
    np.testing.assert_array_equal(fitted.predict_proba(pd.Series(list(obj))), as_list)
    # fitting on the object array is fitting on the list
    a = SequenceClassifier(**FAST).fit(obj, data[1])
    np.testing.assert_array_equal(a.predict_proba(X), as_list)


def test_object_array_of_numbers_is_still_refused_with_the_shape_message(fitted):
    with pytest.raises(ValueError, match=r"got ndarray of shape \(3,\).*reshape\(1, -1\)"):
        fitted.predict(np.array([1.0, 2.0, 3.0], dtype=object))


def test_ragged_steps_get_a_clear_error_not_numpys():
    X = [[[1.0, 2.0], [3.0]], [[1.0, 2.0], [3.0, 4.0]]]
    with pytest.raises(ValueError, match=r"sequence 0 of X to be \(T_n,\) or \(T_n, C\).*steps of different "
                                         r"lengths") as info:
        SequenceClassifier(**FAST).fit(X, [0, 1])
    assert "inhomogeneous" not in str(info.value)


def test_one_sequence_passed_alone_gets_a_hint(data, fitted):
    X, _ = data
    with pytest.raises(ValueError, match=r"expected sequences with 2 channels, as in fit, got 1\. An array \(N, T\) "
                                         r"holds N univariate series: this one reads as 7 series of 2 steps\. "
                                         r"One sequence x of shape \(T, C\) alone is X = \[x\] or x\[None\]\."):
        fitted.predict(X[0][:7])
    assert fitted.predict([X[0]]).shape == (1,)
    assert fitted.predict(X[0][None]).shape == (1,)


def test_a_wrong_channel_count_without_that_shape_gets_no_hint(data, fitted):
    X, _ = data
    with pytest.raises(ValueError, match=r"with 2 channels, as in fit, got 1\.$"):
        fitted.predict(np.zeros((4, 9)))
    with pytest.raises(ValueError, match=r"with 2 channels, as in fit, got 3\.$"):
        fitted.predict([np.zeros((5, 3))])


# -- labels -----------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda y: y + 0j, lambda y: (y + 1j).astype(object), lambda y: list(y + 0j)],
                         ids=["complex", "complex-object", "complex-list"])
def test_complex_labels_are_refused_as_in_sklearn(data, make):
    X, y = data
    with pytest.raises(ValueError, match=r"Complex data not supported: SequenceClassifier\.fit expected class "
                                         r"labels.*y\.real\.astype\(int\)"):
        SequenceClassifier(**FAST).fit(X, make(y))


@pytest.mark.parametrize("make", [lambda y: np.array([b"no", b"yes"])[y], lambda y: [b"no", b"yes"] * (len(y) // 2),
                                  lambda y: np.array([b"no", b"yes"], dtype=object)[y]],
                         ids=["bytes", "bytes-list", "bytes-object"])
def test_bytes_labels_are_refused_with_how_to_decode(data, make):
    X, y = data
    with pytest.raises(TypeError, match=r"labels represented as bytes.*np\.char\.decode\(y, 'utf-8'\)"):
        SequenceClassifier(**FAST).fit(X, make(y))


def _object(values):
    values = list(values)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


LABEL_KINDS = {
    "object-int": lambda y: _object(np.array([3, 7])[y].tolist()),
    "object-big-int": lambda y: _object([10**20 if v else -3 for v in y]),
    "object-str": lambda y: _object(["no", "yes"][v] for v in y),
    "object-mixed-number": lambda y: _object([2.0 if v else 1 for v in y]),
    "pandas-object-int": lambda y: pd.Series(y.tolist(), dtype=object),
    "pandas-string": lambda y: pd.Series(np.array(["x", "y"])[y], dtype="string"),
    "categorical": lambda y: pd.Series(pd.Categorical(np.array(["z", "a"])[y])),
    "str-wide": lambda y: y.astype(str),             # '<U21'
    "datetime": lambda y: np.array(["2020-01-01", "2021-06-30"], dtype="datetime64[D]")[y],
    "timedelta": lambda y: np.array([5, 9], dtype="timedelta64[s]")[y],
    "uint8": lambda y: y.astype(np.uint8),
    "bool": lambda y: y.astype(bool),
    "unicode": lambda y: np.array(["e\u0301", "\U0001F600"])[y],
}


@pytest.mark.parametrize("kind", list(LABEL_KINDS))
def test_save_load_keeps_labels_and_their_dtype(tmp_path, data, kind):
    X, y = data
    labels = LABEL_KINDS[kind](y)
    clf = SequenceClassifier(**FAST).fit(X, labels)
    clf.save(tmp_path / "clf.safetensors")
    back = rnnkit.load(tmp_path / "clf.safetensors")
    assert back.classes_.dtype == clf.classes_.dtype
    assert [type(v) for v in back.classes_] == [type(v) for v in clf.classes_]
    assert back.classes_.tolist() == clf.classes_.tolist()
    want, got = clf.predict(X), back.predict(X)
    assert got.dtype == want.dtype and got.tolist() == want.tolist()
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert back.score(X, labels) == clf.score(X, labels)
    assert back.get_params() == clf.get_params()


def test_a_file_without_the_label_dtype_still_loads(tmp_path, data, monkeypatch):
    # files written before "classes_dtype" was stored: classes_ as read from the file
    X, y = data
    clf = SequenceClassifier(**FAST).fit(X, np.array(["no", "yes"])[y])
    get_state = SequenceClassifier._get_state

    def old_state(self):
        state, arrays = get_state(self)
        del state["classes_dtype"]
        return state, arrays

    monkeypatch.setattr(SequenceClassifier, "_get_state", old_state)
    clf.save(tmp_path / "old.safetensors")
    back = rnnkit.load(tmp_path / "old.safetensors")
    assert back.predict(X).tolist() == clf.predict(X).tolist()


# -- learning on a shipped dataset --------------------------------------------------------------
def test_learns_japanese_vowels_with_string_labels_and_round_trips(tmp_path):
    X_train, y_train, X_test, y_test = load_japanese_vowels()
    assert len({len(x) for x in X_train}) > 5               # ragged: 7 to 29 steps
    names = np.array([f"speaker {k}" for k in range(1, 10)], dtype=object)
    clf = SequenceClassifier(hidden_size=16, epochs=30, seed=0, verbose=False).fit(X_train, names[y_train])
    assert clf.classes_.tolist() == sorted(names.tolist()) and clf.n_features_in_ == 12
    proba = clf.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    pred = clf.predict(X_test)
    assert (clf.classes_[proba.argmax(axis=1)] == pred).all()
    majority = np.mean(y_test == np.bincount(y_train).argmax())
    accuracy = clf.score(X_test, names[y_test])
    assert accuracy > 0.85 and majority < 0.1, (accuracy, majority)
    clf.save(tmp_path / "vowels.safetensors")
    back = rnnkit.load(tmp_path / "vowels.safetensors")
    np.testing.assert_array_equal(back.predict_proba(X_test), proba)
    assert back.predict(X_test).tolist() == pred.tolist() and back.classes_.dtype == object


def test_labels_a_file_cannot_store_are_refused_at_save_with_the_fix(tmp_path):
    X = [np.random.default_rng(i).standard_normal((10, 2)) for i in range(20)]
    y = pd.Series(pd.to_datetime(["2020-01-01", "2020-01-02"] * 10).tz_localize("UTC"))
    clf = SequenceClassifier(hidden_size=3, epochs=1, seed=0, verbose=False).fit(X, y)
    with pytest.raises(TypeError, match=r"classes_ holds Timestamp labels .* y\.astype\(str\)"):
        clf.save(tmp_path / "c.safetensors")
    assert not list(tmp_path.iterdir())  # nothing written
