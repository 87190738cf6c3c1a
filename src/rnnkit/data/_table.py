"""A table of raw cells read from a CSV file (with the csv module) or taken from a DataFrame.

Both readers (wide and long format) work on a :class:`Table`, so a CSV file and a pandas
DataFrame give the same arrays and the same error messages: a CSV cell is named by its file
line (the header is line 1), a DataFrame cell by its index label.

A column is named by its name or by its position (an int, counted from 0; negative from the
end). In a CSV file every name is a string, so an int is always a position. A DataFrame's column
labels may themselves be ints (``df.columns == [2019, 2020]``): a key that is one of the labels
is that label, and only an int that is not a label is a position.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._arrays import is_pandas
from .errors import DataFileError

MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}


@dataclass
class Table:
    """Columns of raw cells (str from a CSV, Python objects from a DataFrame)."""

    source: str
    names: list[str]
    columns: dict[str, list[Any]]
    lines: list[int] | None  # file line of each row (CSV)
    labels: list[Any] | None  # index label of each row (DataFrame)
    index: Any = None  # the DataFrame's index, or None
    keys: dict[Any, str] | None = None  # the DataFrame's column labels -> names (str)
    header_line: int | None = None  # file line of the header (CSV)

    def __len__(self) -> int:
        return len(self.lines if self.lines is not None else self.labels)

    def where(self, i: int) -> dict[str, Any]:
        """Keyword arguments of DataFileError locating row ``i``."""
        return {"line": self.lines[i]} if self.lines is not None else {"row": self.labels[i]}

    def column(self, name: Any, role: str) -> list[Any]:
        """The cells of column ``name`` (a name, a DataFrame label or an int position, see the
        module docstring); missing -> DataFileError."""
        return self.columns[self.resolve(name, role)]

    def resolve(self, name: Any, role: str = "value") -> str:
        """The column name (str) for a name, DataFrame label or position; missing -> DataFileError."""
        try:
            if self.keys is not None and name in self.keys:
                return self.keys[name]
            if name in self.columns:
                return name
        except TypeError:  # an unhashable key (a list, ...): named below
            pass
        if isinstance(name, numbers.Integral) and not isinstance(name, (bool, np.bool_)):
            if not -len(self.names) <= name < len(self.names):
                labels = "" if self.keys is None else " (and not one of the column labels)"
                raise DataFileError(self.source, f"the {role} column index {name} is out of range{labels}; "
                                    f"the table has {len(self.names)} columns: {self.names}.")
            return self.names[int(name)]
        raise DataFileError(
            self.source, f"no {role} column named {name!r}. The columns are {self.names}; pass "
            f"the right name (e.g. {role}_column={self.names[0]!r}).")


def read_table(source: Any, delimiter: str = ",") -> Table:
    """Read a CSV path or text stream, or take a pandas DataFrame, as a :class:`Table`."""
    if is_pandas(source):
        return _from_frame(source)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such CSV file: '{path}'. Check the path.")
        with open(path, newline="", encoding="utf-8-sig") as f:
            return _decoded(f, path, delimiter)
    if isinstance(source, (io.RawIOBase, io.BufferedIOBase)):  # other binary streams: csv's error, _from_csv
        raise _binary_stream(source)
    if isinstance(source, io.TextIOBase) or hasattr(source, "read"):
        return _decoded(source, str(getattr(source, "name", "<stream>")), delimiter)
    raise TypeError(
        f"Expected a CSV file path, a text stream or a pandas DataFrame, got {type(source).__name__}."
    )


def _binary_stream(source: Any) -> TypeError:
    return TypeError(f"Expected a text stream, got a binary one ({type(source).__name__}). Open the file in "
                     "text mode, open(path, newline=''), or pass its path.")


def not_utf8_where(path: str) -> tuple[int, int, int] | None:
    """(line, offset, byte) of the first byte of the file at ``path`` that is not UTF-8 text, or
    None when it all decodes (a decoder reading in chunks reports offsets within its chunk)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        data.decode("utf-8")
        return None
    except UnicodeDecodeError as exc:
        return data[: exc.start].count(b"\n") + 1, exc.start, data[exc.start]


def _decoded(f: Any, path: str, delimiter: str) -> Table:
    """:func:`_from_csv`, with a file that is not UTF-8 text reported as a DataFileError naming the
    line and the byte (for a file read by its path)."""
    try:
        return _from_csv(f, path, delimiter)
    except UnicodeDecodeError as exc:
        where = not_utf8_where(path) if os.path.isfile(path) else None
        what = (f"byte {where[2]:#04x} (offset {where[1]}) is not UTF-8 text" if where
                else f"not UTF-8 text ({exc.reason})")
        raise DataFileError(
            path, f"{what}. Save the file as UTF-8, or open it with its encoding and pass the stream, e.g. "
            "open(path, encoding='latin-1', newline='').", line=where[0] if where else None
        ) from None


