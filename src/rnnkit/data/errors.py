"""Errors raised by :mod:`rnnkit.data`. Both derive from ``ValueError``, so ``except ValueError``
keeps working; catch the rnnkit class to single out one kind of problem.

- :class:`DataFileError`: a data file (CSV, ``.ts``) or a DataFrame cannot be read as the series
  it should hold. The message names the file, the line or row, the column, the problem and the
  fix; the same facts are attributes (``path``, ``line``, ``column``, ``problem``).
- :class:`NotFittedError` (also an ``AttributeError``, as in scikit-learn): ``transform`` was
  called on a scaler before ``fit``. Once scikit-learn is imported, the error raised is also
  ``sklearn.exceptions.NotFittedError`` (:mod:`rnnkit._sklearn`).
"""

from __future__ import annotations

import os


class DataFileError(ValueError):
    """A file or table whose contents cannot be turned into series.

    Attributes:
        path: the file name (or "<DataFrame>", "<stream>").
        line: 1-based line number in the file (the header is line 1 of a CSV), or None.
        row: the index label of the row at fault when the input is a DataFrame, or None.
        column: the column name (CSV) or dimension (``.ts``) at fault, or None.
        problem: what is wrong and how to fix it.
    """

    def __init__(self, path: str | os.PathLike, problem: str, line: int | None = None,
                 column: str | None = None, row: object = None) -> None:
        self.path = os.fspath(path)
        self.line = line
        self.row = row
        self.column = column
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"'{self.path}'"
        if self.line is not None:
            where += f", line {self.line}"
        elif self.row is not None:
            where += f", row {self.row!r}"
        if self.column is not None:
            where += f", column '{self.column}'"
        return f"Cannot read {where}: {self.problem}"


class NotFittedError(ValueError, AttributeError):
    """A scaler (or estimator) was used before ``fit``."""
