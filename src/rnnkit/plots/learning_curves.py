"""Learning curves: loss (and metrics) per epoch, training against validation."""

from __future__ import annotations

import numbers
import os
from typing import Any

import numpy as np

from ._figure import finish, new_figure

_SKIP = {"lr", "time", "grad_norm", "grad_norm_max", "hidden_grad_norms"}


def _curves(history: Any) -> dict[str, list[float]]:
    record = getattr(history, "history", history)
    if not isinstance(record, dict) or not record:
        raise TypeError(
            "plot_learning_curves expected a History (from fit) or a dict like "
            f"{{'loss': [...], 'val_loss': [...]}}, got {type(history).__name__}."
        )
    out = {}
    for key, values in record.items():
        if key in _SKIP or not isinstance(values, (list, tuple, np.ndarray)) or len(values) == 0:
            continue
        if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
            out[str(key)] = [float(v) for v in values]
    if not out:
        raise ValueError(f"plot_learning_curves found no per-epoch numbers in the history (keys {list(record)}).")
    return out


def plot_learning_curves(history: Any, log_y: bool = False, title: str | None = None,
                         path: str | os.PathLike | None = None, dpi: int = 120) -> Any:
    """Plot each quantity per epoch, the training curve beside its ``val_`` counterpart.

    Args:
        history: ``History`` returned by fit, or a dict name -> list of per-epoch values
            ("loss", "val_loss", "accuracy", "val_accuracy", ...). Bookkeeping entries ("lr",
            "time", gradient norms) are left out.
        log_y: logarithmic y axis for the loss panel.
        title: figure title.
        path: if given, save the figure there (atomically).
        dpi: resolution when saving.

    Returns:
        The matplotlib Figure: one panel per quantity ("loss" first); the best validation
        epoch is marked with a dot.
    """
    curves = _curves(history)
    bases = [k for k in curves if not k.startswith("val_")]
    bases += [k[4:] for k in curves if k.startswith("val_") and k[4:] not in curves]
    bases = sorted(bases, key=lambda k: k != "loss")  # stable: "loss" first, others in order
    fig, axes = new_figure((4.6 * len(bases), 3.6), 1, len(bases))
    for ax, base in zip(axes[0], bases):
        for key, style in ((base, {"color": "tab:blue", "label": "training"}),
                           ("val_" + base, {"color": "tab:orange", "label": "validation"})):
            if key in curves:
                y = np.asarray(curves[key])
                epochs = np.arange(1, len(y) + 1)
                ax.plot(epochs, y, marker="o" if len(y) <= 30 else None, ms=3, lw=1.5, **style)
                if key.startswith("val_") and np.isfinite(y).any():
                    best = int(np.nanargmax(y) if "acc" in base else np.nanargmin(y))
                    ax.plot(epochs[best], y[best], "o", color="tab:red", ms=7, zorder=3,
                            label=f"best epoch {best + 1}")
        if log_y and base == "loss":
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(base)
        ax.set_title(base)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    if title:
        fig.suptitle(title)
    return finish(fig, path, dpi)
