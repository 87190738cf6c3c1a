"""Time-ordered splits keep order, never shuffle, and size parts as documented."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data import temporal_train_test_split, temporal_train_val_test_split


def test_train_test_split_keeps_time_order():
    s = np.arange(10.0)
    train, test = temporal_train_test_split(s, test_size=0.3)
    np.testing.assert_array_equal(train, np.arange(7.0))
    np.testing.assert_array_equal(test, [7, 8, 9])
    train, test = temporal_train_test_split(s, test_size=4)
    assert len(train) == 6 and test[0] == 6


def test_fraction_is_rounded_up_for_the_held_out_part():
    train, test = temporal_train_test_split(np.arange(10), test_size=0.25)
    assert len(test) == 3 and len(train) == 7


def test_three_way_split_is_contiguous_and_complete():
    s = np.arange(20).reshape(20, 1)
    tr, va, te = temporal_train_val_test_split(s, val_size=0.1, test_size=0.2)
    assert (len(tr), len(va), len(te)) == (14, 2, 4)
    np.testing.assert_array_equal(np.concatenate([tr, va, te]), s)
    assert tr.max() < va.min() and va.max() < te.min()


def test_several_arrays_are_cut_at_the_same_places():
    X = np.arange(30).reshape(10, 3)
    y = np.arange(10)
    X_tr, X_te, y_tr, y_te = temporal_train_test_split(X, y, test_size=2)
    np.testing.assert_array_equal(X_te[:, 0], [24, 27])
    np.testing.assert_array_equal(y_te, [8, 9])
    with pytest.raises(ValueError, match="same length"):
        temporal_train_test_split(X, y[:5], test_size=2)


def test_pandas_objects_keep_their_index():
    pd = pytest.importorskip("pandas")
    s = pd.Series(np.arange(6.0), index=pd.date_range("2020-01-01", periods=6, freq="MS"))
    train, test = temporal_train_test_split(s, test_size=2)
    assert isinstance(test, pd.Series)
    assert str(test.index[0].date()) == "2020-05-01"


@pytest.mark.parametrize("size,err", [(0, ValueError), (1.0, ValueError), (-2, ValueError), ("a", TypeError),
                                      (True, TypeError)])
def test_bad_sizes_are_refused(size, err):
    with pytest.raises(err, match="test_size"):
        temporal_train_test_split(np.arange(10), test_size=size)


def test_nothing_left_for_training_is_refused():
    with pytest.raises(ValueError, match="leaves 0 of the 5 time steps for training"):
        temporal_train_val_test_split(np.arange(5), val_size=2, test_size=3)
    with pytest.raises(TypeError, match="at least one array"):
        temporal_train_test_split(test_size=2)
