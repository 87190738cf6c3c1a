"""Data layer, second review: fraction rounding, bad targets and inputs, scikit-learn signatures,
padding dtypes, per-series messages, CSV encodings and headers, and malformed ``.ts`` values."""

from __future__ import annotations

import io

import numpy as np
import pytest

from rnnkit.data import (DataFileError, MinMaxScaler, PerSeriesScaler, StandardScaler, fill_missing, last_window,
                         pad_sequences, read_csv_long, read_csv_wide, read_ts, sliding_windows,
                         temporal_train_test_split, temporal_train_val_test_split)


# -- split -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,size,held_out", [(100, 0.07, 7), (50, 0.14, 7), (25, 0.28, 7), (75, 0.68, 51),
                                             (10, np.float32(0.1), 1), (10, 0.15, 2)])
def test_a_fraction_is_taken_as_written_before_rounding_up(n, size, held_out):
    # 0.07 * 100 == 7.000000000000001 in floats: rounding that up gave 8 test steps
    train, test = temporal_train_test_split(np.arange(n), test_size=size)
    assert (len(train), len(test)) == (n - held_out, held_out)
    np.testing.assert_array_equal(np.concatenate([train, test]), np.arange(n))
    train, val, test = temporal_train_val_test_split(np.arange(n), val_size=size, test_size=1)
    assert (len(val), len(test)) == (held_out, 1)


def test_a_list_of_sequences_of_different_lengths_is_split_as_lists():
    seqs = [np.arange(3.0), np.arange(2.0), np.arange(4.0), np.arange(1.0)]
    labels = np.array([0, 1, 0, 1])
    tr, te, y_tr, y_te = temporal_train_test_split(seqs, labels, test_size=0.25)
    assert isinstance(tr, list) and [len(s) for s in tr] == [3, 2, 4] and len(te) == 1
    assert te[0] is seqs[3] and y_tr.tolist() == [0, 1, 0] and y_te.tolist() == [1]


# -- windows ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", [1.0, [], [0, 1.5], "a", 2, [-3]])
def test_a_target_that_is_not_a_column_index_is_refused_by_name(target):
    with pytest.raises(ValueError, match=r"'target' parameter of sliding_windows .* non-empty list"):
        sliding_windows(np.zeros((10, 2)), lookback=3, target=target)


def test_a_series_with_no_channel_is_refused():
    with pytest.raises(ValueError, match=r"sliding_windows expected a series with at least one channel.*\(10, 0\)"):
        sliding_windows(np.zeros((10, 0)), lookback=3)
    with pytest.raises(ValueError, match="last_window expected a series with at least one channel"):
        last_window(np.zeros((10, 0)), lookback=3)


# -- fill_missing ----------------------------------------------------------------------------------
@pytest.mark.parametrize("values,dtype", [(np.array(["a", "b"]), "<U1"), (np.array([True, False]), "bool"),
                                          (np.array([1j, np.nan]), "complex128")])
def test_fill_missing_refuses_values_that_are_not_real_numbers(values, dtype):
    with pytest.raises(TypeError, match=rf"fill_missing expected .*'values'.* dtype {dtype}"):
        fill_missing(values)


def test_fill_missing_refuses_an_infinite_value_instead_of_spreading_it():
    # interpolating next to inf gave inf, and between -inf and inf NaN, in a result said to have no NaN
    with pytest.raises(ValueError, match=r"infinite value at index 3"):
        fill_missing(np.array([-1.0, np.nan, 2.0, np.inf]))
    with pytest.raises(ValueError, match=r"infinite value at index \(1, 0\)"):
        fill_missing(np.array([[np.nan], [np.inf], [-np.inf]]))
    with pytest.raises(ValueError, match="one name per column"):
        fill_missing(np.array([[1.0, np.nan], [2.0, 3.0]]), names=["a"])
    np.testing.assert_array_equal(fill_missing([1, None, 3]), [1.0, 2.0, 3.0])


# -- scalers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
def test_a_multichannel_scaler_refuses_a_1d_array(cls):
    x = np.random.default_rng(0).normal(size=(40, 3))
    sc = cls().fit(x)
    # a (3,) array was read as one step of the 3 channels: each value scaled by another channel
    with pytest.raises(ValueError, match=r"got a 1-D array of shape \(3,\).*x.reshape\(1, -1\)"):
        sc.transform(x[:3, 0])
    with pytest.raises(ValueError, match="1-D array"):
        sc.inverse_transform(np.zeros(3))
    np.testing.assert_allclose(sc.transform(x[:1]), sc.transform(x)[:1])


