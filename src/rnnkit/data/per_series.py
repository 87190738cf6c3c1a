"""One scaler per series, for a list of series that differ in level and spread.

A global model trained on many series (sales of many products, flows of many rivers) learns
better when each series is scaled by its own training statistics. :class:`PerSeriesScaler`
fits one :class:`~rnnkit.data.StandardScaler` or :class:`~rnnkit.data.MinMaxScaler` per
series; ``scalers_[i]`` maps the forecasts of series ``i`` back with ``inverse_transform``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._sklearn import sklearn_compatible
from .errors import NotFittedError
from .scalers import MinMaxScaler, StandardScaler, _Scaler

_KINDS = {"standard": StandardScaler, "minmax": MinMaxScaler}


class PerSeriesScaler:
    """Fit, transform and invert a list of series, each with its own statistics.

    Args:
        scaler: "standard", "minmax", or a StandardScaler / MinMaxScaler instance whose
            parameters (e.g. ``feature_range``) are copied for every series.

    Attributes (after fit): ``scalers_``: list of fitted scalers, one per series.
    """

    def __init__(self, scaler: str | _Scaler = "standard") -> None:
        self.scaler = scaler

    def _make(self) -> _Scaler:
        s = self.scaler
        if isinstance(s, str) and s in _KINDS:
            return _KINDS[s]()
        if isinstance(s, _Scaler):
            return type(s)(**s.get_params())
        raise ValueError(
            "The 'scaler' parameter of PerSeriesScaler must be 'standard', 'minmax' or a "
            f"StandardScaler/MinMaxScaler instance. Got {s!r} instead."
        )

    @staticmethod
    def _as_list(series_list: Any, method: str) -> list[Any]:
        if not isinstance(series_list, (list, tuple)) or not series_list:
            raise TypeError(
                f"PerSeriesScaler.{method} expected a non-empty list of series ((T_i,) or (T_i, C) "
                f"arrays), got {type(series_list).__name__}. For a single series use StandardScaler "
                "or MinMaxScaler."
            )
        return list(series_list)

    def fit(self, series_list: Sequence[Any]) -> PerSeriesScaler:
        """Fit one scaler on each (training) series of ``series_list``."""
        items = self._as_list(series_list, "fit")
        self._make()  # a bad 'scaler' parameter is named as such, not as a problem of series 0
        scalers = []
        for i, s in enumerate(items):
            try:
                scalers.append(self._make().fit(s))
            except (ValueError, TypeError) as exc:
                raise _for_series(exc, i) from exc
        self.scalers_ = scalers
        return self

    def _apply(self, series_list: Sequence[Any], method: str) -> list[np.ndarray]:
        if not hasattr(self, "scalers_"):
            raise sklearn_compatible(NotFittedError, "NotFittedError")(
                f"This PerSeriesScaler is not fitted yet. Call fit(train_series) before {method}."
            )
        items = self._as_list(series_list, method)
        if len(items) != len(self.scalers_):
            raise ValueError(
                f"PerSeriesScaler.{method} expected {len(self.scalers_)} series, as many as given to "
                f"fit, got {len(items)}. Use scalers_[i].{method}(x) for series i alone."
            )
        out = []
        for i, (sc, s) in enumerate(zip(self.scalers_, items)):
            try:
                out.append(getattr(sc, method)(s))
            except (ValueError, TypeError) as exc:
                raise _for_series(exc, i) from exc
        return out

    def transform(self, series_list: Sequence[Any]) -> list[np.ndarray]:
        """Scale series ``i`` with the statistics of training series ``i``; returns a list."""
        return self._apply(series_list, "transform")

    def inverse_transform(self, series_list: Sequence[Any]) -> list[np.ndarray]:
        """Undo :meth:`transform`, series by series; returns a list."""
        return self._apply(series_list, "inverse_transform")

    def fit_transform(self, series_list: Sequence[Any]) -> list[np.ndarray]:
        """``fit`` then ``transform`` on the same list."""
        return self.fit(series_list).transform(series_list)

    def __repr__(self) -> str:
        return f"PerSeriesScaler(scaler={self.scaler!r})"


def _for_series(exc: Exception, i: int) -> Exception:
    """``exc`` (a ValueError or TypeError) with "Series i: " in front of its message, as a plain
    ValueError / TypeError (a subclass's constructor may take other arguments; the original stays
    chained as the cause)."""
    return (TypeError if isinstance(exc, TypeError) else ValueError)(f"Series {i}: {exc}")
