"""Padding variable-length sequences to a batch with lengths, and back."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data import fill_missing, pad_sequences, unpad_sequences


def test_pad_then_unpad_round_trips():
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(t, 3)) for t in (5, 2, 7)]
    X, lengths = pad_sequences(seqs, value=-1.0)
    assert X.shape == (3, 7, 3) and X.dtype == np.float64
    np.testing.assert_array_equal(lengths, [5, 2, 7])
    assert lengths.dtype == np.int64
    assert np.all(X[1, 2:] == -1.0)
    for a, b in zip(unpad_sequences(X, lengths), seqs):
        np.testing.assert_array_equal(a, b)


def test_token_ids_stay_integers_and_one_dimensional():
    X, lengths = pad_sequences([[1, 2, 3], [4]])
    assert X.dtype.kind == "i" and X.shape == (2, 3)
    np.testing.assert_array_equal(X, [[1, 2, 3], [4, 0, 0]])
    X32, _ = pad_sequences([np.ones((2, 1))], dtype="float32")
    assert X32.dtype == np.float32


def test_padded_batch_feeds_a_recurrent_layer():
    import rnnkit

    seqs = [np.random.default_rng(i).normal(size=(t, 2)) for i, t in enumerate((4, 6))]
    X, lengths = pad_sequences(seqs)
    layer = rnnkit.GRU(2, 3, seed=0, dtype="float64")
    y, h = layer(X, lengths=lengths)
    y0, h0 = layer(seqs[0][None])
    np.testing.assert_allclose(h[0, 0], h0[0, 0], rtol=1e-12)


def test_bad_padding_input_is_refused():
    with pytest.raises(TypeError, match="non-empty list"):
        pad_sequences(np.ones((2, 3, 1)))
    with pytest.raises(ValueError, match="same number of channels"):
        pad_sequences([np.ones((2, 1)), np.ones((2, 2))])
    with pytest.raises(ValueError, match=r"\(T_n,\)"):
        pad_sequences([np.ones(2), np.ones((2, 1))])
    with pytest.raises(ValueError, match="empty one at index 1"):
        pad_sequences([np.ones(2), np.ones(0)])
    with pytest.raises(ValueError, match="lengths"):
        unpad_sequences(np.ones((2, 3)), [1, 4])


def test_fill_missing_methods():
    v = np.array([np.nan, 1.0, np.nan, np.nan, 4.0, np.nan])
    np.testing.assert_array_equal(fill_missing(v, "ffill"), [1, 1, 1, 1, 4, 4])
    np.testing.assert_array_equal(fill_missing(v, "interpolate"), [1, 1, 2, 3, 4, 4])
    two = np.stack([v, np.arange(6.0)], axis=1)
    np.testing.assert_array_equal(fill_missing(two, "interpolate")[:, 1], np.arange(6.0))
    with pytest.raises(ValueError, match="no observed value"):
        fill_missing(np.array([[np.nan, 1.0]] * 3), "ffill", names=["a", "b"])
    with pytest.raises(ValueError, match="'method' parameter"):
        fill_missing(v, "mean")


@pytest.mark.parametrize("value", [np.nan, -1.5, 2**63, "x"])
def test_a_padding_value_that_integer_ids_cannot_hold_is_refused(value):
    with pytest.raises(ValueError, match=r"value=.*integer dtype int64.*Pass dtype=float"):
        pad_sequences([[1, 2, 3], [4]], value=value)
    with pytest.raises(ValueError, match=r"uint8, which holds only whole numbers in \[0, 255\]"):
        pad_sequences([np.array([1, 2], dtype=np.uint8), np.array([3], dtype=np.uint8)], value=-1)
    X, _ = pad_sequences([[1, 2, 3], [4]], value=-1.0)  # a whole float fits: -1
    assert X.dtype == np.int64 and X[1].tolist() == [4, -1, -1]
    X, _ = pad_sequences([[1, 2, 3], [4]], value=np.nan, dtype=float)
    assert np.isnan(X[1, 1:]).all()


def test_japanese_vowels_pad_to_the_shape_the_guide_shows():
    from pathlib import Path

    from rnnkit.datasets import load_japanese_vowels

    X, lengths = pad_sequences(load_japanese_vowels()[0])
    assert X.shape == (270, 26, 12) and lengths.max() == 26
    guide = (Path(__file__).resolve().parents[1] / "docs" / "data.md").read_text()
    assert "pad_sequences(X_train)                         # (270, 26, 12), (270,)" in guide


def test_fill_missing_refuses_an_empty_series():
    with pytest.raises(ValueError, match=r"fill_missing expected at least one time step, got .* shape \(0,\)"):
        fill_missing(np.array([]))


@pytest.mark.parametrize("seqs, dtype, shown", [
    ([[1, 300], [2]], "int8", r"sequence 0 .* int8: its value 300 at index 1 is not a whole number in \[-128, 127\]"),
    ([[1], [-1, 2]], "uint8", r"sequence 1 .* uint8: its value -1 at index 0"),
    ([[1.0, 1.5]], "int64", r"its value 1.5 at index 1"),
    ([[1.0, np.nan]], "int64", r"its value nan at index 1"),
    ([[2.0**63]], "int64", r"its value 9.22\d*e\+18 at index 0"),
    ([np.ones((2, 2)), np.full((1, 2), 128.0)], "int8", r"sequence 1 .* its value 128.0 at index \(0, 0\)"),
])
def test_values_an_integer_dtype_cannot_hold_are_refused_not_wrapped(seqs, dtype, shown):
    with pytest.raises(ValueError, match=shown + r".*Pass a wider dtype"):
        pad_sequences([np.asarray(s) for s in seqs], dtype=dtype)


def test_values_an_integer_dtype_holds_are_kept_exactly():
    X, _ = pad_sequences([np.array([127.0, -128.0]), np.array([True])], dtype="int8")
    assert X.dtype == np.int8 and X.tolist() == [[127, -128], [1, 0]]
    with pytest.raises(TypeError, match=r"sequence 0 \(<U1\) in the integer dtype int64"):
        pad_sequences([np.array(["a"])], dtype=int)
