"""Time columns: parse them, check they increase, and find gaps in a regular time grid.

A time column is parsed, in order of preference, as dates (``numpy.datetime64``: "1958-03",
"2020-01-15", "2020-01-15T10:30", also unpadded as "2020-1-5"; pandas Timestamps and Periods;
a year alone, "1950", is read as a number), as numbers (years, step counts), or kept as
strings. Dates at midnight become ``datetime64[D]``, and dates that all fall on the first (or
all on the last) day of their month ``datetime64[M]``, so monthly data has a step of one month.
For dates and numeric times the step is the most common difference between consecutive
times; a larger difference that is a whole number of steps is a *gap* (missing rows), anything
else is irregular (a step of 1.5 among steps of 1; 0.5 among steps of 1). String times are not
checked.

Numeric times are compared exactly, as integers: times with up to 6 decimals (0.5, 1.5, ...;
0.25, 0.5, ...) are counted in units of 10**-d, d the fewest decimals that write every time
exactly, and times inserted by ``fill`` are those decimals; whole numbers are exact at any size
below 2**63 (epoch nanoseconds). Other numeric times (more decimals, as from 1/3) are only
checked to increase.

A column is kept as strings only when its cells are labels, so that a typo such as "2002-0x"
or "2000-13" does not turn the time checks off: when more than half of the cells are dates (or
numbers) and others are not, the first odd cell is refused. Season labels, every cell YYYY-YY
with YY the next year's last two digits ("2005-06", ..., "2014-15"), are labels, not months.

Times with a time zone (pandas Timestamps, strings ending in an offset such as "+01:00",
"Z" or "UTC") are read as the wall-clock times they show, the zone dropped: a daily series (at
local midnight, or at 16:00) stays one day apart across a daylight-saving change. A column
whose every time has a zone and whose most common step is under a day (hourly data, say) is
read in UTC instead, so that it keeps one step across the change instead of a missing or a
repeated hour.

Business days: dates that all fall on Monday to Friday, some across a weekend, with a most
common step that is not a whole number of weeks, are counted in business days
(:func:`numpy.busday_count`), so a weekday series has no gap at weekends and continues on the
next business day; a missing weekday (a holiday) is a gap.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np

from ._table import Table, is_missing
from .errors import DataFileError


_DATE = re.compile(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?([T ].*)?")  # YYYY-M[M][-D[D]][ time]
# a time zone after the clock: "Z", "UTC", "GMT", "+01:00", "-0500", "+01", with or without a space before it
_OFFSET = re.compile(r"\s*(?:(Z|UTC|GMT)|([+-])(\d{2})(?::?(\d{2}))?)$")


def _as_date(cell: Any) -> tuple[np.datetime64, np.timedelta64 | None] | None:
    """One cell as (wall-clock date, its UTC offset or None when it has no zone), or None when
    it is not a date. UTC time = wall-clock time - offset."""
    if isinstance(cell, str):
        match = _DATE.fullmatch(cell.strip())  # "YYYY-MM..."; plain numbers are numbers
        if match is None:
            return None
        year, month, day, clock = match.groups()
        zone = _OFFSET.search(clock or "") if day else None
        offset = None
        if zone is not None:
            clock = clock[:zone.start()]
            sign, hours, minutes = zone.group(2, 3, 4)
            offset = np.timedelta64(0 if zone.group(1) else int(f"{sign}1") * (60 * int(hours) + int(minutes or 0)),
                                    "m")
        text = f"{year}-{int(month):02d}" + (f"-{int(day):02d}" if day else "") + (clock or "").replace(" ", "T", 1)
        try:  # NumPy's "no explicit representation of timezones" is an error here (see _read_dates)
            return np.datetime64(text), offset
        except (ValueError, Warning):
            return None
    if type(cell).__name__ == "Period" and hasattr(cell, "to_timestamp"):  # pandas, not imported
        return cell.to_timestamp().to_datetime64(), None
    if hasattr(cell, "to_datetime64"):
        if getattr(cell, "tzinfo", None) is None:
            return cell.to_datetime64(), None
        wall = cell.tz_localize(None)  # pandas Timestamp with a zone
        return wall.to_datetime64(), (wall - cell.tz_convert("UTC").tz_localize(None)).to_timedelta64()
    if isinstance(cell, np.datetime64):
        return cell, None
    return None


def _as_number(cell: Any) -> float | None:
    """One cell as a finite number, or None when it is not one."""
    try:
        value = float(cell)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def _read_dates(cells: list[Any]) -> list[Any]:
    """:func:`_as_date` of every cell, NumPy's timezone warning turned into "not a date"."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("error", DeprecationWarning)
        return [_as_date(c) for c in cells]


