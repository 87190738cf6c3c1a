"""El Nino: monthly mean sea surface temperature of the Nino 1+2 region, 1950 - 2010.

Public domain (NOAA, ERSST.V3B), from ``statsmodels.datasets.elnino``, reshaped from one row
per year to one row per month; see ``data/elnino/README.md``. A strong yearly cycle with
irregular El Nino events on top (732 months).
"""

from __future__ import annotations

from typing import Any

from ._monthly import load_monthly


def load_elnino(as_frame: bool = False) -> Any:
    """Load the monthly Nino 1+2 sea surface temperatures (degrees Celsius).

    Args:
        as_frame: if True, return a pandas Series with a monthly DatetimeIndex (needs pandas).

    Returns:
        ``(values, months)``: values (732,) float64 in degrees Celsius, months (732,)
        ``datetime64[M]`` from 1950-01 to 2010-12; or a pandas Series named "sst" when
        ``as_frame``.
    """
    return load_monthly("elnino", "elnino_monthly.csv", "sst", as_frame)