def test_scalers_have_scikit_learns_signatures_and_work_in_a_pipeline():
    skl = pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler as SkMinMax
    from sklearn.preprocessing import StandardScaler as SkStandard

    x = np.random.default_rng(1).normal(loc=[3.0, -2.0], scale=[2.0, 0.1], size=(60, 2))
    ours = make_pipeline(MinMaxScaler(feature_range=(-1, 1)), StandardScaler()).fit(x, np.zeros(60))
    theirs = make_pipeline(SkMinMax(feature_range=(-1, 1)), SkStandard()).fit(x)
    np.testing.assert_allclose(ours.transform(x), theirs.transform(x), atol=1e-12)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(x)), x, rtol=1e-12)
    copy = clone(MinMaxScaler(feature_range=(2, 3)))
    assert copy.get_params(deep=False) == {"feature_range": (2, 3)} and not hasattr(copy, "scale_")
    assert MinMaxScaler().set_params(feature_range=(0, 2)).fit_transform(np.array([1.0, 3.0]), None).max() == 2.0
    with pytest.raises(ValueError, match=r"Invalid parameter 'with_mean' for StandardScaler"):
        StandardScaler().set_params(with_mean=False)
    with pytest.raises(skl.exceptions.NotFittedError):
        make_pipeline(StandardScaler()).transform(x)


def test_per_series_errors_name_the_series_and_the_parameter():
    sc = PerSeriesScaler().fit([np.ones((4, 2)), np.arange(12.0).reshape(4, 3)])
    with pytest.raises(ValueError, match=r"^Series 1: StandardScaler.transform expected .* 3 channels"):
        sc.transform([np.ones((4, 2)), np.ones((4, 2))])
    with pytest.raises(ValueError, match=r"^Series 0: MinMaxScaler.inverse_transform"):
        PerSeriesScaler("minmax").fit([np.ones((4, 2))]).inverse_transform([np.ones((4, 3))])
    with pytest.raises(ValueError, match=r"^The 'scaler' parameter of PerSeriesScaler"):
        PerSeriesScaler("robust").fit([np.ones(3)])


# -- padding ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("seqs", [[np.array(["ab", "c"]), np.array(["d"])], [np.array([1, None]), np.array([3])],
                                  [np.array([1j, 2]), np.array([3])]])
def test_padding_refuses_sequences_that_are_not_numbers(seqs):
    # strings were padded with '0.', objects with 0.0 beside None
    with pytest.raises(TypeError, match=r"pad_sequences expected sequences of numbers .* sequence 0"):
        pad_sequences(seqs)
    with pytest.raises(TypeError, match="sequences of numbers"):
        pad_sequences(seqs, dtype=float)


@pytest.mark.parametrize("value", [None, "x", True])
def test_a_padding_value_that_is_not_a_number_is_refused_for_float_x(value):
    # None became NaN and "x" raised NumPy's "could not convert string to float"
    with pytest.raises(TypeError, match=r"'value' parameter of pad_sequences must be a number"):
        pad_sequences([np.array([1.0, 2.0]), np.array([3.0])], value=value)


def test_padding_refuses_values_a_narrower_float_dtype_turns_into_inf():
    with pytest.raises(ValueError, match=r"value=1e\+300: it overflows X's dtype float32"):
        pad_sequences([np.ones(2, np.float32), np.ones(1, np.float32)], value=1e300)
    with pytest.raises(ValueError, match=r"sequence 1 in float16: its value 70000.0 at index 1 overflows"):
        pad_sequences([np.ones(2), np.array([1.0, 7e4])], dtype=np.float16)
    X, _ = pad_sequences([np.ones(2), np.array([1.0, -6e4, np.inf])], dtype=np.float16, value=-np.inf)
    assert X.dtype == np.float16 and X[0].tolist() == [1, 1, -np.inf] and X[1, 2] == np.inf


def test_padding_dtype_must_be_one_of_numbers_and_bool_holds_only_bools():
    for dtype in ("foo", str, object):
        with pytest.raises(TypeError, match=r"'dtype' parameter of pad_sequences must be None .* dtype of numbers"):
            pad_sequences([[1, 2], [3]], dtype=dtype)
    with pytest.raises(TypeError, match=r"cannot store sequence 0 \(int64\) in bool"):
        pad_sequences([np.array([3, 2]), np.array([3])], dtype=bool)   # 3 and 2 became True
    with pytest.raises(TypeError, match="bool X with value=2"):
        pad_sequences([np.array([True]), np.array([True, False])], value=2)
    X, lengths = pad_sequences([np.array([True]), np.array([True, False])])
    assert X.dtype == bool and X.tolist() == [[True, False], [True, False]] and lengths.tolist() == [1, 2]
    with pytest.raises(ValueError, match="rows of different lengths"):
        pad_sequences([[[1, 2], [3]], [[1, 2]]])


# -- CSV readers -----------------------------------------------------------------------------------
def test_a_byte_order_mark_kept_by_a_text_stream_is_not_part_of_the_first_name():
    text = "\ufeffmonth,sales\n2020-01,1\n2020-02,2\n"
    values, time, columns = read_csv_wide(io.StringIO(text), time_column="month")
    assert columns == ["sales"] and str(time[1]) == "2020-02"
    assert read_csv_wide(io.StringIO("\ufeffa,b\n1,2\n")).columns == ["a", "b"]
    ids, _, _ = read_csv_long(io.StringIO("\ufeffid,time,value\nx,1,1\n"))
    assert ids == ["x"]


