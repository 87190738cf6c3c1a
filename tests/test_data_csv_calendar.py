"""Time columns on a calendar: business days (no gap at weekends, continued Friday to Monday)
and times with a zone (daily: wall-clock dates; sub-daily: UTC, regular across daylight saving)."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

from rnnkit.data import DataFileError, read_csv_long, read_csv_wide
from rnnkit.data._time import next_times


def wide(text, **kwargs):
    return read_csv_wide(io.StringIO(text), **kwargs)


def csv(times, header="t,v"):
    return header + "\n" + "".join(f"{t},{i}\n" for i, t in enumerate(times))


# 2024-01-01 is a Monday; 2024-01-15 (a Monday) is left out as a holiday below
BDAYS = np.busday_offset("2024-01-01", np.arange(20)).astype("datetime64[D]")


def test_business_days_have_no_gap_at_weekends():
    out = wide(csv(BDAYS), time_column="t")
    np.testing.assert_array_equal(out.time, BDAYS)
    np.testing.assert_array_equal(out.values[:, 0], np.arange(20.0))


def test_a_missing_business_day_is_a_gap_that_fill_inserts_on_a_weekday():
    holiday = np.datetime64("2024-01-15")
    days = BDAYS[BDAYS != holiday]
    with pytest.raises(DataFileError, match=r"line 12, column 't': gap in time: 2024-01-12 is followed by 2024-01-16, "
                                            r"1 step\(s\) missing .* leave the time column out"):
        wide(csv(days), time_column="t")
    out = wide(csv(days), time_column="t", fill="interpolate")
    np.testing.assert_array_equal(out.time, BDAYS)  # the holiday only, no weekend
    assert out.values[10, 0] == 9.5


def test_long_format_pools_business_days_over_its_series():
    rows = [f"{k},{t},{i}" for k, n in (("a", 20), ("b", 12)) for i, t in enumerate(BDAYS[:n]) if t != BDAYS[6]]
    ids, values, times = read_csv_long(io.StringIO("id,time,value\n" + "\n".join(rows) + "\n"), fill="ffill")
    assert ids == ["a", "b"]
    np.testing.assert_array_equal(times[0], BDAYS)
    np.testing.assert_array_equal(times[1], BDAYS[:12])
    assert values[1][6] == values[1][5] == 5.0


def test_business_days_continue_on_the_next_monday():
    ahead = next_times(BDAYS[:5 * 3], 4)  # ends Friday 2024-01-19
    np.testing.assert_array_equal(ahead, np.array(["2024-01-22", "2024-01-23", "2024-01-24", "2024-01-25"],
                                                  dtype="datetime64[D]"))
    every_second = BDAYS[::2]  # a step of 2 business days
    assert str(next_times(every_second, 1)[0]) == str(np.busday_offset(every_second[-1], 2))


@pytest.mark.parametrize("days", [
    np.arange("2024-01-01", "2024-03-01", 7, dtype="datetime64[D]"),   # Mondays: a step of 7 days
    np.arange("2024-01-01", "2024-01-20", dtype="datetime64[D]"),       # every day, weekends too
])
def test_weekly_and_daily_dates_stay_on_the_calendar(days):
    out = wide(csv(days), time_column="t")
    np.testing.assert_array_equal(out.time, days)
    np.testing.assert_array_equal(next_times(days, 2), days[-1] + (days[1] - days[0]) * np.arange(1, 3))
    with pytest.raises(DataFileError, match="gap in time") as info:
        wide(csv(np.delete(days, 2)), time_column="t")
    assert "business days" not in str(info.value)


def test_a_weekend_day_among_weekdays_keeps_calendar_days():
    days = np.concatenate([BDAYS[:5], [np.datetime64("2024-01-06")], BDAYS[5:10]])  # one Saturday
    with pytest.raises(DataFileError, match=r"gap in time: 2024-01-06 is followed by 2024-01-08, 1 step"):
        wide(csv(days), time_column="t")


# ---- times with a zone ------------------------------------------------------------------


def test_hourly_times_with_a_zone_are_read_in_utc_across_both_daylight_saving_changes():
    pd = pytest.importorskip("pandas")
    for start in ("2021-03-27 22:00", "2021-10-30 22:00"):  # Paris: 02:00 skipped, then 02:00 twice
        idx = pd.date_range(start, periods=12, freq="h", tz="Europe/Paris")
        expected = idx.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[s]")
        out = wide(csv(ts.isoformat() for ts in idx), time_column="t")  # '...T01:00:00+01:00'
        np.testing.assert_array_equal(out.time, expected)
        df = pd.DataFrame({"v": np.arange(12.0)}, index=idx)
        np.testing.assert_array_equal(read_csv_wide(df).time.astype("datetime64[s]"), expected)


@pytest.mark.parametrize("cell, utc", [
    ("2021-01-01 10:30 UTC", "2021-01-01T10:30"),
    ("2021-01-01T10:30 GMT", "2021-01-01T10:30"),
    ("2021-01-01 10:30 +01:00", "2021-01-01T09:30"),
    ("2021-01-01T05:30-0530", "2021-01-01T11:00"),
    ("2021-01-01T10:30:00.5Z", "2021-01-01T10:30:00.500"),
])
def test_zone_forms_with_or_without_a_space_are_read_without_numpy_warnings(cell, utc):
    second = "2021-01-01T11:30Z"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = wide(csv([cell, second]), time_column="t")
    assert str(out.time[0]) == utc


def test_a_zone_numpy_cannot_read_is_a_typo_among_dates_not_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataFileError, match="'2021-01-01T12:00 CET' is not a date like the others"):
            wide(csv(["2021-01-01T10:00Z", "2021-01-01T11:00Z", "2021-01-01T12:00 CET"]), time_column="t")


def test_sub_daily_times_with_and_without_a_zone_stay_wall_clock_times():
    out = wide(csv(["2021-01-01T10:00", "2021-01-01T11:00+05:00"]), time_column="t")
    assert [str(t) for t in out.time] == ["2021-01-01T10:00", "2021-01-01T11:00"]


def test_daily_times_with_a_zone_at_a_fixed_clock_time_stay_wall_clock_days():
    pd = pytest.importorskip("pandas")
    idx = pd.date_range("2024-03-07 16:00", periods=8, freq="D", tz="America/New_York")  # DST on 03-10
    expected = np.arange("2024-03-07T16:00", "2024-03-15T16:00", np.timedelta64(1, "D"), dtype="datetime64[s]")
    out = wide(csv(ts.isoformat() for ts in idx), time_column="t")
    np.testing.assert_array_equal(out.time.astype("datetime64[s]"), expected)
    df = pd.DataFrame({"v": np.arange(8.0)}, index=idx)
    np.testing.assert_array_equal(read_csv_wide(df).time.astype("datetime64[s]"), expected)
