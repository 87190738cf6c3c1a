"""Checks of input files that the readers in :mod:`rnnkit.data` cannot make, because they depend
on which command-line option named what: a column asked for with ``--target`` that the file
does not have is reported as "pass the right name with --target", not with the Python
keyword.
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path
from typing import Mapping

from ..data._table import not_utf8_where
from .errors import CLIError


def read_header(path: str, delimiter: str = ",") -> list[str]:
    """The column names on the first non-empty line of a CSV file.

    Raises:
        FileNotFoundError and other OSErrors (reported with the path), CLIError for an empty file.
    """
    if Path(path).is_dir():
        raise CLIError(f"'{path}' is a folder; expected a CSV file.")
    with open(path, newline="", encoding="utf-8-sig") as f:
        try:
            for row in csv.reader(f, delimiter=delimiter):
                if any(cell.strip() for cell in row):
                    return [cell.strip() for cell in row]
        except UnicodeDecodeError:
            raise CLIError(_not_utf8(path)) from None
        except csv.Error as exc:
            raise CLIError(f"Cannot read '{path}': not a CSV text file ({exc}).") from None
    raise CLIError(f"Cannot read '{path}': the file is empty; expected a header line with column names.")


def _not_utf8(path: str) -> str:
    """The message for a CSV file that is not UTF-8: the line and the first bad byte."""
    where = not_utf8_where(path)
    if where is None:
        return f"Cannot read '{path}': not UTF-8 text. Save the file as UTF-8."
    line, offset, byte = where
    return (f"Cannot read '{path}', line {line}: byte {byte:#04x} (offset {offset}) is not UTF-8 "
            "text. CSV files are read as UTF-8: save the file as UTF-8, or check that it is a CSV file.")


def require_columns(path: str, header: list[str], wanted: Mapping[str, str | None], hint: str = "") -> None:
    """Check that every column named by an option (``{"--target": "sales"}``) is in ``header``;
    ``hint`` is added to the message (the caller's guess at what went wrong)."""
    for flag, name in wanted.items():
        if name is not None and name not in header:
            near = [h for h in header if h.lower() == name.lower()]
            if near:
                hint = f" Did you mean {near[0]!r}?{hint}"
            for sep, option in ((";", "';'"), ("\t", "tab")):
                if any(sep in h for h in header):  # the file uses another separator
                    hint += f" The header holds {sep!r}: if it separates the columns, pass --delimiter {option}."
                    break
            raise CLIError(f"Cannot read '{path}', line 1: there is no column {name!r} (the columns are "
                           f"{', '.join(repr(h) for h in header)}). Pass the right name with {flag}.{hint}")


def read_text(path: str, encoding: str) -> str:
    """A whole text file (without a UTF-8 byte-order mark); a file that is not valid
    ``encoding`` is reported with the byte offset."""
    if Path(path).is_dir():
        raise CLIError(f"'{path}' is a folder; expected a text file.")
    data = Path(path).read_bytes()
    try:
        if codecs.lookup(encoding).name == "utf-8":
            return data.decode("utf-8-sig")  # a leading byte-order mark is not text
        return data.decode(encoding)
    except LookupError:
        raise CLIError(f"Unknown --encoding {encoding!r}; use e.g. utf-8 or latin-1.") from None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CLIError(f"Cannot read '{path}', line {line}: byte {exc.start} is not valid {encoding} text. "
                       f"Pass the file's encoding with --encoding (e.g. --encoding latin-1).") from None
