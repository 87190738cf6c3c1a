"""Forecast against actuals, with the training / holdout split marked."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._checks import check_positive_int
from ..data._arrays import as_float_series
from ._figure import finish, new_figure


def plot_forecast(y_train: Any, y_test: Any, forecasts: Any = None, time: Any = None,
                  title: str | None = None, ylabel: str | None = None, last: int | None = None,
                  path: str | os.PathLike | None = None, dpi: int = 120) -> Any:
    """Plot a series, its holdout and one or more forecasts of the holdout.

    Args:
        y_train: (T,) the observed (training) part of the series.
        y_test: (H,) the held-out actual values that follow it.
        forecasts: (H,) array, or a dict label -> (H,) array (e.g. {"LSTM": ..., "seasonal
            naive": ...}); None plots the actuals only.
        time: (T + H,) x values (datetime64, numbers); default 0..T+H-1.
        title, ylabel: text for the axes (default "Forecast against actuals" and "value").
        last: an int >= 1: show only the last ``last`` training steps (the holdout is always
            shown); None shows them all.
        path: if given, save the figure there (atomically; the extension picks the format).
        dpi: resolution when saving.

    Returns:
        The matplotlib Figure.
    """
    owner = "plot_forecast"
    if last is not None:
        last = check_positive_int(last, "last", owner)
    tr = as_float_series(y_train, "y_train", owner, ndim=(1,), allow_nan=True)
    te = as_float_series(y_test, "y_test", owner, ndim=(1,), allow_nan=True)
    if forecasts is None:
        preds = {}
    elif isinstance(forecasts, dict):
        preds = {str(k): as_float_series(v, f"forecasts[{k!r}]", owner, ndim=(1,), allow_nan=True)
                 for k, v in forecasts.items()}
    else:
        preds = {"forecast": as_float_series(forecasts, "forecasts", owner, ndim=(1,), allow_nan=True)}
    for label, p in preds.items():
        if p.shape != te.shape:
            raise ValueError(
                f"{owner} expected the forecast {label!r} of shape {te.shape} like y_test, got {p.shape}."
            )
    n = len(tr) + len(te)
    x = np.arange(n) if time is None else np.asarray(time.to_numpy() if hasattr(time, "to_numpy") else time)
    if x.shape != (n,):
        raise ValueError(f"{owner} expected 'time' of shape ({n},) (training + holdout steps), got {x.shape}.")
    start = 0 if last is None else max(0, len(tr) - last)
    fig, axes = new_figure((9.0, 4.2))
    ax = axes[0, 0]
    ax.plot(x[start:len(tr)], tr[start:], color="0.25", lw=1.3, label="training")
    ax.plot(x[len(tr):], te, color="black", lw=1.8, label="actual (holdout)")
    colors = ["tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown"]
    for i, (label, p) in enumerate(preds.items()):
        ax.plot(x[len(tr):], p, color=colors[i % len(colors)], lw=1.6, ls="--" if i else "-", label=label)
    if len(te):
        split = x[len(tr) - 1] if len(tr) else x[0]
        ax.axvspan(split, x[-1], color="tab:blue", alpha=0.07, lw=0)
        ax.axvline(split, color="0.4", ls=":", lw=1.2)
        ax.annotate("holdout", xy=(split, 1.0), xycoords=("data", "axes fraction"), xytext=(4, -14),
                    textcoords="offset points", color="0.3", fontsize=9)
    ax.set_title(title or "Forecast against actuals")
    ax.set_xlabel("time" if time is not None else "time step")
    ax.set_ylabel(ylabel or "value")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    return finish(fig, path, dpi)
