"""Mauna Loa atmospheric CO2, monthly, March 1958 - December 2001 (526 months).

Public domain (Scripps Institution of Oceanography / CDIAC), from the weekly record shipped by
statsmodels (``statsmodels.datasets.co2``), turned into monthly means; see
``data/co2/README.md`` for the source, the licence and exactly how the months were made.
Trend plus a yearly cycle: the textbook seasonal series (seasonal period 12).
"""

from __future__ import annotations

from typing import Any

from ._monthly import load_monthly


def load_co2(as_frame: bool = False) -> Any:
    """Load the monthly Mauna Loa CO2 concentrations (ppmv).

    Args:
        as_frame: if True, return a pandas Series with a monthly DatetimeIndex (needs pandas).

    Returns:
        ``(values, months)``: values (526,) float64 in ppmv, months (526,) ``datetime64[M]``
        from 1958-03 to 2001-12; or a pandas Series named "co2" when ``as_frame``.
    """
    return load_monthly("co2", "co2_monthly.csv", "co2", as_frame)
