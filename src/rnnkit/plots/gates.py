"""LSTM gate activations over a sequence, as heatmaps (time across, hidden units down)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ._figure import finish, new_figure
from ._inputs import named_arrays


def _limits(values: np.ndarray) -> tuple[float, float, str]:
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0, "viridis"  # sigmoid gates: input, forget, output
    if lo >= -1.0 and hi <= 1.0:
        return -1.0, 1.0, "RdBu_r"  # tanh: candidate g, cell output
    bound = max(abs(lo), abs(hi)) or 1.0
    return -bound, bound, "RdBu_r"  # e.g. the cell state c


def plot_gate_activations(gates: Any, title: str | None = None, path: str | os.PathLike | None = None,
                          dpi: int = 120) -> Any:
    """One heatmap per gate: activation of hidden unit j (row) at time step t (column).

    Colour limits follow the value range: [0, 1] for sigmoid gates (i, f, o), [-1, 1] for tanh
    outputs (g), symmetric around 0 otherwise (the cell state c).

    Args:
        gates: dict gate name -> (T, H) activations for one sequence, e.g.
            ``{"input i": ..., "forget f": ..., "cell g": ..., "output o": ...}``; every array
            must have the same T.
        title: figure title.
        path: if given, save the figure there (atomically).
        dpi: resolution when saving.

    Returns:
        The matplotlib Figure.
    """
    data = named_arrays(gates, "gates", "plot_gate_activations", ndim=(2,))
    steps = {a.shape[0] for a in data.values()}
    if len(steps) > 1:
        raise ValueError(
            f"plot_gate_activations expected every gate array to have the same number of time steps T, "
            f"got shapes {[a.shape for a in data.values()]}."
        )
    n = len(data)
    height = sum(min(max(a.shape[1], 4), 32) for a in data.values()) * 0.12 + 0.9 * n
    fig, axes = new_figure((9.0, max(3.0, height)), n, 1, sharex=True)
    for ax, (name, arr) in zip(axes[:, 0], data.items()):
        vmin, vmax, cmap = _limits(arr)
        im = ax.imshow(arr.T, aspect="auto", origin="lower", interpolation="nearest",
                       cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_ylabel(f"{name}\nunit")
        fig.colorbar(im, ax=ax, pad=0.01, fraction=0.04)
    axes[-1, 0].set_xlabel("time step t")
    fig.suptitle(title or "LSTM gate activations")
    return finish(fig, path, dpi)