def _as_datetime(cells: list[Any], parsed: list[Any] | None = None) -> np.ndarray | None:
    """Every cell as a date (in its step's unit, :func:`_in_step_unit`), or None if one is not.

    ``parsed``: the cells already read by :func:`_read_dates`. Zoned times are wall-clock times,
    except when every one has a zone and their most common wall-clock step is under a day
    (hourly data, say): then UTC times (see the module docstring).
    """
    if parsed is None:
        parsed = _read_dates(cells)
    if not parsed or any(p is None for p in parsed):
        return None
    wall = np.array([p[0] for p in parsed])
    if all(p[1] is not None for p in parsed) and len(wall) >= 2:
        step = common_step(np.diff(np.sort(wall)).astype("m8[us]").astype(np.int64))
        if step is not None and step < 86_400_000_000:  # microseconds in a day
            return _in_step_unit(wall - np.array([p[1] for p in parsed]))
    return _in_step_unit(wall)


def _in_step_unit(arr: np.ndarray) -> np.ndarray | None:
    """Dates at midnight as datetime64[D], and all on the first (or last) day of their month
    as datetime64[M]; None when ``arr`` holds no dates."""
    if arr.dtype.kind != "M":
        return None
    days = arr.astype("datetime64[D]")
    if (days == arr).all() and np.datetime_data(arr.dtype)[0] not in ("Y", "M", "W"):
        months = days.astype("datetime64[M]")
        month_starts = months.astype("datetime64[D]")
        month_ends = (months + 1).astype("datetime64[D]") - 1
        if (days == month_starts).all() or (days == month_ends).all():
            return months
        return days
    return arr


def parse_times(table: Table, name: str) -> np.ndarray:
    """The time column as datetime64, float64 or str (object) array; missing cell -> error."""
    cells = table.columns[name]
    for i, c in enumerate(cells):
        if is_missing(c):
            raise DataFileError(table.source, "the time is missing. Every row needs a time; fill it in "
                                "or remove the row.", column=name, **table.where(i))
    if _season_labels(cells):
        return np.array([str(c) for c in cells], dtype=object)
    parsed = _read_dates(cells)
    dates = _as_datetime(cells, parsed)
    if dates is not None:
        return dates
    _refuse_odd_cell(table, name, parsed, "a date")
    nums = [_as_number(c) for c in cells]
    if all(v is not None for v in nums):
        return _whole_numbers(cells, nums)
    _refuse_odd_cell(table, name, nums, "a number")
    return np.array([str(c) for c in cells], dtype=object)


_SEASON = re.compile(r"(\d{4})-(\d{2})")  # "2005-06": the season from 2005 to 2006


def _season_labels(cells: list[Any]) -> bool:
    """Whether every cell is a season label such as "2005-06" (YYYY-YY, YY the next year's last
    two digits): labels, not the month June 2005, so not checked as times."""
    if len(cells) < 2:
        return False
    for c in cells:
        m = _SEASON.fullmatch(c.strip()) if isinstance(c, str) else None
        if m is None or int(m.group(2)) != (int(m.group(1)) + 1) % 100:
            return False
    return True


