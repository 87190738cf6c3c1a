"""Plots (matplotlib, headless Agg canvas; matplotlib is imported only when a plot is made).

Each function returns the matplotlib Figure and, given ``path=``, saves it atomically:

- :func:`plot_forecast`: forecast(s) against actuals, training / holdout split marked.
- :func:`plot_learning_curves`: loss and metrics per epoch from a History or a dict.
- :func:`plot_gradient_norms`: ||dL/dh_t|| through time per cell type, log y axis.
- :func:`plot_gate_activations`: LSTM gate activations over a sequence as heatmaps.
- :func:`save_figure`: atomic save of any Figure.
"""

from ._figure import save_figure
from .forecast import plot_forecast
from .gates import plot_gate_activations
from .gradients import plot_gradient_norms
from .learning_curves import plot_learning_curves

__all__ = ["plot_forecast", "plot_learning_curves", "plot_gradient_norms", "plot_gate_activations",
           "save_figure"]
