"""Continuing a pandas index past the end of a series, for forecasts that keep their dates.

:func:`index_info` keeps what is needed of a Series' or DataFrame's index as JSON-able facts
(so a saved forecaster continues the index too); :func:`future_index` builds the next
``horizon`` labels from them:

- ``DatetimeIndex`` with a frequency (``index.freq``, else the one pandas infers, stored as
  its string, e.g. "MS"): last + k * freq, k = 1..H, with the same frequency and time zone
  (a named zone such as "Europe/Paris" keeps its daylight-saving changes);
- ``PeriodIndex``: the next H periods;
- integer index (``RangeIndex`` included) with a constant step s: last + k * s;
- anything else (irregular dates, strings): no continuation; the forecast gets a RangeIndex
  T .. T + H - 1 and a warning says why.

Dates and periods that go back in time somewhere (a series stored newest first) are refused
by :func:`check_time_order`: the rows are read in order, so the forecast would continue the
oldest end backwards (repeated dates are allowed, as the repeated hour of a daylight-saving
change in local time).

pandas is imported only when the input was a pandas object.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def index_info(index: Any) -> dict[str, Any]:
    """JSON-able description of how ``index`` (a pandas Index of length T >= 1) continues."""
    import pandas as pd

    name = index.name if isinstance(index.name, (str, int, type(None))) else str(index.name)
    n = len(index)
    if isinstance(index, pd.DatetimeIndex):
        if index.freq is None and n >= 3:   # infer it (freq="infer" does not warn as infer_freq does)
            index = pd.DatetimeIndex(index, freq="infer")
        if index.freq is not None:
            return {"kind": "datetime", "last": index[-1].isoformat(), "freq": index.freq.freqstr, "name": name,
                    "tz": _tz_name(index[-1]), "length": n}
    elif isinstance(index, pd.PeriodIndex):
        return {"kind": "period", "last": str(index[-1]), "freq": index.freqstr, "name": name, "length": n}
    elif pd.api.types.is_integer_dtype(index.dtype):
        values = np.asarray(index, dtype=np.int64)
        steps = np.diff(values)
        if n == 1 or (len(np.unique(steps)) == 1 and steps[0] != 0):
            return {"kind": "integer", "last": int(values[-1]), "step": int(steps[0]) if n > 1 else 1,
                    "name": name, "length": n}
    return {"kind": "positional", "name": name, "length": n,
            "why": f"its {type(index).__name__} has no regular step (no frequency could be inferred)"}


def check_time_order(index: Any, name: str, owner: str) -> None:
    """Refuse a DatetimeIndex or PeriodIndex (of a pandas y) with a step back in time."""
    import pandas as pd

    if not isinstance(index, (pd.DatetimeIndex, pd.PeriodIndex)) or len(index) < 2:
        return
    missing = np.flatnonzero(np.asarray(index.isna()))
    if len(missing):
        raise ValueError(f"{owner} expected a time for every row of {name}, got a missing one (NaT) at position "
                         f"{int(missing[0])} of its {type(index).__name__}. Drop that row or give it its time.")
    back = np.flatnonzero(np.diff(np.asarray(index.asi8)) < 0)
    if len(back):
        i = int(back[0])
        raise ValueError(f"{owner} expected {name} in increasing time order, got a {type(index).__name__} that goes "
                         f"back from {index[i]} to {index[i + 1]} (positions {i} and {i + 1}). The rows are read "
                         f"in order, so sort them first: {name}.sort_index().")


def _tz_name(last: Any) -> str | None:
    """The name of the time zone of ``last`` (a Timestamp) that ``tz_convert`` accepts back, or
    None when naive (or when the zone has no such name: the stored UTC offset is then kept)."""
    if last.tzinfo is None:
        return None
    name = str(last.tz)
    try:
        last.tz_convert(name)
    except (KeyError, ValueError, TypeError):   # e.g. a dateutil zone: its str() is not a zone name
        return None
    return name


def future_index(info: dict[str, Any], horizon: int) -> Any:
    """The H labels after the series described by ``info`` (see the module docstring)."""
    import pandas as pd

    kind, name = info["kind"], info.get("name")
    k = np.arange(1, horizon + 1)
    if kind == "datetime":
        offset = pd.tseries.frequencies.to_offset(info["freq"])
        last = pd.Timestamp(info["last"])   # carries the UTC offset of its time zone
        if info.get("tz"):
            last = last.tz_localize(info["tz"]) if last.tzinfo is None else last.tz_convert(info["tz"])
        start = last + offset
        return pd.date_range(start=start, periods=horizon, freq=offset, name=name)
    if kind == "period":
        last = pd.Period(info["last"], freq=info["freq"])
        return pd.period_range(start=last + 1, periods=horizon, freq=info["freq"], name=name)
    if kind == "integer":
        return pd.Index(info["last"] + k * info["step"], name=name)
    n = info["length"]
    warnings.warn(f"The forecast cannot continue the index of the input: {info['why']}. It gets positions "
                  f"{n}..{n + horizon - 1} instead; set index.freq (e.g. series.asfreq('MS')) to keep dates.",
                  UserWarning, stacklevel=4)
    return pd.RangeIndex(n, n + horizon, name=name)


def wrap(values: np.ndarray, info: dict[str, Any], columns: list[Any] | None, series_name: Any) -> Any:
    """The forecast (H,) or (H, C) as a pandas Series or DataFrame on the continued index."""
    import pandas as pd

    index = future_index(info, len(values))
    if values.ndim == 1:
        return pd.Series(values, index=index, name=series_name)
    return pd.DataFrame(values, index=index, columns=columns)