def test_a_file_that_is_not_utf8_is_a_data_file_error(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("t,a\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataFileError, match=r"latin1.csv', line 2: byte 0xe9 \(offset 9\) is not UTF-8 text.*"
                                            r"encoding='latin-1'") as info:
        read_csv_wide(str(path))
    assert info.value.path == str(path)
    with pytest.raises(DataFileError, match="not UTF-8"):
        read_csv_long(open(path, encoding="utf-8", newline=""))


@pytest.mark.parametrize("cell,advice", [("1,5", r"decimal comma: write 1\.5"), ("-3,25", r"write -3\.25"),
                                         ("1.234,5", r"write 1234\.5"), ("12,345,678", "Remove the thousands"),
                                         ("1,000", r"thousands separators \(1000\), or .* point \(1\.000\)")])
def test_a_decimal_comma_is_named_as_such(cell, advice):
    # "1,5" in a ';'-separated file was said to hold thousands separators
    with pytest.raises(DataFileError, match=rf"got '{cell}'\. .*{advice}"):
        read_csv_wide(io.StringIO(f"a;b\n{cell};1\n"), delimiter=";")


def test_an_unnamed_column_is_refused_as_a_series_unless_named_by_position():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=[10, 11, 12])
    text = frame.to_csv()                        # ",a\n10,1.0\n...": the index has no name
    # the index was read as a series: values [[10, 1], [11, 2], [12, 3]]
    with pytest.raises(DataFileError, match=r"line 1: column 0 has no name .* time_column=0") as info:
        read_csv_wide(io.StringIO(text))
    assert info.value.line == 1
    values, time, columns = read_csv_wide(io.StringIO(text), time_column=0)
    assert columns == ["a"] and time.tolist() == [10, 11, 12] and values[:, 0].tolist() == [1, 2, 3]
    assert read_csv_wide(io.StringIO(text), columns=["a"]).values.shape == (3, 1)
    with pytest.raises(DataFileError, match=r"line 3: column 0 has no name"):
        read_csv_wide(io.StringIO("\n\n" + text))


def test_a_column_asked_for_twice_is_refused():
    text = "t,a,b\n1,2,3\n2,3,4\n"
    with pytest.raises(DataFileError, match=r"value columns \['a'\] are asked for more than once"):
        read_csv_wide(io.StringIO(text), time_column="t", columns=["a", 1])
    with pytest.raises(DataFileError, match=r"value columns \['b'\] are asked for more than once"):
        read_csv_long(io.StringIO("id,time,b\nx,1,1\n"), value_column=["b", "b"])


def test_long_value_column_must_name_a_column():
    text = "id,time,x\na,1,1\na,2,2\n"
    with pytest.raises(ValueError, match=r"'value_column' parameter of read_csv_long must name at least one"):
        read_csv_long(io.StringIO(text), value_column=[])
    with pytest.raises(DataFileError, match="no value column named None"):
        read_csv_long(io.StringIO(text), value_column=None)


def test_a_dataframe_without_columns_is_described_as_such():
    pd = pytest.importorskip("pandas")
    with pytest.raises(DataFileError, match=r"no value columns; the table has no columns\.$"):
        read_csv_wide(pd.DataFrame(index=[3, 4]))


# -- .ts -------------------------------------------------------------------------------------------
HEAD = "@problemName T\n@univariate true\n@equalLength true\n@seriesLength 3\n@classLabel true a b\n@data\n"


@pytest.mark.parametrize("cell", ["inf", "-Infinity"])
def test_an_infinite_ts_value_is_refused_naming_line_and_dimension(cell):
    with pytest.raises(DataFileError, match=rf"line 8, column 'dimension 0': value 1 is '{cell}', not a finite"):
        read_ts(io.StringIO(HEAD + f"1,2,3:a\n4,{cell},6:b\n"))
    with pytest.raises(DataFileError, match=rf"line 3: expected a finite numeric target .* got '{cell}'"):
        read_ts(io.StringIO(f"@targetLabel true\n@data\n1,2:{cell}\n"))


@pytest.mark.parametrize("text,line,match", [
    ("@classLabel true a b a\n@data\n1:a\n", 1, r"labels \['a'\] more than once"),
    ("@classLabel true a b\n@targetLabel true\n@data\n1:a\n", 3, "both @classLabel true and @targetLabel true"),
    ("@classLabel false\n@data\n(0,1),(1,2)\n", 3, "timestamped"),
])
def test_contradictory_ts_headers_and_timestamped_values_are_named(text, line, match):
    with pytest.raises(DataFileError, match=match) as info:
        read_ts(io.StringIO(text))
    assert info.value.line == line


def test_a_binary_stream_is_refused_with_the_fix():
    # read_csv_wide said "line 0: not a valid CSV file"; read_ts raised str.startswith's TypeError
    with pytest.raises(TypeError, match=r"got a binary one \(BytesIO\)\. Open the file in text mode"):
        read_csv_wide(io.BytesIO(b"a\n1\n"))
    with pytest.raises(TypeError, match=r"Expected a text stream, got one that reads bytes"):
        read_ts(io.BytesIO(b"@data\n1,2\n"))