def _whole_numbers(cells: list[Any], nums: list[float]) -> np.ndarray:
    """The numeric times as float64, or as int64 when they are whole numbers beyond float64's
    exact integers (2**53, e.g. epoch nanoseconds), read from their text so no digit is lost."""
    if max(abs(v) for v in nums) < 2**53:
        return np.array(nums, dtype=np.float64)
    try:
        ints = [int(c) if isinstance(c, (int, np.integer)) else int(str(c).strip()) for c in cells]
    except ValueError:  # not all whole numbers written as such: float64, checked to increase
        return np.array(nums, dtype=np.float64)
    if max(abs(v) for v in ints) >= 2**63:
        return np.array(nums, dtype=np.float64)
    return np.array(ints, dtype=np.int64)


def _refuse_odd_cell(table: Table, name: str, parsed: list[Any], what: str) -> None:
    """When more than half of the cells parsed (``parsed`` holds None for the others), refuse
    the first that did not: a typo among dates or numbers, not a column of labels."""
    ok = [v is not None for v in parsed]
    if sum(ok) * 2 <= len(ok):
        return
    cells = table.columns[name]
    bad, good = ok.index(False), ok.index(True)
    forms = ("dates are YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM" if what == "a date"
             else "times are all numbers")
    raise DataFileError(table.source, f"{cells[bad]!r} is not {what} like the others (e.g. {cells[good]!r}). "
                        f"Correct it or remove the row ({forms}).", column=name, **table.where(bad))


def common_step(diffs: np.ndarray) -> int | None:
    """The most common positive difference (the time step), or None if there is none."""
    diffs = diffs[diffs > 0]
    if diffs.size == 0:
        return None
    values, counts = np.unique(diffs, return_counts=True)
    return int(values[np.argmax(counts)])


_MAX_DECIMALS = 6
BUSINESS_DAYS = "B"  # the tick unit of dates counted in business days
_EPOCH = np.datetime64("1970-01-01", "D")


def _business_daily(times: np.ndarray) -> bool:
    """Whether ``times`` are business days: days (datetime64[D]) that all fall on Monday to
    Friday, some consecutive two of them across a weekend, and their most common difference not
    a whole number of weeks (weekly dates stay on the calendar)."""
    if times.dtype != np.dtype("datetime64[D]") or len(times) < 2 or not np.is_busday(times).all():
        return False
    days = np.unique(times)
    diffs = np.diff(days).astype(np.int64)
    across_weekend = np.busday_count(days[:-1], days[1:]) < diffs
    return bool(across_weekend.any()) and (common_step(diffs) or 7) % 7 != 0


def tick_unit(times: np.ndarray) -> int | str | None:
    """The unit in which ``times`` are counted as integers (ticks).

    Numeric times: the fewest decimals d (0..6) that write every time exactly, the ticks being
    units of 10**-d; 0 for integer arrays and whole numbers below 2**63; None for other numbers
    (only checked to increase). Dates: :data:`BUSINESS_DAYS` for business days
    (:func:`_business_daily`), else None (ticks in the dates' own unit).
    """
    if times.dtype.kind == "M":
        return BUSINESS_DAYS if _business_daily(times) else None
    if times.dtype.kind in "iu":
        return 0
    if times.dtype.kind != "f" or len(times) == 0 or not np.isfinite(times).all():
        return None
    top = float(np.abs(times).max())
    if top < 2**63 and np.all(np.round(times) == times):  # whole numbers, exact as int64 (epoch nanoseconds too)
        return 0
    for d in range(1, _MAX_DECIMALS + 1):
        if top * 10**d >= 2**53:  # beyond exact integers in float64
            return None
        if np.all(np.round(times * 10**d) / 10**d == times):
            return d
    return None


def _ticks(times: np.ndarray, unit: int | str | None) -> np.ndarray | None:
    """Times as int64 ticks in ``unit`` (:func:`tick_unit`): dates in their own unit or in business
    days since 1970-01-01, numeric times in units of 10**-unit; None for other times."""
    if times.dtype.kind == "M" and unit == BUSINESS_DAYS:
        return np.busday_count(_EPOCH, times).astype(np.int64)
    if times.dtype.kind in "Miu":
        return times.astype(np.int64)
    if times.dtype.kind == "f" and unit is not None:
        return np.round(times * 10**unit).astype(np.int64)
    return None


