"""Reading series stored in wide format: one row per time step, one column per series.

::

    month,north,south          <- header (line 1)
    2020-01,12.5,7.1
    2020-02,13.0,7.4

Uses only the ``csv`` module (pandas is not needed); a pandas DataFrame (or Series) is accepted
in place of the file. Values must be numbers; empty cells and NA markers ("", "NA", "N/A",
"NaN", "null", "None", "?") are missing values. With a time column the rows must be in
increasing time order, and a regular series (dates or integer times) must have no gaps.
Missing values and gaps are refused with a message naming the file, line and column, unless
``fill`` is given ("ffill" or "interpolate", see :func:`~rnnkit.data.fill_missing`), which
inserts the missing time steps and fills every hole; a column with no value at all is refused
then too, as there is nothing to fill it from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ._table import Table, is_missing, numeric_column, read_table
from ._time import _as_datetime, parse_times, regular_grid
from .errors import DataFileError
from .missing import check_fill, fill_missing, refuse_empty


class WideSeries(NamedTuple):
    """What :func:`read_csv_wide` returns; unpacks as ``values, time, columns = ...``.

    Attributes:
        values: (T, C) float64, one column per series, without NaN.
        time: (T,) datetime64 / float64 / str array (int64 for a DataFrame's integer index), or
            None without a time column.
        columns: the C column names, in the order of ``values``' columns.
    """

    values: np.ndarray
    time: np.ndarray | None
    columns: list[str]


def refuse_missing(table: Table, values: np.ndarray, names: list[str], rows: np.ndarray | None = None) -> None:
    """Raise DataFileError at the first NaN cell of ``values``; ``rows`` maps its rows to the table's."""
    nan = np.isnan(values)
    if not nan.any():
        return
    i, c = np.argwhere(nan)[0]
    row = int(rows[i]) if rows is not None else int(i)
    raise DataFileError(
        table.source, "missing value. Fill it in, remove the row, or pass fill='ffill' or "
        f"fill='interpolate' ({int(nan.sum())} missing value(s) in all).", column=names[c], **table.where(row))


def on_grid(values: np.ndarray, where: np.ndarray | None) -> np.ndarray:
    """Rows of ``values`` placed on the full time grid, NaN where a time step was missing."""
    if where is None:
        return values
    out = np.full((len(where),) + values.shape[1:], np.nan)
    out[where >= 0] = values[where[where >= 0]]
    return out


def read_csv_wide(source: Any, time_column: str | int | None = None, columns: Sequence[str] | None = None,
                  fill: str | None = None, delimiter: str = ",") -> WideSeries:
    """Read a wide CSV file (or DataFrame) into a (T, C) array, its times and column names.

    Args:
        source: a path, a text stream, or a pandas DataFrame / Series. For a DataFrame without
            ``time_column`` whose index is not the default 0..T-1, the index gives the times.
        time_column: name (or position) of the time column, or None when there is none.
        columns: names of the value columns to read; None reads every column except the time.
            A column may also be given by position (an int from 0). In a DataFrame whose
            column labels are ints, an int that is one of the labels names that column; only
            other ints are positions.
        fill: None (refuse missing values and gaps), "ffill" or "interpolate".
        delimiter: the field separator of the CSV file.

    Returns:
        :class:`WideSeries` ``(values (T, C), time (T,) or None, columns)``.

    Raises:
        DataFileError (a ValueError): missing column, a column named twice in ``columns``, a
            column with no name in the header read as a series (pass ``time_column`` or
            ``columns``), non-numeric value, missing value or gap without ``fill``, times not
            increasing, a file that is not UTF-8; the message names file, line and column.
        TypeError: ``source`` is a binary stream (open the file in text mode).
    """
    owner = "read_csv_wide"
    check_fill(fill, owner)
    table = read_table(source, delimiter)
    time, time_name = None, None
    if time_column is not None:
        table.column(time_column, "time")
        time_name = table.resolve(time_column)
        time = parse_times(table, time_name)
    elif table.index is not None and not _default_index(table.index):
        missing = [i for i, label in enumerate(table.labels) if is_missing(label)]
        if missing:
            raise DataFileError(table.source, f"the time index of row {missing[0]} (counted from 0) is missing. "
                                "Every row needs a time; fill it in or drop the row.")
        time = _as_datetime(list(table.index))
        if time is None:
            time = np.asarray(table.index)
    if isinstance(columns, str):
        raise TypeError(f"The 'columns' parameter of {owner} must be a list of names. Got the string "
                        f"{columns!r}; write columns=[{columns!r}].")
    names = [n for n in table.names if n != time_name] if columns is None else list(columns)
    for n in names:
        table.column(n, "value")
    names = [table.resolve(n) for n in names]
    if not names:
        only = f"the only column is the time column {time_name!r}" if time_name else "the table has no columns"
        raise DataFileError(table.source, f"no value columns; {only}.")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataFileError(table.source, f"the value columns {repeated} are asked for more than once in "
                            f"columns={columns!r}; name each column once.")
    if columns is None and "" in names:
        position = table.names.index("")
        raise DataFileError(
            table.source, f"column {position} has no name in the header, so it is not clear what it holds (a file "
            f"written by pandas' to_csv has its index there). Pass time_column={position} if it holds the times, "
            "or choose the value columns with columns=[...].", line=table.header_line)
    values = np.stack([numeric_column(table, n) for n in names], axis=1)
    where = None
    if time is not None:
        time, where = regular_grid(table, time_name or "<index>", time, fill)
    if fill is None:
        refuse_missing(table, values, names)
        return WideSeries(values, time, names)
    refuse_empty(values, fill, table.source, names, "Check the column name.")
    return WideSeries(fill_missing(on_grid(values, where), fill, names), time, names)


def _default_index(index: Any) -> bool:
    return type(index).__name__ == "RangeIndex" and index.start == 0 and index.step == 1
