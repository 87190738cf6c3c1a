"""Reading series stored in long format: one row per (series id, time, value).

::

    id,time,value              <- header (line 1)
    north,2020-01,12.5
    north,2020-02,13.0
    south,2020-01,7.1

Every id becomes one series. Rows may come in any order: within an id they are sorted by
time when the times are dates or numbers (string times keep the file order). The time step
is the most common difference between consecutive times over all series, so a gap is found
even in a short series. Series may have
different lengths and start at different times. The rules for values, missing values, gaps
and ``fill`` are those of :func:`~rnnkit.data.read_csv_wide`, applied to each series; a
repeated (id, time) pair is refused, naming both lines.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ._table import is_missing, numeric_column, read_table
from ._time import common_step, integer_diffs, parse_times, regular_grid, tick_unit
from .csv_wide import on_grid, refuse_missing
from .errors import DataFileError
from .missing import check_fill, fill_missing, refuse_empty


class LongSeries(NamedTuple):
    """What :func:`read_csv_long` returns; unpacks as ``ids, values, times = ...``.

    Attributes:
        ids: the series ids in order of first appearance (str for a CSV file; the original
            values for a DataFrame).
        values: one array per id, (T_i,) for one value column or (T_i, C) for a list of them.
        times: one (T_i,) array of times per id (datetime64, float64 or str).
    """

    ids: list[Any]
    values: list[np.ndarray]
    times: list[np.ndarray]


def read_csv_long(source: Any, id_column: str | int = "id", time_column: str | int = "time",
                  value_column: str | int | Sequence[str] = "value", fill: str | None = None,
                  delimiter: str = ",") -> LongSeries:
    """Read a long CSV file (or DataFrame) into one series per id.

    Args:
        source: a path, a text stream or a pandas DataFrame.
        id_column: name (or position) of the column naming the series.
        time_column: name (or position) of the time column.
        value_column: name (or position) of the value column, or a list of names for a
            multivariate series (T_i, C). For a DataFrame whose column labels are ints, an int
            that is a label names that column; other ints are positions.
        fill: None (refuse missing values and gaps), "ffill" or "interpolate".
        delimiter: the field separator of the CSV file.

    Returns:
        :class:`LongSeries` ``(ids, values, times)``.

    Raises:
        DataFileError (a ValueError), naming file, line and column: a missing column, a
            non-numeric value, a repeated time, a missing value or gap without ``fill``.
    """
    check_fill(fill, "read_csv_long")
    table = read_table(source, delimiter)
    id_cells = table.column(id_column, "id")
    table.column(time_column, "time")
    time_name = table.resolve(time_column)
    multi = (not isinstance(value_column, (str, bytes, numbers.Integral))  # a list (or tuple) of names
             and hasattr(value_column, "__iter__"))
    value_names = list(value_column) if multi else [value_column]
    if not value_names:
        raise ValueError("The 'value_column' parameter of read_csv_long must name at least one column. Got an empty "
                         f"{type(value_column).__name__}; pass value_column='value' or a list of names.")
    for v in value_names:
        table.column(v, "value")
    value_names = [table.resolve(v) for v in value_names]
    repeated = sorted({v for v in value_names if value_names.count(v) > 1})
    if repeated:
        raise DataFileError(table.source, f"the value columns {repeated} are asked for more than once in "
                            f"value_column={value_column!r}; name each column once.")
    values = np.stack([numeric_column(table, v) for v in value_names], axis=1)
    times = parse_times(table, time_name)
    groups: dict[Any, list[int]] = {}
    for i, key in enumerate(id_cells):
        if (not key.strip()) if isinstance(key, str) else is_missing(key):  # "NA" may be an id: only "" in a CSV
            raise DataFileError(table.source, "the series id is missing; every row needs one.",
                                column=table.resolve(id_column), **table.where(i))
        groups.setdefault(key, []).append(i)
    ordered = {}
    for key, members in groups.items():
        rows = np.asarray(members)
        if times.dtype != object:
            rows = rows[np.argsort(times[rows], kind="stable")]
        _refuse_repeats(table, time_name, times, rows, key)
        ordered[key] = rows
    unit = tick_unit(times)  # one tick unit (10**-decimals, business days) for all series
    diffs = [integer_diffs(times[rows], unit) for rows in ordered.values()]
    diffs = [d for d in diffs if d is not None]
    step = common_step(np.concatenate(diffs)) if diffs else None  # one time step for all series
    out = LongSeries([], [], [])
    for key, rows in ordered.items():
        t, where = regular_grid(table, time_name, times[rows], fill, rows, step, unit)
        v = values[rows]
        if fill is None:
            refuse_missing(table, v, value_names, rows)
        else:
            refuse_empty(v, fill, table.source, value_names, "Check the column name, or give the series a value in "
                         "it.", f"series {key!r} has no value in this column (every cell is empty or NA)",
                         **table.where(int(rows[0])))
            v = fill_missing(on_grid(v, where), fill, value_names)
        out.ids.append(key)
        out.values.append(v if multi else v[:, 0])
        out.times.append(t)
    return out


def _refuse_repeats(table: Any, name: str, times: np.ndarray, rows: np.ndarray, key: Any) -> None:
    """Refuse a time seen twice in one series; ``rows`` are sorted by time unless times are strings."""
    if times.dtype == object:  # string times, in file order: any earlier row with the same time
        seen: dict[Any, int] = {}
        pairs = [(seen.setdefault(times[r], int(r)), int(r)) for r in rows]
        repeats = [(a, b) for a, b in pairs if a != b]
    else:
        same = np.flatnonzero(times[rows][1:] == times[rows][:-1])
        repeats = [(int(rows[i]), int(rows[i + 1])) for i in same[:1]]
    if repeats:
        a, b = repeats[0]
        first = table.where(a)
        ref = f"line {first['line']}" if "line" in first else f"row {first['row']!r}"
        raise DataFileError(table.source, f"series {key!r} has the time {times[a]} twice (also at {ref}). "
                            "Remove the duplicate row.", column=name, **table.where(b))