def _from_csv(f: Any, path: str, delimiter: str) -> Table:
    reader = csv.reader(f, delimiter=delimiter)
    try:
        header = next(reader)
        while not any(h.strip() for h in header):
            header = next(reader)
    except StopIteration:
        raise DataFileError(path, "the file is empty; expected a header line with column names.") from None
    except csv.Error as exc:
        if "should return strings" in str(exc):  # a stream of bytes (codecs' readers say 'rb' and are text)
            raise _binary_stream(f) from None
        raise DataFileError(path, f"not a valid CSV file ({exc}).", line=reader.line_num) from None
    names = [h.strip() for h in header]
    names[0] = names[0].lstrip("\ufeff").strip()  # a byte-order mark that the stream's encoding kept
    header_line = reader.line_num
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise DataFileError(path, f"duplicate column names {dup}; give every column its own name.", line=header_line)
    if len(names) == 1 and delimiter == "," and ";" in names[0]:
        raise DataFileError(path, "found one column whose name contains ';'. The file seems to use ';' "
                            "as separator: pass delimiter=';'.", line=header_line)
    cols: list[list[str]] = [[] for _ in names]
    lines: list[int] = []  # the line each record starts on (a quoted value may run over several)
    try:
        start = reader.line_num + 1
        for row in reader:
            first, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                raise DataFileError(path, f"expected {len(names)} fields as in the header {names}, got "
                                    f"{len(row)}. Fix the row (check the separators and quoting).{_quote_hint(row)}",
                                    line=first)
            for c, cell in enumerate(row):
                cols[c].append(cell.strip())
            lines.append(first)
    except csv.Error as exc:
        raise DataFileError(path, f"not a valid CSV row ({exc}).", line=reader.line_num) from None
    if not lines:
        raise DataFileError(path, "the file has a header but no data rows.")
    return Table(path, names, dict(zip(names, cols)), lines, None, header_line=header_line)


def _from_frame(df: Any) -> Table:
    if not hasattr(df, "columns"):
        df = df.to_frame()
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        raise DataFileError("<DataFrame>", f"duplicate column names {names}; give every column its own name.")
    cols = {n: df[c].tolist() for n, c in zip(names, df.columns)}
    if len(df) == 0:
        raise DataFileError("<DataFrame>", "the DataFrame has no rows.")
    return Table("<DataFrame>", names, cols, None, list(df.index), df.index, dict(zip(df.columns, names)))


def is_missing(cell: Any) -> bool:
    """True for an empty/NA marker string, None, a float NaN, a NaT, or pandas' NA and NaT."""
    if cell is None:
        return True
    if isinstance(cell, str):
        return cell.strip().lower() in MISSING
    if isinstance(cell, np.datetime64):
        return bool(np.isnat(cell))
    if type(cell).__name__ in ("NAType", "NaTType") and type(cell).__module__.startswith("pandas"):
        return True  # pd.NA (nullable dtypes) and pd.NaT, recognised without importing pandas
    return isinstance(cell, (float, np.floating)) and math.isnan(cell)


def numeric_column(table: Table, name: str) -> np.ndarray:
    """Parse a column to float64, NaN where a cell is missing; a non-number -> DataFileError."""
    out = np.empty(len(table), dtype=np.float64)
    for i, cell in enumerate(table.columns[name]):
        if is_missing(cell):
            out[i] = np.nan
            continue
        try:
            if isinstance(cell, (bool, np.bool_)):
                raise ValueError
            v = float(cell)
        except (TypeError, ValueError):
            hint = _comma_hint(cell) if isinstance(cell, str) and "," in cell else ""
            hint += _quote_hint([cell]) if isinstance(cell, str) else ""
            raise DataFileError(table.source, f"expected a number, got {cell!r}.{hint} Fix or remove "
                                "the value (empty cells count as missing).", column=name, **table.where(i)) from None
        if not math.isfinite(v):
            raise DataFileError(table.source, f"expected a finite number, got {cell!r}. Replace it or "
                                "leave the cell empty to mark it missing.", column=name, **table.where(i))
        out[i] = v
    return out


def _quote_hint(row: list[str]) -> str:
    """A note for a record with a value over several lines: most likely a quote never closed."""
    if not any("\n" in cell or "\r" in cell for cell in row):
        return ""
    return (" A quoted value runs over several lines from this one: is a quote (\") not closed? A quote "
            "opens a value that ends only at the next quote.")


def _comma_hint(cell: str) -> str:
    """Advice for a number written with a comma: a decimal comma ("1,5", "1.234,5") or thousands
    separators ("1,000", "12,345,678"); "" when the cell is not a number either way."""
    head, _, tail = cell.rpartition(",")
    digits = head.lstrip("+-")
    if not tail.isdigit() or not digits:
        return ""
    if digits.replace(".", "").isdigit():  # one comma
        if len(tail) != 3 or "." in digits:
            return f" It looks like a decimal comma: write {head.replace('.', '')}.{tail} (a point as decimal mark)."
        return f" Remove the thousands separators ({head + tail}), or write a decimal comma as a point ({head}.{tail})."
    if all(p.isdigit() for p in digits.split(",")):
        return " Remove the thousands separators."
    return ""
