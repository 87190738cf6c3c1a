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
            (D, T) array (per direction, as ``hidden_grad_norms`` of a layer or a History
            epoch) gives one line per row. Zeros (padded steps) are not drawn.
        title: axes title.
        path: if given, save the figure there (atomically).
        dpi: resolution when saving.

    Returns:
        The matplotlib Figure.
    """
    data = named_arrays(norms, "norms", "plot_gradient_norms", ndim=(1, 2))
    fig, axes = new_figure((8.0, 4.4))
    ax = axes[0, 0]
    for name, arr in data.items():
        rows = arr[None] if arr.ndim == 1 else arr
        for d, row in enumerate(rows):
            y = np.where(row > 0, row, np.nan)
            label = name if len(rows) == 1 else f"{name} (direction {d})"
            ax.plot(np.arange(len(row)), y, lw=1.8, marker="o" if len(row) <= 40 else None, ms=3, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("time step t")
    ax.set_ylabel(r"$\|\partial L / \partial h_t\|$ (log scale)")
    ax.set_title(title or "Gradient norm through time")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=9)
    return finish(fig, path, dpi)
