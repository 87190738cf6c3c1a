"""Series inputs of :class:`~rnnkit.estimators.Forecaster`: target y, covariates X and known
covariates.

Accepted y:

- one series: a 1-D array (T,) or pandas Series, or a 2-D array (T, C) / DataFrame of C
  target channels forecast together;
- a list of such series (all 1-D, or all with the same C) for one global model; a flat list
  of numbers (no element a sequence) is one series, as ``np.asarray`` reads it.

Accepted X (optional covariates, past values used as extra inputs): for one series an array
(T, F) (or (T,) for F = 1) or DataFrame with the same T as y; for a list of series a list of
such arrays, one per series. The same F must be given at predict time.

Accepted ``known`` (optional covariates whose values are known in advance over the forecast
horizon: calendar effects, holidays, planned prices), in the same forms as X with K columns:

- at fit and in backtest, aligned with y: (T, K) per series (a 1-D (T,) is K = 1);
- at predict with y given: y's history and the H forecast steps, (T + H, K) per series;
- at predict with y None (after the training series): the H forecast steps only, (H, K) per
  series (:func:`as_future_known`).

Rows and columns are read by position (a pandas index is not read); the Forecaster keeps the
column names of X and known given as DataFrames (:func:`column_names`) and refuses others at
predict time (:func:`check_column_names`). A date or period index of y must not go back in time.

pandas' nullable columns (Int64, Float64) are read as float64 (pd.NA as NaN, then refused as
missing). Values must be finite and within float32's range (the networks compute in float32); sparse
matrices are refused (convert them with ``.toarray()``).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data._arrays import as_float_series, is_pandas
from .checks import check_float32_range, check_not_sparse
from .time_index import check_time_order, index_info


@dataclass
class SeriesData:
    """Validated series.

    Attributes:
        y: list of (T_i, C) float64 arrays.
        X: list of (T_i, F) float64 arrays, or None without covariates.
        known: list of (T_i + extra, K) float64 arrays (``extra`` = 0 at fit, H at predict), or
            None without known covariates.
        is_list: y was a list of series.
        univariate: every series was 1-D (forecasts come back 1-D).
        index: per series, :func:`~rnnkit.estimators.time_index.index_info` of its pandas
            index, or None for NumPy input.
        names: per series, the pandas Series name or the DataFrame columns (None for NumPy).
    """

    y: list[np.ndarray]
    X: list[np.ndarray] | None
    is_list: bool
    univariate: bool
    index: list[dict[str, Any] | None]
    names: list[Any]
    known: list[np.ndarray] | None = None


def _one_y(y: Any, owner: str, where: str) -> tuple[np.ndarray, dict | None, Any]:
    info, name = None, None
    check_not_sparse(y, f"y{where}", owner)
    if is_pandas(y):
        check_time_order(y.index, f"y{where}", owner)
        info = index_info(y.index) if len(y) else None
        name = [c if isinstance(c, (str, int)) else str(c) for c in y.columns] if y.ndim == 2 else (
            y.name if isinstance(y.name, (str, int, type(None))) else str(y.name))
    arr = as_float_series(y, f"y{where}", owner, ndim=(1, 2))
    if len(arr) < 2:
        raise ValueError(f"{owner} expected y{where} with at least 2 time steps, got {len(arr)}.")
    _check_columns(arr, f"y{where}", "target channel", owner)
    return check_float32_range(arr, f"y{where}", owner), info, name


def _check_columns(arr: np.ndarray, name: str, what: str, owner: str) -> None:
    """Refuse a 2-D input with no column (T, 0): say what a column is and how to pass none."""
    if arr.ndim == 2 and arr.shape[1] == 0:
        none = " Pass X=None for none." if name.startswith("X") else ""
        raise ValueError(f"{owner} expected {name} with at least one column (a {what}), got shape {arr.shape}. "
                         f"Check which columns were selected.{none}")


def _one_x(X: Any, T: int, owner: str, where: str) -> np.ndarray:
    check_not_sparse(X, f"X{where}", owner)
    arr = as_float_series(X, f"X{where}", owner, ndim=(1, 2))
    _check_columns(arr, f"X{where}", "covariate", owner)
    arr = arr.reshape(len(arr), -1)
    if len(arr) != T:
        raise ValueError(f"{owner} expected covariates X{where} with one row per time step of y ({T} rows), got "
                         f"{len(arr)}. X holds past values aligned with y, not future ones.")
    return check_float32_range(arr, f"X{where}", owner)


def known_rules(H: int) -> str:
    """The two shape rules of ``known`` at predict time, for error messages."""
    return (f"with y given, known covers y's T steps of history and the {H} forecast step(s): (T + {H}, K) rows "
            f"per series; with y None (forecasting after the training series), only the {H} future row(s): "
            f"({H}, K)")


def _one_known(k: Any, rows: int, extra: int, owner: str, where: str, rule: str) -> np.ndarray:
    """known (rows, K) of one series (a 1-D (rows,) is K = 1; ``extra`` of the rows are forecast
    steps after y's T = rows - extra), or a ValueError stating ``rule``."""
    check_not_sparse(k, f"known{where}", owner)
    arr = as_float_series(k, f"known{where}", owner, ndim=(1, 2))
    if len(arr) != rows:
        n = f"T + H = {rows - extra} + {extra} = {rows}" if 0 < extra < rows else str(rows)
        raise ValueError(f"{owner} expected known{where} (the known covariates) with {n} rows ({rule}), got shape "
                         f"{arr.shape}.")
    if arr.ndim == 2 and arr.shape[1] == 0:
        raise ValueError(f"{owner} expected known{where} (the known covariates) with at least one column, got shape "
                         f"{arr.shape}. Pass known=None for none.")
    return check_float32_range(arr.reshape(len(arr), -1), f"known{where}", owner)


def _per_series(values: Any, name: str, what: str, rows: list[int], is_list: bool, owner: str,
                 one: Any) -> list[np.ndarray]:
    """``values`` (X or known) as one validated (rows_i, F) array per series of y, by
    ``one(item, rows_i, where)``: a list of them when y is a list, all with the same F."""
    if is_list and not (isinstance(values, (list, tuple)) and len(values) == len(rows)):
        got = type(values).__name__ + (f" of {len(values)}" if isinstance(values, (list, tuple)) else "")
        raise ValueError(f"{owner} expected {name} as a list of {len(rows)} arrays, one per series of y, got {got}.")
    items = list(values) if is_list else [values]
    out = [one(v, n, f"[{i}]" if is_list else "") for i, (v, n) in enumerate(zip(items, rows))]
    widths = sorted({a.shape[1] for a in out})
    if len(widths) > 1:
        raise ValueError(f"{owner} expected the same number of {what} in every series, got {widths}.")
    return out


def _known_list(known: Any, rows: list[int], is_list: bool, owner: str, rule: str, extra: int = 0
                ) -> list[np.ndarray]:
    """Validated known covariates, one (rows_i, K) array per series (the same K for all); ``extra``:
    forecast steps among the rows when y is given (H at predict), else 0."""
    return _per_series(known, "known", "known covariates", rows, is_list, owner,
                       lambda k, n, where: _one_known(k, n, extra, owner, where, rule))


def as_future_known(known: Any, n_series: int, is_list: bool, H: int, owner: str) -> list[np.ndarray]:
    """``known`` of a forecast after the training series: (H, K) per series (module docstring)."""
    return _known_list(known, [H] * n_series, is_list, owner, known_rules(H))


def column_names(values: Any, is_list: bool, name: str, owner: str) -> list[str] | None:
    """The column names of X or known given as DataFrames (str of each label), or None when none
    is a DataFrame; a list of series whose DataFrames name their columns differently is refused."""
    items = (list(values) if isinstance(values, (list, tuple)) else [values]) if is_list else [values]
    found = [[str(c) for c in v.columns] for v in items if is_pandas(v) and getattr(v, "ndim", 1) == 2]
    if any(f != found[0] for f in found):
        raise ValueError(f"{owner} expected the DataFrames of {name} to have the same columns in every series, "
                         f"got {sorted(map(tuple, found))}.")
    return found[0] if found else None


def check_column_names(given: list[str] | None, fitted: list[str] | None, name: str, owner: str) -> None:
    """Refuse DataFrame columns (X or known) named otherwise than at fit: they are read by position, so
    a reordered table would feed one covariate in place of another. Unnamed input (arrays) is not checked."""
    if given is not None and fitted is not None and given != fitted:
        raise ValueError(f"{owner} expected the columns of {name} as in fit, {fitted}, got {given}. Columns are read "
                         f"by position: select them in the fitted order, {name}[{fitted}].")


def _is_scalar(v: Any) -> bool:
    """A single value (a number, str, None, NumPy scalar or 0-d array), not a sequence."""
    return v is None or isinstance(v, (numbers.Number, str, bytes, np.generic)) or (
        isinstance(v, np.ndarray) and v.ndim == 0)


def as_series_data(y: Any, X: Any, owner: str, known: Any = None, horizon: int | None = None) -> SeriesData:
    """Validate y (and X, known) as described in the module docstring.

    ``horizon``: None when ``known`` is aligned with y (fit, backtest), H at predict time when it
    also covers the H forecast steps ((T_i + H, K) per series).
    """
    is_list = isinstance(y, (list, tuple))
    scalars = [_is_scalar(v) for v in y] if is_list else []
    if scalars and all(scalars):   # [1.0, 2.5, ...]: one series, as np.asarray reads it
        y, is_list = np.asarray(y), False
    elif any(scalars):
        raise ValueError(f"{owner} expected y as one series or a list of series, got a list that mixes single "
                         "values and sequences. Pass one series as np.asarray(values), or several as a list of "
                         "arrays.")
    items = list(y) if is_list else [y]
    if is_list and not items:
        raise ValueError(f"{owner} expected y as a series or a non-empty list of series, got an empty list.")
    ys, infos, names = [], [], []
    for i, item in enumerate(items):
        arr, info, name = _one_y(item, owner, f"[{i}]" if is_list else "")
        ys.append(arr)
        infos.append(info)
        names.append(name)
    dims = {a.ndim for a in ys}
    channels = {1 if a.ndim == 1 else a.shape[1] for a in ys}
    if len(dims) > 1 or len(channels) > 1:
        raise ValueError(f"{owner} expected every series in y to have the same shape after the time axis, got "
                         f"{sorted({a.shape[1:] for a in ys})}. Reshape 1-D series with s.reshape(-1, 1).")
    Xs = None if X is None else _per_series(X, "X", "covariates", [len(a) for a in ys], is_list, owner,
                                            lambda x, n, where: _one_x(x, n, owner, where))
    Ks = None
    if known is not None:
        extra = 0 if horizon is None else horizon
        rule = ("aligned with y: one row per time step of y" if horizon is None else known_rules(horizon))
        Ks = _known_list(known, [len(a) + extra for a in ys], is_list, owner, rule, extra)
    univariate = ys[0].ndim == 1
    return SeriesData([a.reshape(len(a), -1) for a in ys], Xs, is_list, univariate, infos, names, Ks)
