"""CSV readers (wide and long format) on small files: values, times, gaps, fills, and every
documented error naming the file, line and column."""

from __future__ import annotations

import io

import numpy as np
import pytest

from rnnkit.data import DataFileError, read_csv_long, read_csv_wide


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# ---- wide format ---------------------------------------------------------------------


def test_wide_with_monthly_time_column(tmp_path):
    path = write(tmp_path, "month,north,south\n2020-01,1.5,10\n2020-02,2.5,11\n2020-03,3.5,12\n")
    values, time, columns = read_csv_wide(path, time_column="month")
    assert values.shape == (3, 2) and values.dtype == np.float64
    np.testing.assert_array_equal(values[:, 1], [10, 11, 12])
    assert time.dtype == np.dtype("datetime64[M]") and str(time[0]) == "2020-01"
    assert columns == ["north", "south"]


def test_wide_without_time_column_and_column_selection(tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,3\n4,5,6\n")
    out = read_csv_wide(path)
    assert out.time is None and out.columns == ["a", "b", "c"]
    out = read_csv_wide(path, columns=["c", "a"])
    np.testing.assert_array_equal(out.values, [[3, 1], [6, 4]])


def test_first_of_month_dates_become_months_and_daily_dates_stay_days(tmp_path):
    path = write(tmp_path, "date,v\n2021-01-01,1\n2021-02-01,2\n2021-03-01,3\n")
    assert read_csv_wide(path, time_column="date").time.dtype == np.dtype("datetime64[M]")
    path = write(tmp_path, "date,v\n2021-01-01,1\n2021-01-02,2\n2021-01-03,3\n")
    assert read_csv_wide(path, time_column=0).time.dtype == np.dtype("datetime64[D]")


def test_numeric_and_string_time_columns(tmp_path):
    path = write(tmp_path, "year,v\n1950,1\n1951,2\n1952,3\n")
    np.testing.assert_array_equal(read_csv_wide(path, time_column="year").time, [1950, 1951, 1952])
    path = write(tmp_path, "when,v\nMon,1\nTue,2\n")
    assert list(read_csv_wide(path, time_column="when").time) == ["Mon", "Tue"]


def test_stream_semicolon_and_bom(tmp_path):
    out = read_csv_wide(io.StringIO("a;b\n1;2\n"), delimiter=";")
    np.testing.assert_array_equal(out.values, [[1, 2]])
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffa,b\n1,2\n".encode("utf-8"))
    assert read_csv_wide(str(path)).columns == ["a", "b"]
    with pytest.raises(DataFileError, match="delimiter=';'"):
        read_csv_wide(io.StringIO("a;b\n1;2\n"))


def test_missing_column_is_named_with_the_alternatives(tmp_path):
    path = write(tmp_path, "month,sales\n2020-01,1\n")
    with pytest.raises(DataFileError, match=r"data.csv'.*no time column named 'date'.*\['month', 'sales'\]"):
        read_csv_wide(path, time_column="date")
    with pytest.raises(DataFileError, match="no value column named 'price'"):
        read_csv_wide(path, time_column="month", columns=["price"])
    with pytest.raises(TypeError, match=r"columns=\['sales'\]"):
        read_csv_wide(path, columns="sales")


def test_non_numeric_value_names_file_line_and_column(tmp_path):
    path = write(tmp_path, "month,sales\n2020-01,1\n2020-02,12x\n")
    with pytest.raises(DataFileError) as info:
        read_csv_wide(path, time_column="month")
    err = info.value
    assert (err.line, err.column) == (3, "sales")
    assert "data.csv', line 3, column 'sales': expected a number, got '12x'" in str(err)
    path = write(tmp_path, 'a\n"1,000"\n')
    with pytest.raises(DataFileError, match="thousands separators"):
        read_csv_wide(path)
    path = write(tmp_path, "a\ninf\n")
    with pytest.raises(DataFileError, match="finite"):
        read_csv_wide(path)


def test_missing_values_are_refused_or_filled(tmp_path):
    path = write(tmp_path, "t,a,b\n1,1,NA\n2,,2\n3,3,3\n4,4,\n")
    with pytest.raises(DataFileError, match=r"line 2, column 'b': missing value.*fill='ffill'.*3 missing"):
        read_csv_wide(path, time_column="t")
    out = read_csv_wide(path, time_column="t", fill="interpolate")
    np.testing.assert_array_equal(out.values, [[1, 2], [2, 2], [3, 3], [4, 3]])
    out = read_csv_wide(path, time_column="t", fill="ffill")
    np.testing.assert_array_equal(out.values[:, 0], [1, 1, 3, 4])


def test_gaps_in_time_are_refused_or_inserted_and_filled(tmp_path):
    path = write(tmp_path, "month,v\n2020-01,1\n2020-02,2\n2020-05,5\n2020-06,6\n")
    gap = r"line 4, column 'month': gap in time: 2020-02 is followed by 2020-05, 2 step"
    with pytest.raises(DataFileError, match=gap):
        read_csv_wide(path, time_column="month")
    values, time, _ = read_csv_wide(path, time_column="month", fill="interpolate")
    np.testing.assert_array_equal(values[:, 0], [1, 2, 3, 4, 5, 6])
    assert [str(t) for t in time] == ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05", "2020-06"]
    values, _, _ = read_csv_wide(path, time_column="month", fill="ffill")
    np.testing.assert_array_equal(values[:, 0], [1, 2, 2, 2, 5, 6])


def test_times_out_of_order_repeated_or_irregular_are_refused(tmp_path):
    path = write(tmp_path, "t,v\n1,1\n3,2\n2,3\n")
    with pytest.raises(DataFileError, match="line 4.*time goes backwards.*Sort the rows"):
        read_csv_wide(path, time_column="t")
    path = write(tmp_path, "t,v\n1,1\n2,2\n2,3\n")
    with pytest.raises(DataFileError, match="repeated time"):
        read_csv_wide(path, time_column="t")
    path = write(tmp_path, "t,v\n0,1\n2,2\n4,3\n5,4\n")
    with pytest.raises(DataFileError, match="irregular time step"):
        read_csv_wide(path, time_column="t", fill="ffill")
    path = write(tmp_path, "t,v\n2020-01,1\n\n2020-02,\n")
    with pytest.raises(DataFileError, match="line 4"):  # blank line skipped, numbering kept
        read_csv_wide(path, time_column="t")


@pytest.mark.parametrize("bad", ["2002-0x", "2000-13", "hello", "2001/09", "2001"])
def test_an_odd_cell_among_dates_is_refused_not_read_as_labels(tmp_path, bad):
    months = [str(np.datetime64("2000-01") + i) for i in range(12)]
    months[7] = bad  # line 9
    path = write(tmp_path, "month,v\n" + "".join(f"{m},{i}\n" for i, m in enumerate(months)))
    with pytest.raises(DataFileError) as info:
        read_csv_wide(path, time_column="month")
    assert str(info.value).startswith(f"Cannot read '{path}', line 9, column 'month': {bad!r} is not a date like "
                                      "the others (e.g. '2000-01'). Correct it or remove the row")
    long = write(tmp_path, "id,time,value\n" + "".join(f"a,{m},{i}\n" for i, m in enumerate(months)), "long.csv")
    with pytest.raises(DataFileError, match=f"line 9, column 'time': {bad!r} is not a date"):
        read_csv_long(long)


def test_an_odd_cell_among_numbers_is_refused_but_labels_stay_labels(tmp_path):
    path = write(tmp_path, "t,v\n1,1\n2,2\nthree,3\n4,4\n")
    with pytest.raises(DataFileError, match=r"line 4, column 't': 'three' is not a number like the others \(e.g. "
                                            r"'1'\)"):
        read_csv_wide(path, time_column="t")
    path = write(tmp_path, "when,v\nMon,1\nTue,2\n2020-01,3\n")  # mostly labels: labels, unchecked
    assert list(read_csv_wide(path, time_column="when").time) == ["Mon", "Tue", "2020-01"]


@pytest.mark.parametrize("times", [[0, 1, 2, 3, 4.5, 5, 6, 7], [0, 1, 2, 3, 4.5, 5.5, 6.5, 7.5]])
def test_a_fractional_step_among_whole_number_steps_is_irregular(tmp_path, times):
    path = write(tmp_path, "t,v\n" + "".join(f"{t},{i}\n" for i, t in enumerate(times)))
    with pytest.raises(DataFileError, match=r"line 6, column 't': irregular time step: 1.5 where the usual step is "
                                            r"1 \(3 then 4.5\)\. Correct the time or remove the row"):
        read_csv_wide(path, time_column="t")
    path = write(tmp_path, "t,v\n0,1\n0.5,2\n1.0,3\n1.5,4\n")  # a regular fractional step is fine
    np.testing.assert_array_equal(read_csv_wide(path, time_column="t").time, [0, 0.5, 1, 1.5])


def test_malformed_files(tmp_path):
    with pytest.raises(DataFileError, match="empty"):
        read_csv_wide(write(tmp_path, ""))
    with pytest.raises(DataFileError, match="no data rows"):
        read_csv_wide(write(tmp_path, "a,b\n"))
    with pytest.raises(DataFileError, match="line 3.*expected 2 fields"):
        read_csv_wide(write(tmp_path, "a,b\n1,2\n3\n"))
    with pytest.raises(DataFileError, match="duplicate column names"):
        read_csv_wide(write(tmp_path, "a,a\n1,2\n"))
    with pytest.raises(DataFileError, match="time is missing"):
        read_csv_wide(write(tmp_path, "t,v\n,1\n"), time_column="t")
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_csv_wide(str(tmp_path / "nope.csv"))
    with pytest.raises(ValueError, match="'fill'"):
        read_csv_wide(write(tmp_path, "a\n1\n"), fill="zero")


def test_dataframes_are_accepted_and_errors_name_the_row():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=pd.date_range("2020-01-01", periods=3, freq="MS"))
    values, time, columns = read_csv_wide(df)
    assert time.dtype == np.dtype("datetime64[M]") and columns == ["a"]
    df = pd.DataFrame({"t": [1, 2, 3], "a": [1.0, None, 3.0]})
    with pytest.raises(DataFileError, match=r"<DataFrame>', row 1, column 'a': missing value"):
        read_csv_wide(df, time_column="t")
    np.testing.assert_array_equal(read_csv_wide(df, time_column="t", fill="interpolate").values[:, 0], [1, 2, 3])
    with pytest.raises(DataFileError, match="row 1.*expected a number"):
        read_csv_wide(pd.DataFrame({"a": [1.0, "x"]}))


