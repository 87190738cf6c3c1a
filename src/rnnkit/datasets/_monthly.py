"""Shared loader for the shipped monthly series: a two-column CSV (month, value)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data.csv_wide import read_csv_wide
from ._files import data_file


def load_monthly(folder: str, filename: str, name: str, as_frame: bool) -> Any:
    """Return ``(values (T,), months (T,) datetime64[M])`` or a pandas Series named ``name``."""
    if not isinstance(as_frame, bool):
        raise TypeError(f"The 'as_frame' parameter must be a bool. Got {as_frame!r} instead.")
    with data_file(folder, filename) as path:
        values, months, _ = read_csv_wide(path, time_column=0)
    values = values[:, 0]
    if months.dtype != np.dtype("datetime64[M]"):  # pragma: no cover - guards the shipped file
        raise ValueError(f"Expected monthly dates in {filename}, got dtype {months.dtype}.")
    if not as_frame:
        return values, months
    import pandas as pd  # lazy: rnnkit itself does not need pandas

    index = pd.DatetimeIndex(months.astype("datetime64[ns]"), freq="MS", name="month")
    return pd.Series(values, index=index, name=name)
