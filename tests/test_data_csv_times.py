"""CSV readers: fractional and unpadded times, pandas' missing markers and Periods, integer column
labels, and the long format's ids and repeated times (regressions found in review)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from rnnkit.data import DataFileError, read_csv_long, read_csv_wide


def wide(text, **kwargs):
    return read_csv_wide(io.StringIO(text), **kwargs)


def long(text, **kwargs):
    return read_csv_long(io.StringIO(text), **kwargs)


# ---- numeric times with a fractional part ----------------------------------------------


def test_evenly_spaced_fractional_times_are_regular_in_both_readers():
    out = wide("t,v\n0.5,1\n1.5,2\n2.5,3\n", time_column="t")
    np.testing.assert_array_equal(out.time, [0.5, 1.5, 2.5])
    ids, values, times = long("id,time,value\na,0.5,1\na,1.5,2\nb,0.5,1\n")
    assert ids == ["a", "b"]
    np.testing.assert_array_equal(times[0], [0.5, 1.5])
    np.testing.assert_array_equal(values[1], [1])


def test_a_gap_among_fractional_times_is_found_and_filled_with_exact_times():
    with pytest.raises(DataFileError, match=r"line 5, column 't': gap in time: 1.5 is followed by 2.5, 1 step"):
        wide("t,v\n0.5,1\n1.0,2\n1.5,3\n2.5,5\n", time_column="t")
    out = wide("t,v\n0.1,1\n0.2,2\n0.3,3\n0.6,6\n", time_column="t", fill="interpolate")
    np.testing.assert_array_equal(out.time, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])  # the decimals, not 0.1 + k * 0.1
    np.testing.assert_allclose(out.values[:, 0], [1, 2, 3, 4, 5, 6])
    out = wide("t,v\n0.5,1\n1.5,2\n3.5,4\n", time_column="t", fill="ffill")
    np.testing.assert_array_equal(out.time, [0.5, 1.5, 2.5, 3.5])
    filled = long("id,time,value\na,0.5,1\na,2.5,3\nb,0.5,1\nb,1.5,2\n", fill="interpolate")
    np.testing.assert_array_equal(filled.times[0], [0.5, 1.5, 2.5])  # the step (1) pooled over both ids


def test_decimal_times_whose_floats_differ_by_rounding_are_still_regular():
    times = [0.1, 1.1, 2.1, 3.1, 4.1]  # 1.1 - 0.1 != 1.0 in floating point
    out = wide("t,v\n" + "".join(f"{t},{i}\n" for i, t in enumerate(times)), time_column="t")
    np.testing.assert_array_equal(out.time, times)


@pytest.mark.parametrize("times, shown", [([17, 18, 19, 20.5], "1.5 where the usual step is 1 (19 then 20.5)"),
                                          ([0, 1, 2, 2.5, 3.5], "0.5 where the usual step is 1 (2 then 2.5)")])
def test_a_fractional_step_among_whole_steps_is_still_refused(times, shown):
    text = "t,v\n" + "".join(f"{t},{i}\n" for i, t in enumerate(times))
    with pytest.raises(DataFileError, match=r"irregular time step: " + shown.replace("(", r"\(").replace(")", r"\)")):
        wide(text, time_column="t")
    with pytest.raises(DataFileError, match="irregular time step"):
        long("id,time,value\n" + "".join(f"a,{t},{i}\n" for i, t in enumerate(times)))


def test_times_with_many_decimals_are_only_checked_to_increase():
    thirds = [k / 3 for k in (0, 1, 2, 4)]  # 1/3 has no short decimal: no grid, no gap check
    np.testing.assert_array_equal(wide("t,v\n" + "".join(f"{t!r},1\n" for t in thirds), time_column="t").time,
                                  thirds)
    with pytest.raises(DataFileError, match="time goes backwards"):
        wide(f"t,v\n{thirds[2]!r},1\n{thirds[1]!r},2\n", time_column="t")


def test_unpadded_dates_are_dates_and_their_gaps_are_checked():
    with pytest.raises(DataFileError, match="line 4, column 't': gap in time: 2020-01-02 is followed by 2020-01-04"):
        wide("t,v\n2020-1-1,1\n2020-1-2,2\n2020-1-4,4\n", time_column="t")
    out = wide("t,v\n2020-1-1,1\n2020-1-2,2\n2020-1-4,4\n", time_column="t", fill="ffill")
    assert out.time.dtype == np.dtype("datetime64[D]") and str(out.time[2]) == "2020-01-03"
    assert str(wide("t,v\n2020-1,1\n2020-2,2\n", time_column="t").time[1]) == "2020-02"
    with pytest.raises(DataFileError, match="'2020-13-1' is not a date like the others"):
        wide("t,v\n2020-1-1,1\n2020-1-2,2\n2020-13-1,3\n", time_column="t")


# ---- pandas: NA, NaT, Periods, integer column labels ------------------------------------


def test_pandas_na_and_nat_are_missing_values():
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(io.StringIO("t,v\n1,1.5\n2,\n3,3.5\n"), dtype_backend="numpy_nullable")
    assert df["v"].tolist()[1] is pd.NA
    with pytest.raises(DataFileError, match="row 1, column 'v': missing value"):
        read_csv_wide(df, time_column="t")
    np.testing.assert_array_equal(read_csv_wide(df, time_column="t", fill="interpolate").values[:, 0], [1.5, 2.5, 3.5])
    ints = pd.DataFrame({"v": [1, 2, pd.NA]}, dtype="Int64")
    np.testing.assert_array_equal(read_csv_wide(ints, fill="ffill").values[:, 0], [1, 2, 2])
    nat = pd.DataFrame({"t": pd.to_datetime(["2020-01-01", None, "2020-01-03"]), "v": [1, 2, 3]})
    with pytest.raises(DataFileError, match="row 1, column 't': the time is missing"):
        read_csv_wide(nat, time_column="t")
    index = pd.DataFrame({"v": [1.0, 2, 3]}, index=pd.DatetimeIndex(["2020-01-01", None, "2020-01-03"]))
    with pytest.raises(DataFileError, match=r"^Cannot read .<DataFrame>.: the time index of row 1 \(counted from 0\) "
                                            r"is missing"):
        read_csv_wide(index)


def test_period_times_are_checked_and_returned_as_dates():
    pd = pytest.importorskip("pandas")
    months = pd.period_range("2020-01", periods=5, freq="M").delete(3)  # 2020-04 missing
    by_index = pd.DataFrame({"v": [1.0, 2, 3, 5]}, index=months)
    by_column = pd.DataFrame({"t": months, "v": [1.0, 2, 3, 5]})
    for df, kwargs in ((by_index, {}), (by_column, {"time_column": "t"})):
        with pytest.raises(DataFileError, match="gap in time: 2020-03 is followed by 2020-05"):
            read_csv_wide(df, **kwargs)
        values, time, _ = read_csv_wide(df, fill="interpolate", **kwargs)
        assert time.dtype == np.dtype("datetime64[M]") and [str(t) for t in time][3] == "2020-04"
        np.testing.assert_array_equal(values[:, 0], [1, 2, 3, 4, 5])
    quarters = pd.DataFrame({"v": [1.0, 2]}, index=pd.period_range("2020Q1", periods=2, freq="Q"))
    assert [str(t) for t in read_csv_wide(quarters).time] == ["2020-01", "2020-04"]


def test_integer_column_labels_of_a_dataframe_are_labels_not_positions():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({1: [1.0, 2], 2: [3.0, 4]})
    np.testing.assert_array_equal(read_csv_wide(df, columns=[1]).values[:, 0], [1, 2])
    np.testing.assert_array_equal(read_csv_wide(df, columns=[2]).values[:, 0], [3, 4])
    np.testing.assert_array_equal(read_csv_wide(df, columns=[0]).values[:, 0], [1, 2])  # not a label: position
    years = pd.DataFrame({"t": [1, 2], 2019: [1.0, 2], 2020: [3.0, 4]})
    out = read_csv_wide(years, time_column="t", columns=[2020])
    assert out.columns == ["2020"]
    np.testing.assert_array_equal(out.values[:, 0], [3, 4])
    with pytest.raises(DataFileError, match="value column index 2021 is out of range \\(and not one of the column"):
        read_csv_wide(years, columns=[2021])
    shops = pd.DataFrame({0: ["a", "a"], 1: [1, 2], 2: [5.0, 6]})
    assert read_csv_long(shops, id_column=0, time_column=1, value_column=np.int64(2)).values[0].tolist() == [5, 6]


# ---- long format: ids, repeats, NumPy integers -----------------------------------------


def test_long_format_accepts_numpy_integer_columns():
    out = long("id,time,value\na,1,5\na,2,6\n", id_column=np.int64(0), time_column=np.int32(1),
               value_column=np.int64(2))
    assert out.ids == ["a"] and out.values[0].tolist() == [5, 6]


def test_a_missing_id_in_a_dataframe_is_refused_with_its_row():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"id": [1, 1, 2, np.nan], "time": [1, 2, 1, 3], "value": [1.0, 2, 3, 5]})
    with pytest.raises(DataFileError, match="row 3, column 'id': the series id is missing"):
        read_csv_long(df)
    df = pd.DataFrame({"id": ["a", pd.NA], "time": [1, 2], "value": [1.0, 2]}, dtype=object)
    with pytest.raises(DataFileError, match="row 1, column 'id': the series id is missing"):
        read_csv_long(df)
    assert long("id,time,value\nNA,1,1\n").ids == ["NA"]  # in a CSV file "NA" may be an id (North America)


def test_a_repeated_string_time_within_a_series_is_refused():
    with pytest.raises(DataFileError, match=r"line 4, column 'time': series 'a' has the time y twice \(also at line 2"):
        long("id,time,value\na,y,1\na,x,2\na,y,3\n")
    out = long("id,time,value\na,y,1\nb,y,2\na,x,3\n")  # the same label in two series is fine
    assert [list(t) for t in out.times] == [["y", "x"], ["y"]]


# ---- review: big whole-number times, season labels, time zones, empty columns -----------


def test_hourly_epoch_nanosecond_times_have_their_gap_found_and_filled():
    hour = 3_600_000_000_000
    times = [1_609_459_200_000_000_000 + k * hour for k in range(10) if k != 6]  # above 2**53: still exact
    text = "t,v\n" + "".join(f"{t},{i}\n" for i, t in enumerate(times))
    with pytest.raises(DataFileError, match="line 8, column 't': gap in time: .* 1 step"):
        wide(text, time_column="t")
    out = wide(text, time_column="t", fill="ffill")
    assert len(out.time) == 10 and int(out.time[6]) == times[5] + hour


def test_season_labels_stay_labels_but_a_typo_among_dates_is_refused():
    seasons = [f"{y}-{(y + 1) % 100:02d}" for y in range(2005, 2015)]  # '2012-13' on: not YYYY-MM
    out = wide("season,goals\n" + "".join(f"{s},{i}\n" for i, s in enumerate(seasons)), time_column="season")
    assert list(out.time) == seasons
    quarters = [str(np.datetime64("2000-01") + 3 * i) for i in range(8)]
    quarters[5] = "2001-13"
    with pytest.raises(DataFileError, match="line 7, column 't': '2001-13' is not a date like the others"):
        wide("t,v\n" + "".join(f"{q},{i}\n" for i, q in enumerate(quarters)), time_column="t")
    days = [str(np.datetime64("2000-01-01") + i) for i in range(6)][::-1]  # rows in any order (long files)
    with pytest.raises(DataFileError, match="'2000-01-0x' is not a date"):
        long("id,time,value\n" + "".join(f"a,{d},{i}\n" for i, d in enumerate(days + ["2000-01-0x"])))



def test_a_typo_among_irregular_dates_is_refused_and_seasons_that_look_like_months_stay_labels():
    events = ["2020-01-03", "2020-02-17", "2020-02-20", "2020-0x-05", "2020-06-30", "2020-09-01"]
    with pytest.raises(DataFileError, match="line 5, column 't': '2020-0x-05' is not a date like the others"):
        wide("t,v\n" + "".join(f"{e},{i}\n" for i, e in enumerate(events)), time_column="t")
    seasons = [f"{y}-{(y + 1) % 100:02d}" for y in range(2005, 2011)]  # '2005-06' .. '2010-11': all valid months
    out = wide("season,goals\n" + "".join(f"{s},{i}\n" for i, s in enumerate(seasons)), time_column="season")
    assert list(out.time) == seasons


@pytest.mark.parametrize("step", [1, 1_000_000])  # 1 ns, 1 ms
def test_epoch_nanosecond_times_keep_every_digit(step):
    times = [1_609_459_200_123_456_789 + k * step for k in range(6)]  # float64 would round them
    out = wide("t,v\n" + "".join(f"{t},{i}\n" for i, t in enumerate(times)), time_column="t")
    assert out.time.dtype == np.int64 and out.time.tolist() == times

def test_daily_times_with_a_zone_are_read_as_wall_clock_times_across_a_dst_change():
    pd = pytest.importorskip("pandas")
    idx = pd.date_range("2021-03-25", periods=8, freq="D", tz="Europe/Paris")  # 2021-03-28: 23 hours
    text = "t,v\n" + "".join(f"{ts.isoformat()},{i}\n" for i, ts in enumerate(idx))  # '...T00:00:00+01:00'
    expected = np.arange("2021-03-25", "2021-04-02", dtype="datetime64[D]")
    np.testing.assert_array_equal(wide(text, time_column="t").time, expected)
    df = pd.DataFrame({"t": idx, "v": np.arange(8.0)})
    np.testing.assert_array_equal(read_csv_wide(df, time_column="t").time, expected)
    np.testing.assert_array_equal(read_csv_wide(df.set_index("t")).time, expected)
    assert str(wide("t,v\n2021-01-01T00:00Z,1\n2021-01-02T00:00 -0500,2\n", time_column="t").time[1]) == \
        "2021-01-02"  # all at midnight: wall-clock dates


def test_an_irregular_date_step_is_shown_with_its_unit():
    text = "t,v\n2021-01-01T00:00,1\n2021-01-02T00:00,2\n2021-01-03T00:00,3\n2021-01-03T23:00,4\n"
    with pytest.raises(DataFileError, match="irregular time step: 23 hours where the usual step is 1 day"):
        wide(text, time_column="t")


@pytest.mark.parametrize("fill", ["ffill", "interpolate"])
def test_a_column_with_no_value_is_refused_by_the_readers_under_fill(fill):
    with pytest.raises(DataFileError, match=rf"^Cannot read '<stream>', column 'b': no value in this column \(every "
                                            rf"cell is empty or NA\), so fill='{fill}' has nothing to fill it from"):
        wide("t,a,b\n1,1,\n2,,NA\n3,3,\n", time_column="t", fill=fill)
    with pytest.raises(DataFileError, match=r"^Cannot read '<stream>', line 4, column 'b': series 'q' has no value "
                                            r"in this column"):
        long("id,time,a,b\np,1,1,2\np,2,2,\nq,1,1,\nq,2,,\n", value_column=["a", "b"], fill=fill)