# ---- long format ---------------------------------------------------------------------


LONG = """id,time,value
north,2020-02,2
south,2020-01,10
north,2020-01,1
south,2020-02,11
south,2020-03,12
"""


def test_long_format_groups_by_id_and_sorts_by_time(tmp_path):
    ids, values, times = read_csv_long(write(tmp_path, LONG))
    assert ids == ["north", "south"]
    np.testing.assert_array_equal(values[0], [1, 2])
    np.testing.assert_array_equal(values[1], [10, 11, 12])
    assert [str(t) for t in times[0]] == ["2020-01", "2020-02"]


def test_long_format_custom_columns_and_several_values(tmp_path):
    path = write(tmp_path, "store;day;sales;visits\n1;1;5;50\n1;2;6;60\n2;1;7;70\n", "shops.csv")
    out = read_csv_long(path, id_column="store", time_column="day", value_column=["sales", "visits"], delimiter=";")
    assert out.ids == ["1", "2"]
    assert out.values[0].shape == (2, 2)
    np.testing.assert_array_equal(out.values[0][:, 1], [50, 60])


def test_long_format_errors_name_the_line(tmp_path):
    with pytest.raises(DataFileError, match="no value column named 'value'"):
        read_csv_long(write(tmp_path, "id,time,y\na,1,2\n"))
    path = write(tmp_path, "id,time,value\na,1,1\na,2,x\n")
    with pytest.raises(DataFileError, match="line 3, column 'value': expected a number"):
        read_csv_long(path)
    path = write(tmp_path, "id,time,value\na,1,1\nb,1,5\na,1,2\n")
    with pytest.raises(DataFileError, match=r"line 4.*series 'a' has the time 1.0 twice \(also at line 2\)"):
        read_csv_long(path)
    path = write(tmp_path, "id,time,value\na,1,1\na,2,\na,3,3\n")
    with pytest.raises(DataFileError, match="line 3, column 'value': missing value"):
        read_csv_long(path)
    np.testing.assert_array_equal(read_csv_long(path, fill="interpolate").values[0], [1, 2, 3])
    path = write(tmp_path, "id,time,value\na,1,1\na,4,4\nb,1,5\nb,2,6\nb,3,7\n")
    with pytest.raises(DataFileError, match="line 3, column 'time': gap in time: 1 is followed by 4,"):
        read_csv_long(path)  # the step (1) comes from all series, so a's gap is seen
    filled = read_csv_long(path, fill="interpolate")
    np.testing.assert_array_equal(filled.values[0], [1, 2, 3, 4])
    np.testing.assert_array_equal(filled.times[0], [1, 2, 3, 4])
    with pytest.raises(DataFileError, match="series id is missing"):
        read_csv_long(write(tmp_path, "id,time,value\n,1,1\n"))


def test_long_format_from_dataframe():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"id": [7, 7, 8], "time": pd.to_datetime(["2020-01-02", "2020-01-01", "2020-01-01"]),
                       "value": [2.0, 1.0, 3.0]})
    ids, values, times = read_csv_long(df)
    assert ids == [7, 8]
    np.testing.assert_array_equal(values[0], [1, 2])
    assert times[0].dtype == np.dtype("datetime64[D]")
