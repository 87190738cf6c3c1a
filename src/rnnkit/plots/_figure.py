"""Headless figures: matplotlib's Agg canvas without pyplot, and atomic saving.

Figures are built as ``matplotlib.figure.Figure`` objects on a ``FigureCanvasAgg``: no GUI
backend is touched, no global pyplot state is kept (nothing to close, nothing leaks between
calls), and Jupyter still displays the returned Figure. matplotlib is imported here, lazily,
so ``import rnnkit`` does not need it.
"""

from __future__ import annotations

import os
from typing import Any


from .._checks import check_finite_float
from .._files import atomic_write


def new_figure(figsize: tuple[float, float], nrows: int = 1, ncols: int = 1, **subplot_kw: Any) -> tuple[Any, Any]:
    """A Figure on an Agg canvas and its axes (``Figure.subplots`` result)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "rnnkit.plots needs matplotlib. Install it with: pip install 'rnnkit[plot]' "
            "(or pip install matplotlib)."
        ) from None
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)
    return fig, axes


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 120) -> None:
    """Write ``fig`` to ``path`` atomically (``rnnkit._files.atomic_write``: a reader of ``path``
    never sees a half-written file, a failed save leaves an existing file untouched, a symbolic
    link is kept and an overwritten file keeps its permissions). The format follows the file
    extension (.png, .svg, .pdf, ...); ``dpi`` (a number > 0) sets the resolution.
    """
    check_finite_float(dpi, "dpi", "save_figure", low_open=True, hint="(dots per inch, e.g. 120)")
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    supported = fig.canvas.get_supported_filetypes()
    if ext not in supported:
        raise ValueError(
            f"Cannot save a figure to '{path}': expected a file extension among "
            f"{sorted(supported)}, got {('.' + ext) if ext else 'none'}. Name the file e.g. 'plot.png'."
        )
    atomic_write(path, lambda f: fig.savefig(f, format=ext, dpi=dpi))


def finish(fig: Any, path: str | os.PathLike | None, dpi: int) -> Any:
    """Save ``fig`` if a path is given; return it."""
    if path is not None:
        save_figure(fig, path, dpi)
    return fig