def _from_ticks(ticks: np.ndarray, times: np.ndarray, unit: int | str | None) -> np.ndarray:
    """The times of ``ticks`` (the inverse of :func:`_ticks`), in the dtype of ``times``."""
    if times.dtype.kind == "M":
        if unit == BUSINESS_DAYS:
            return np.busday_offset(_EPOCH, ticks, roll="forward")
        return ticks.astype(times.dtype)
    return ticks / 10**unit if times.dtype.kind == "f" else ticks


def integer_diffs(times: np.ndarray, unit: int | str | None) -> np.ndarray | None:
    """Differences of ``times`` in ticks of ``unit`` (:func:`tick_unit`) as int64; None for times
    that have no ticks."""
    ticks = _ticks(times, unit) if len(times) >= 2 else None
    return None if ticks is None else np.diff(ticks)


def time_steps(times: np.ndarray, step: int | None = None, unit: int | str | None = None) -> np.ndarray | None:
    """Integer positions of ``times`` on a regular grid starting at 0, or None if not checkable.

    ``step`` defaults to the most common difference; ``unit`` is the tick unit of the times
    (:func:`tick_unit`; None for numbers: only check that they increase). String times are not
    checked. Raises :class:`_TimeProblem` naming the first non-increasing or irregular step.
    """
    if len(times) < 2 or times.dtype == object:
        return None
    diffs = integer_diffs(times, unit)
    if diffs is None:
        _check_increasing(np.diff(times))
        return None
    _check_increasing(diffs)
    step = step or common_step(diffs)
    bad = np.flatnonzero(diffs % step != 0)
    if bad.size:
        raise _TimeProblem(f"irregular time step: {_show(diffs[bad[0]], times, unit)} where the usual step is "
                           f"{_show(step, times, unit)}", int(bad[0]) + 1, _FIX_STEP)
    return np.concatenate([[0], np.cumsum(diffs // step)])


_UNIT_NAMES = {"Y": "year", "M": "month", "W": "week", "D": "day", "h": "hour", "m": "minute", "s": "second",
               "ms": "millisecond", "us": "microsecond", "ns": "nanosecond"}


def _show(ticks: int, times: np.ndarray, unit: int | str | None) -> str:
    """A difference of ticks in the units of ``times``: "1.5" (numbers), "23 hours" (dates: in the
    largest unit that counts it exactly), "3 business days"."""
    n = int(ticks)
    if times.dtype.kind != "M":
        return np.format_float_positional(n / 10**(unit or 0), trim="-")
    if unit == BUSINESS_DAYS:
        return f"{n} business day{'' if abs(n) == 1 else 's'}"
    dtype_unit = np.datetime_data(times.dtype)[0]
    name = dtype_unit
    if dtype_unit not in ("Y", "M", "W"):
        for name in ("D", "h", "m", "s", "ms", "us", "ns"):
            per = np.timedelta64(1, name).astype(f"m8[{dtype_unit}]").astype(np.int64)  # 0 below the unit
            if per > 0 and n % per == 0:
                n //= int(per)
                break
    return f"{n} {_UNIT_NAMES[name]}{'' if abs(n) == 1 else 's'}"


def _text(t: Any) -> str:
    """One time as written in messages: numbers in positional notation ("2001", not "2001.0")."""
    return np.format_float_positional(t, trim="-") if isinstance(t, np.floating) else str(t)


def next_times(times: np.ndarray, n: int) -> np.ndarray | None:
    """The ``n`` times after the last of ``times``, the most common step apart, or None for
    string times and fewer than two times. Decimal times are exact (8.1, 8.2, not
    8.100000000000001), and business days go on from Friday to Monday: counted in ticks of
    :func:`tick_unit`."""
    if len(times) < 2 or times.dtype.kind not in "iufM":
        return None
    unit = tick_unit(times)
    ticks = _ticks(times, unit)
    if ticks is None:  # numbers with many decimals: the last step, in floats
        return times[-1] + (times[-1] - times[-2]) * np.arange(1, n + 1)
    step = common_step(np.diff(ticks)) or 1
    return _from_ticks(ticks[-1] + step * np.arange(1, n + 1), times, unit)


_FIX_ORDER = "Sort the rows by time and remove duplicates."
_FIX_TRADING_DAYS = (" The times are business days (Monday to Friday): if the rows are trading days, with holidays "
                     "closed, leave the time column out so that each row is one step.")
_FIX_STEP = "Correct the time or remove the row; every time must be a whole number of steps after the first."


def _check_increasing(diffs: np.ndarray) -> None:
    bad = np.flatnonzero(diffs <= 0)
    if bad.size:
        what = "a repeated time" if diffs[bad[0]] == 0 else "time goes backwards"
        raise _TimeProblem(what, int(bad[0]) + 1, _FIX_ORDER)


class _TimeProblem(ValueError):
    """The ``i``-th time is at fault: ``problem``, and how to ``fix`` it."""

    def __init__(self, problem: str, i: int, fix: str) -> None:
        super().__init__(problem)
        self.problem, self.i, self.fix = problem, i, fix


def regular_grid(table: Table, name: str, times: np.ndarray, fill: str | None,
                 rows: np.ndarray | None = None, step: int | None = None, unit: int | str | None = None,
                 ) -> tuple[np.ndarray, np.ndarray | None]:
    """Check ``times`` and return (full time grid, row position of each grid point or -1).

    Without ``fill`` a gap raises DataFileError naming the rows around it; with ``fill`` the
    missing times are inserted (position -1) for the caller to fill. The second item is None
    when there is no gap (or the times cannot be checked). ``rows`` maps positions in
    ``times`` to table rows (for messages) when ``times`` is a subset of the table (long format);
    ``step`` imposes the time step (the long format pools it over all series), in ticks of
    ``unit``, which defaults to :func:`tick_unit` of ``times``.
    """
    def at(i: int) -> dict[str, Any]:
        return table.where(int(rows[i]) if rows is not None else i)

    if unit is None:
        unit = tick_unit(times)
    try:
        steps = time_steps(times, step, unit)
    except _TimeProblem as p:
        around = f" ({_text(times[p.i - 1])} then {_text(times[p.i])})" if p.i > 0 else ""
        raise DataFileError(table.source, f"{p.problem}{around}. {p.fix}", column=name, **at(p.i)) from None
    if steps is None or steps[-1] == len(times) - 1:
        return times, None
    jump = int(np.flatnonzero(np.diff(steps) > 1)[0]) + 1
    n_missing = int(steps[-1] + 1 - len(times))
    if fill is None:
        raise DataFileError(
            table.source, f"gap in time: {_text(times[jump - 1])} is followed by {_text(times[jump])}, "
            f"{int(steps[jump] - steps[jump - 1] - 1)} step(s) missing ({n_missing} in all). Add the "
            "missing rows, or pass fill='ffill' or fill='interpolate' to insert and fill them."
            + (_FIX_TRADING_DAYS if unit == BUSINESS_DAYS else ""), column=name, **at(jump))
    if n_missing > len(times):
        raise DataFileError(
            table.source, f"{n_missing} time steps are missing but only {len(times)} are present "
            f"(first jump: {_text(times[jump - 1])} to {_text(times[jump])}); too many to fill. Check the time column.",
            column=name, **at(jump))
    where = np.full(int(steps[-1]) + 1, -1, dtype=np.int64)
    where[steps] = np.arange(len(times))
    ticks = _ticks(times, unit)  # every time is a whole number of steps after the first: exact
    grid = ticks[0] + np.arange(len(where)) * ((ticks[-1] - ticks[0]) // int(steps[-1]))
    return _from_ticks(grid, times, unit), where
