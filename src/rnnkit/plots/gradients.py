"""Gradient norm through time per cell type: the vanishing-gradient picture."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ._figure import finish, new_figure
from ._inputs import named_arrays


def plot_gradient_norms(norms: Any, title: str | None = None, path: str | os.PathLike | None = None,
                        dpi: int = 120) -> Any:
    """Plot ||dL/dh_t|| against the time step t, one line per cell type, on a log y axis.

    With the loss on the last step, a plain RNN's curve falls steeply towards early t (the
    error signal vanishes as it travels back in time) while LSTM and GRU stay flatter.

    Args:
        norms: dict name -> (T,) norms (e.g. ``{"RNN": ..., "LSTM": ..., "GRU": ...}``); a
            (D, T) array (per direction: a History epoch's ``hidden_grad_norms``, or
            ``hidden_grad_norms[layer]`` of a layer, whose own array is (L, D, T)) gives one
            line per row; every value >= 0 (NaN is a gap). Zeros (padded steps) are not drawn;
            when every norm is zero the axis is linear and the figure says so.
        title: axes title.
        path: if given, save the figure there (atomically).
        dpi: resolution when saving.

    Returns:
        The matplotlib Figure.
    """
    owner = "plot_gradient_norms"
    data = named_arrays(norms, "norms", owner, ndim=(1, 2, 3), shapes="(T,) or (D, T)")
    for name, arr in data.items():
        if arr.ndim == 3:
            raise ValueError(
                f"{owner} expected norms[{name!r}] of shape (T,) or (D, T) (one line per direction), got "
                f"shape {arr.shape}: an (L, D, T) array, such as a layer's hidden_grad_norms, has one (D, T) "
                f"block per stacked layer. Pick one layer, e.g. {{{name!r}: layer.hidden_grad_norms[0]}}."
            )
        if np.any(arr < 0):
            raise ValueError(
                f"{owner} expected norms[{name!r}] >= 0 (norms ||dL/dh_t||), got {int((arr < 0).sum())} negative "
                f"value(s), the smallest {float(np.nanmin(arr)):.3g}. Pass the norms themselves, not their "
                "logarithms: the y axis is logarithmic already."
            )
    log = any((arr > 0).any() for arr in data.values())  # a log axis needs a positive norm
    fig, axes = new_figure((8.0, 4.4))
    ax = axes[0, 0]
    for name, arr in data.items():
        rows = arr[None] if arr.ndim == 1 else arr
        for d, row in enumerate(rows):
            y = np.where(row > 0, row, np.nan) if log else row
            label = name if len(rows) == 1 else f"{name} (direction {d})"
            label += " (all 0, not drawn)" if log and not (row > 0).any() else ""
            ax.plot(np.arange(len(row)), y, lw=1.8, marker="o" if len(row) <= 40 else None, ms=3, label=label)
    if log:
        ax.set_yscale("log")
    else:
        ax.text(0.5, 0.5, "every gradient norm is 0 (linear axis)", transform=ax.transAxes, ha="center",
                color="0.3")
    ax.set_xlabel("time step t")
    ax.set_ylabel(r"$\|\partial L / \partial h_t\|$" + (" (log scale)" if log else ""))
    ax.set_title(title or "Gradient norm through time")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=9)
    return finish(fig, path, dpi)
