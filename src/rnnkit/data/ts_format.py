"""Reading the UCR/UEA time-series classification archive's ``.ts`` format.

A ``.ts`` file has comment lines (``#``; also ``%`` before ``@data``), header lines
(``@tag value``, tags case-insensitive) and, after ``@data``, one case per line::

    @problemName Example
    @univariate false
    @dimensions 2
    @equalLength false
    @classLabel true walk run
    @data
    0.1,0.2,0.3:1.0,1.1,1.2:walk        <- dimension 0 : dimension 1 : class label
    0.5,0.4:2.0,2.1:run

Recognised tags: ``@problemName``, ``@timeStamps``, ``@missing``, ``@univariate``,
``@dimensions``, ``@equalLength``, ``@seriesLength``, ``@classLabel`` (true + the labels, or
false), ``@targetLabel`` (true for a numeric target) and ``@data``; other tags are kept in
``header`` as strings. ``?`` marks a missing value (NaN): refused unless ``fill`` is given.
Files ending in ``.gz`` are decompressed on the fly. Timestamped files (``@timeStamps true``)
are not supported. Every problem is reported as a :class:`~rnnkit.data.DataFileError` naming
the file, the line and (for values) the dimension, counted from 0 as the channels of X.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import DataFileError
from .missing import check_fill, fill_missing, refuse_empty

_BOOL_TAGS = ("timestamps", "missing", "univariate", "equallength", "targetlabel")
_INT_TAGS = ("dimensions", "serieslength")


@dataclass
class TSData:
    """The contents of a ``.ts`` file.

    Attributes:
        X: (N, T, C) float64 when the header says ``@equalLength true``, else a list of N
            (T_n, C) arrays. C = 1 for a univariate problem.
        y: (N,) labels: str for ``@classLabel true``, float64 for ``@targetLabel true``, else None.
        lengths: (N,) int64, the T_n.
        class_labels: the labels declared by ``@classLabel``, in header order, or None.
        header: every header tag (lower case) -> value (bool, int, str, or list for classlabel).
        path: the file read.
    """

    X: Any
    y: np.ndarray | None
    lengths: np.ndarray
    class_labels: list[str] | None
    header: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    def encoded_labels(self) -> np.ndarray:
        """The class labels as int64 ids: the position of each y in ``class_labels``."""
        if self.class_labels is None or self.y is None:
            raise ValueError(
                f"'{self.path}' declares no class labels (@classLabel true ...), so there is nothing to encode."
            )
        index = {label: k for k, label in enumerate(self.class_labels)}
        return np.array([index[v] for v in self.y], dtype=np.int64)


def _lines(source: Any) -> tuple[str, Iterable[str]]:
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such .ts file: '{path}'. Check the path.")
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8-sig") as f:  # type: ignore[operator]
            try:
                return path, f.read().splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise DataFileError(path, f"not a readable text file ({exc}).") from None
    if hasattr(source, "read"):
        name, text = str(getattr(source, "name", "<stream>")), source.read()
        if not isinstance(text, str):
            raise TypeError(f"Expected a text stream, got one that reads {type(text).__name__} ({name}). Open the "
                            "file in text mode, or pass its path (.ts.gz files are decompressed).")
        return name, text.splitlines()
    raise TypeError(f"Expected a .ts file path or a text stream, got {type(source).__name__}.")


def _parse_header(path: str, lineno: int, line: str, header: dict[str, Any]) -> None:
    tag, *rest_ = line[1:].split(None, 1) or [""]  # the tag ends at the first space or tab
    tag, rest = tag.lower(), rest_[0].strip() if rest_ else ""
    if tag in header:
        raise DataFileError(path, f"the header tag @{tag} appears twice; keep one.", line=lineno)
    if tag in _BOOL_TAGS:
        if rest.lower() not in ("true", "false"):
            raise DataFileError(path, f"@{tag} must be 'true' or 'false', got {rest!r}.", line=lineno)
        header[tag] = rest.lower() == "true"
    elif tag in _INT_TAGS:
        if not rest.isdigit() or int(rest) < 1:
            raise DataFileError(path, f"@{tag} must be a positive integer, got {rest!r}.", line=lineno)
        header[tag] = int(rest)
    elif tag == "classlabel":
        words = rest.split()
        if not words or words[0].lower() not in ("true", "false"):
            raise DataFileError(
                path, f"@classLabel must be 'true' followed by the labels, or 'false'; got {rest!r}.", line=lineno
            )
        if words[0].lower() == "true" and len(words) < 2:
            raise DataFileError(
                path, "@classLabel true must list the class labels, e.g. '@classLabel true 1 2'.", line=lineno
            )
        repeated = sorted({w for w in words[1:] if words[1:].count(w) > 1})
        if repeated:
            raise DataFileError(path, f"@classLabel lists the labels {repeated} more than once; list each once.",
                                line=lineno)
        header[tag] = words[1:] if words[0].lower() == "true" else False
    else:
        header[tag] = rest


def _parse_case(path: str, lineno: int, line: str, header: dict[str, Any], n_dims: int | None
                ) -> tuple[np.ndarray, Any]:
    fields = line.split(":")
    labels = header.get("classlabel") or None
    label: Any = None
    if labels is not None or header.get("targetlabel"):
        if len(fields) < 2:
            raise DataFileError(path, "expected values followed by ':' and a label.", line=lineno)
        label = fields.pop().strip()
        if labels is not None and label not in labels:
            raise DataFileError(
                path, f"class label {label!r} is not among those declared by @classLabel: {labels}.", line=lineno
            )
        if labels is None:
            try:
                target = float(label)
                if not np.isfinite(target):
                    raise ValueError
            except ValueError:
                raise DataFileError(
                    path, f"expected a finite numeric target after the last ':', got {label!r}.", line=lineno
                ) from None
            label = target
    if n_dims is not None and len(fields) != n_dims:
        hint = (" If the last field is a class label, declare it with '@classLabel true <labels>'."
                if label is None and len(fields) == n_dims + 1 else "")
        raise DataFileError(path, f"expected {n_dims} dimension(s) separated by ':', got {len(fields)}.{hint}",
                            line=lineno)
    dims = []
    for d, text in enumerate(fields):
        cells = text.split(",")
        vals = np.empty(len(cells))
        for k, cell in enumerate(cells):
            cell = cell.strip()
            if cell == "?" or cell.lower() == "nan":
                vals[k] = np.nan
                continue
            try:
                vals[k] = float(cell)
            except ValueError:
                hint = (" If the last field is a class label, declare it with '@classLabel true <labels>'."
                        if d == len(fields) - 1 and labels is None else "")
                if cell.startswith("("):
                    hint = (" Values like '(time,value)' are timestamped: such files (@timeStamps true) are "
                            "not supported.")
                raise DataFileError(path, f"value {k} is {cell!r}, not a number.{hint}", line=lineno,
                                    column=f"dimension {d}") from None
            if np.isinf(vals[k]):
                raise DataFileError(path, f"value {k} is {cell!r}, not a finite number. Write '?' for a missing value.",
                                    line=lineno, column=f"dimension {d}")
        if dims and len(vals) != len(dims[0]):
            raise DataFileError(path, f"has {len(vals)} values but dimension 0 has {len(dims[0])}; every dimension "
                                "of a case must have the same length.", line=lineno, column=f"dimension {d}")
        dims.append(vals)
    return np.stack(dims, axis=1), label


def read_ts(source: Any, fill: str | None = None) -> TSData:
    """Read a UCR/UEA ``.ts`` file (univariate or multivariate, equal or unequal length).

    Args:
        source: path (``.ts`` or ``.ts.gz``) or text stream.
        fill: None (refuse missing values ``?``), "ffill" or "interpolate" (along time, within
            each case and dimension).

    Returns:
        :class:`TSData` with X (N, T, C) or a list of (T_n, C) arrays, y, lengths, labels.

    Raises:
        DataFileError (a ValueError): malformed header (a class label declared twice, both
            ``@classLabel true`` and ``@targetLabel true``), a case with the wrong number of
            dimensions, a non-numeric or infinite value, an undeclared class label, unequal
            lengths where ``@equalLength true``, missing values without ``fill``; naming file and
            line.
    """
    check_fill(fill, "read_ts")
    path, lines = _lines(source)
    header: dict[str, Any] = {}
    cases, labels, case_lines = [], [], []
    in_data = False
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#") or (not in_data and line.startswith("%")):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise DataFileError(
                    path, "expected a header line starting with '@' or a comment before @data, got "
                    f"{line[:40]!r}.", line=lineno
                )
            if line.lower().split()[0] == "@data":
                in_data = True
                if header.get("timestamps"):
                    raise DataFileError(path, "timestamped .ts files (@timeStamps true) are not supported; "
                                        "convert the file to plain values.", line=lineno)
                if header.get("classlabel") and header.get("targetlabel"):
                    raise DataFileError(path, "both @classLabel true and @targetLabel true: a case has one label, a "
                                        "class or a numeric target. Set one of them to false.", line=lineno)
                if header.get("univariate") and header.get("dimensions", 1) != 1:
                    raise DataFileError(
                        path, f"@univariate true contradicts @dimensions {header['dimensions']}.", line=lineno
                    )
            else:
                _parse_header(path, lineno, line, header)
            continue
        n_dims = header.get("dimensions", 1 if header.get("univariate") else (cases[0].shape[1] if cases else None))
        values, label = _parse_case(path, lineno, line, header, n_dims)
        cases.append(values)
        labels.append(label)
        case_lines.append(lineno)
    if not in_data:
        raise DataFileError(path, "no @data line; a .ts file has header lines, then @data, then one case per line.")
    if not cases:
        raise DataFileError(path, "no cases after @data.")
    return _assemble(path, header, cases, labels, case_lines, fill)


def _assemble(path: str, header: dict[str, Any], cases: list[np.ndarray], labels: list[Any],
              case_lines: list[int], fill: str | None) -> TSData:
    lengths = np.array([len(c) for c in cases], dtype=np.int64)
    expected = header.get("serieslength", int(lengths[0]))
    equal = header.get("equallength", bool((lengths == lengths[0]).all()))
    if equal:
        bad = np.flatnonzero(lengths != expected)
        if bad.size:
            raise DataFileError(
                path, f"this case has {lengths[bad[0]]} time steps, but the header declares equal lengths of "
                f"{expected}. Fix the case or set @equalLength false.", line=case_lines[bad[0]]
            )
    for i, c in enumerate(cases):
        if np.isnan(c).any():
            if fill is None:
                d = int(np.argwhere(np.isnan(c))[0][1])
                raise DataFileError(path, "missing value '?'. Pass fill='ffill' or fill='interpolate' to fill "
                                    "missing values along time.", line=case_lines[i], column=f"dimension {d}")
            refuse_empty(c, fill, path, [f"dimension {d}" for d in range(c.shape[1])], "Give the case at least "
                         "one value in each dimension, or remove the case.",
                         "every value of this dimension is missing ('?')", line=case_lines[i])
            cases[i] = fill_missing(c, fill)
    class_labels = header.get("classlabel") or None
    has_y = class_labels is not None or header.get("targetlabel", False)
    y = None
    if has_y:
        y = np.array(labels, dtype=np.float64 if class_labels is None else str)
    X = np.stack(cases) if equal else cases
    return TSData(X, y, lengths, class_labels, header, path)
