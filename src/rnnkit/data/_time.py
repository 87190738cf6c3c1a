"""Time columns: parse them, check they increase, and find gaps in a regular time grid.

A time column is parsed, in order of preference, as dates (``numpy.datetime64``: "1958-03",
"2020-01-15", "2020-01-15T10:30"; a year alone, "1950", is read as a number), as numbers
(years, step counts), or kept as strings. Dates at midnight become ``datetime64[D]``, and
dates that all fall on the first (or all on the last) day of their month ``datetime64[M]``, so
monthly data has a step of one month. For dates and integer times the step is the most
common difference between consecutive times; a larger difference that is a whole number of
steps is a *gap* (missing rows), anything else is irregular. String times are not checked.

A column is kept as strings only when its cells are labels: when more than half of the cells
are dates (or numbers) and others are not, the first odd cell is refused (a typo such as
"2002-0x" or "2000-13" must not turn the time checks off). Numeric times that are not all whole
numbers are only checked to increase, unless most steps are whole numbers: then a fractional
step ("20.5" among 0, 1, 2, ...) is irregular.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._table import Table, is_missing
from .errors import DataFileError


def _as_date(cell: Any) -> np.datetime64 | None:
    """One cell as a date, or None when it is not one."""
    if isinstance(cell, str):
        s = cell.strip()
        if len(s) < 7 or not s[:4].isdigit() or s[4] != "-":  # "YYYY-MM..."; plain numbers are numbers
            return None
        try:
            return np.datetime64(s.replace(" ", "T", 1))
        except ValueError:
            return None
    if hasattr(cell, "to_datetime64"):
        return cell.to_datetime64()
    if isinstance(cell, np.datetime64):
        return cell
    return None


def _as_number(cell: Any) -> float | None:
    """One cell as a finite number, or None when it is not one."""
    try:
        value = float(cell)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def _as_datetime(cells: list[Any]) -> np.ndarray | None:
    out = [_as_date(c) for c in cells]
    if any(d is None for d in out):
        return None
    arr = np.array(out)
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
    dates = _as_datetime(cells)
    if dates is not None:
        return dates
    _refuse_odd_cell(table, name, [_as_date(c) for c in cells], "a date")
    nums = [_as_number(c) for c in cells]
    if all(v is not None for v in nums):
        return np.array(nums, dtype=np.float64)
    _refuse_odd_cell(table, name, nums, "a number")
    return np.array([str(c) for c in cells], dtype=object)


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


def integer_diffs(times: np.ndarray) -> np.ndarray | None:
    """Differences of dates or integer-valued times as int64; None for other times."""
    if len(times) < 2 or times.dtype == object:
        return None
    if times.dtype.kind != "M" and not np.all(times == np.round(times)):
        return None
    return np.diff(times).astype(np.int64)


def time_steps(times: np.ndarray, step: int | None = None) -> np.ndarray | None:
    """Integer positions of ``times`` on a regular grid starting at 0, or None if not checkable.

    ``step`` defaults to the most common difference. String times are not checked;
    fractional numeric times are only checked to increase (and, when most steps are whole
    numbers, to have no fractional step). Raises :class:`_TimeProblem`
    naming the first non-increasing or irregular step.
    """
    if len(times) < 2 or times.dtype == object:
        return None
    diffs = np.diff(times)
    if times.dtype.kind != "M" and not np.all(times == np.round(times)):
        _check_increasing(diffs)
        whole = diffs == np.round(diffs)
        if whole.sum() * 2 > len(diffs):  # a fractional step among whole-number steps ("20.5" among 0, 1, 2, ...)
            i = int(np.flatnonzero(~whole)[0])
            usual = common_step(diffs[whole].astype(np.int64))
            raise _TimeProblem(f"irregular time step: {diffs[i]:g} where the usual step is {usual}", i + 1, _FIX_STEP)
        return None
    diffs = diffs.astype(np.int64)
    _check_increasing(diffs)
    step = step or common_step(diffs)
    bad = np.flatnonzero(diffs % step != 0)
    if bad.size:
        raise _TimeProblem(f"irregular time step: {diffs[bad[0]]} where the usual step is {step}", int(bad[0]) + 1,
                           _FIX_STEP)
    return np.concatenate([[0], np.cumsum(diffs // step)])


_FIX_ORDER = "Sort the rows by time and remove duplicates."
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
                 rows: np.ndarray | None = None, step: int | None = None,
                 ) -> tuple[np.ndarray, np.ndarray | None]:
    """Check ``times`` and return (full time grid, row position of each grid point or -1).

    Without ``fill`` a gap raises DataFileError naming the rows around it; with ``fill`` the
    missing times are inserted (position -1) for the caller to fill. The second item is None
    when there is no gap (or the times cannot be checked). ``rows`` maps positions in
    ``times`` to table rows (for messages) when ``times`` is a subset of the table (long format);
    ``step`` imposes the time step (the long format pools it over all series).
    """
    def at(i: int) -> dict[str, Any]:
        return table.where(int(rows[i]) if rows is not None else i)

    try:
        steps = time_steps(times, step)
    except _TimeProblem as p:
        around = f" ({times[p.i - 1]} then {times[p.i]})" if p.i > 0 else ""
        raise DataFileError(table.source, f"{p.problem}{around}. {p.fix}", column=name, **at(p.i)) from None
    if steps is None or steps[-1] == len(times) - 1:
        return times, None
    jump = int(np.flatnonzero(np.diff(steps) > 1)[0]) + 1
    n_missing = int(steps[-1] + 1 - len(times))
    if fill is None:
        raise DataFileError(
            table.source, f"gap in time: {times[jump - 1]} is followed by {times[jump]}, "
            f"{int(steps[jump] - steps[jump - 1] - 1)} step(s) missing ({n_missing} in all). Add the "
            "missing rows, or pass fill='ffill' or fill='interpolate' to insert and fill them.",
            column=name, **at(jump))
    if n_missing > len(times):
        raise DataFileError(
            table.source, f"{n_missing} time steps are missing but only {len(times)} are present "
            f"(first jump: {times[jump - 1]} to {times[jump]}); too many to fill. Check the time column.",
            column=name, **at(jump))
    where = np.full(int(steps[-1]) + 1, -1, dtype=np.int64)
    where[steps] = np.arange(len(times))
    unit = np.diff(times)[np.diff(steps) == 1]
    unit = unit[0] if unit.size else (times[1] - times[0]) // int(steps[1])  # one time step
    grid = times[0] + np.arange(len(where)) * unit
    return grid, where

