"""Plots, second read: negative gradient norms (e.g. logarithms) are refused instead of drawn
wrongly, a bad dpi is refused before anything is written, empty arrays are refused, and the
forecast plot labels both axes."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from rnnkit import plots  # noqa: E402


@pytest.mark.parametrize("norms", [np.log10(0.5 ** np.arange(1.0, 11.0)),   # all < 0: was "every norm is 0"
                                   np.array([1.0, -0.5, 2.0])])             # one < 0: was silently left out
def test_gradient_norms_refuse_negative_values(norms):
    with pytest.raises(ValueError, match=r"norms\['RNN'\] >= 0 .*negative value.*not their logarithms"):
        plots.plot_gradient_norms({"RNN": norms})


def test_gradient_norms_still_take_zeros_and_nan_gaps():
    fig = plots.plot_gradient_norms({"RNN": np.array([0.0, np.nan, 0.5, 1.0])})
    assert fig.axes[0].get_yscale() == "log"


@pytest.mark.parametrize("dpi, error", [(0, ValueError), (-5, ValueError), (float("nan"), ValueError),
                                        ("high", TypeError), (True, TypeError), (None, TypeError)])
def test_a_bad_dpi_is_refused_and_nothing_is_written(tmp_path, dpi, error):
    path = tmp_path / "f.png"
    with pytest.raises(error, match=r"'dpi' parameter of save_figure must be a finite float > 0"):
        plots.plot_gradient_norms({"RNN": np.ones(5)}, path=path, dpi=dpi)
    assert os.listdir(tmp_path) == []
    plots.plot_gradient_norms({"RNN": np.ones(5)}, path=path, dpi=np.float64(50.5))
    assert path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("call", [
    lambda: plots.plot_gradient_norms({"RNN": np.array([])}),
    lambda: plots.plot_gate_activations({"input i": np.ones((0, 4))}),
    lambda: plots.plot_gate_activations({"input i": np.ones((5, 0))}),
])
def test_empty_arrays_are_refused(call):
    with pytest.raises(ValueError, match=r"to hold at least one value, got an empty array of shape"):
        call()


def test_forecast_plot_labels_both_axes_by_default():
    ax = plots.plot_forecast(np.arange(10.0), np.arange(10.0, 13.0), np.arange(10.0, 13.0)).axes[0]
    assert ax.get_xlabel() == "time step" and ax.get_ylabel() == "value"
    ax = plots.plot_forecast(np.arange(10.0), np.arange(10.0, 13.0), ylabel="ppmv").axes[0]
    assert ax.get_ylabel() == "ppmv"
