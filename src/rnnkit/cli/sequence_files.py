"""Labelled sequences from a file, for ``rnnkit classify``: UCR/UEA ``.ts`` or CSV.

Three layouts (``--format auto`` picks ``ts`` by the file name, ``long`` when the CSV has both
the ``--id`` and the ``--time`` column, else ``wide``):

- **ts**: the time-series classification archive's format (``.ts``, ``.ts.gz``), read by
  :func:`rnnkit.data.read_ts`; the id of a case is its number, counted from 1.
- **wide** CSV: one row per sequence; the ``--label`` column (default ``label``) holds the
  class, an optional ``--id`` column (default ``id``) names the sequence, and every other
  column is one time step, in order. Empty cells at the end of a row make that sequence
  shorter (sequences of unequal length); an empty cell inside a row is refused unless
  ``--fill`` is given. Univariate only (use ``long`` or ``.ts`` for several channels).
- **long** CSV: one row per (sequence, time step): ``id,time,value[,value2...],label``, rows
  in any order, read by :func:`rnnkit.data.read_csv_long` (gaps in time are refused unless
  ``--fill``). Every column other than id, time and label is a channel (``--values`` picks
  some); the label must be the same on every row of a sequence.

Every problem raises :class:`~rnnkit.data.DataFileError` (or a ``CLIError``) naming the file,
the line and the column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection

import numpy as np

from ..data import DataFileError, fill_missing, read_csv_long, read_ts
from ..data._table import is_missing, numeric_column, read_table
from .errors import CLIError
from .inputs import read_header, require_columns

FORMATS = ("auto", "ts", "wide", "long")


@dataclass
class Sequences:
    """What a file holds: N sequences (T_n, C), their labels (N,) or None, and their ids."""

    X: list[np.ndarray]
    y: np.ndarray | None
    ids: list[Any]
    path: str


def read_sequences(path: str, *, fmt: str = "auto", label: str = "label", id_column: str = "id",
                   time_column: str = "time", values: list[str] | None = None, fill: str | None = None,
                   delimiter: str = ",", need_labels: bool = True, given: Collection[str] = ()) -> Sequences:
    """Read ``path`` in the layout ``fmt`` (module docstring); ``need_labels`` refuses a file
    without labels. ``given`` names the column options typed on the command line (``"--label"``,
    ``"--id"``, ``"--time"``): a CSV file must have those columns, whereas a default column may
    be absent (a misspelt ``--id`` would otherwise make the id column a time step)."""
    if fmt == "ts" or (fmt == "auto" and path.lower().endswith((".ts", ".ts.gz"))):
        return _read_ts(path, fill, need_labels)
    header = read_header(path, delimiter)
    if fmt == "auto":
        fmt = "long" if id_column in header and time_column in header else "wide"
    hint = (" The file looks like a .ts file (its first line starts with '#' or '@'): pass --format ts."
            if header[0].startswith(("#", "@")) else "")
    named = {"--label": label, "--id": id_column, "--time": time_column}
    require_columns(path, header, {flag: name for flag, name in named.items() if flag in given}, hint)
    if need_labels:
        require_columns(path, header, {"--label": label}, hint)
    if fmt == "long":
        require_columns(path, header, {"--id": id_column, "--time": time_column}, hint)
    for v in values or ():
        require_columns(path, header, {"--values": v}, hint)
    reader = _read_long if fmt == "long" else _read_wide
    return reader(path, header, label if label in header else None, id_column, time_column, values, fill, delimiter)


def _read_ts(path: str, fill: str | None, need_labels: bool) -> Sequences:
    ts = read_ts(path, fill=fill)
    if ts.header.get("targetlabel"):
        raise CLIError(f"Cannot use '{path}': it holds numeric targets (@targetLabel true), not classes; "
                       "rnnkit classify needs @classLabel true.")
    if need_labels and ts.y is None:
        raise CLIError(f"Cannot use '{path}': it has no class labels (@classLabel false); training needs them.")
    X = list(ts.X)
    return Sequences(X, ts.y, list(range(1, len(X) + 1)), path)


def _read_wide(path: str, header: list[str], label: str | None, id_column: str, time_column: str,
               values: list[str] | None, fill: str | None, delimiter: str) -> Sequences:
    table = read_table(path, delimiter)
    steps = values or [h for h in header if h not in (label, id_column)]
    if not steps:
        raise CLIError(f"Cannot read '{path}': no columns hold values (only {header}); a wide file has one "
                       "column per time step besides the label and id columns.")
    grid = np.stack([numeric_column(table, c) for c in steps], axis=1)  # (N, T), NaN where empty
    X = []
    for i, row in enumerate(grid):
        observed = np.flatnonzero(~np.isnan(row))
        if observed.size == 0:
            raise DataFileError(path, "the row has no values. Remove it.", **table.where(i))
        row = row[: observed[-1] + 1]  # trailing empty cells: a shorter sequence
        if np.isnan(row).any():
            if fill is None:
                c = int(np.flatnonzero(np.isnan(row))[0])
                raise DataFileError(path, "missing value inside the sequence (only empty cells at the end of a "
                                    "row make it shorter). Fill it in, or pass --fill ffill or --fill "
                                    "interpolate.", column=steps[c], **table.where(i))
            row = fill_missing(row, fill)
        X.append(row[:, None])
    ids = table.columns[id_column] if id_column in table.columns else [table.where(i)["line"]
                                                                        for i in range(len(table))]
    return Sequences(X, _labels(table, label, range(len(table))), list(ids), path)


def _read_long(path: str, header: list[str], label: str | None, id_column: str, time_column: str,
               values: list[str] | None, fill: str | None, delimiter: str) -> Sequences:
    channels = values or [h for h in header if h not in (id_column, time_column, label)]
    if not channels:
        raise CLIError(f"Cannot read '{path}': no value columns besides {id_column!r}, {time_column!r} and "
                       f"{label!r}.")
    series = read_csv_long(path, id_column=id_column, time_column=time_column, value_column=channels,
                           fill=fill, delimiter=delimiter)
    y = None
    if label is not None:
        table = read_table(path, delimiter)
        first: dict[Any, int] = {}
        for i, key in enumerate(table.columns[id_column]):
            first.setdefault(key, i)
            j = first[key]
            if table.columns[label][i] != table.columns[label][j]:
                raise DataFileError(path, f"series {key!r} has the label {table.columns[label][i]!r} here but "
                                    f"{table.columns[label][j]!r} at line {table.where(j)['line']}. Give every "
                                    "row of a series the same label.", column=label, **table.where(i))
        y = _labels(table, label, [first[k] for k in series.ids])
    return Sequences([np.asarray(v, dtype=np.float64) for v in series.values], y, list(series.ids), path)


def _labels(table: Any, label: str | None, rows: Any) -> np.ndarray | None:
    """The label cells of ``rows``; an empty label is an error naming its line."""
    if label is None:
        return None
    cells = table.columns[label]
    for i in rows:
        if is_missing(cells[i]):
            raise DataFileError(table.source, "the label is missing; every sequence needs one.", column=label,
                                **table.where(i))
    return np.array([cells[i] for i in rows], dtype=str)
