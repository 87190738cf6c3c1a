"""Plots render headless, return a Figure, write non-empty PNG files atomically, and refuse bad
input with a clear message."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from rnnkit import plots  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = open(path, "rb").read()
    assert data[:8] == PNG and len(data) > 5_000
    leftovers = [f for f in os.listdir(os.path.dirname(path)) if f.endswith(".tmp")]
    assert not leftovers, f"temporary files left behind: {leftovers}"


def test_forecast_plot(tmp_path):
    t = np.arange("2000-01", "2005-01", dtype="datetime64[M]")
    y = np.sin(np.arange(60) * 2 * np.pi / 12) + np.arange(60) * 0.05
    path = tmp_path / "forecast.png"
    fig = plots.plot_forecast(y[:48], y[48:], {"model": y[48:] + 0.1, "seasonal naive": y[36:48]}, time=t,
                              title="test", ylabel="units", last=24, path=path)
    assert fig.axes and fig.axes[0].get_title() == "test"
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert {"training", "actual (holdout)", "model", "seasonal naive"} <= set(labels)
    assert_png(path)
    plots.plot_forecast(y[:48], y[48:], y[48:], path=tmp_path / "plain.svg")  # other formats
    assert (tmp_path / "plain.svg").read_text().lstrip().startswith("<?xml")


def test_learning_curves_from_dict_and_history_like(tmp_path):
    hist = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6], "val_accuracy": [0.5, 0.7, 0.8],
            "lr": [0.1] * 3, "hidden_grad_norms": [np.ones((1, 4))] * 3}
    fig = plots.plot_learning_curves(hist, log_y=True, path=tmp_path / "curves.png")
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert_png(tmp_path / "curves.png")

    class History:
        history = {"loss": [2.0, 1.0]}

    assert len(plots.plot_learning_curves(History()).axes) == 1


def test_gradient_norms_plot_uses_log_axis(tmp_path):
    T = 30
    norms = {"RNN": 0.5 ** np.arange(T)[::-1], "LSTM": 0.9 ** np.arange(T)[::-1],
             "GRU (bidirectional)": np.stack([np.ones(T), np.r_[np.zeros(3), np.ones(T - 3)]])}
    fig = plots.plot_gradient_norms(norms, path=tmp_path / "grad.png")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 4
    assert_png(tmp_path / "grad.png")


def test_gate_heatmaps(tmp_path):
    rng = np.random.default_rng(0)
    gates = {"input i": rng.uniform(0, 1, (20, 8)), "forget f": rng.uniform(0, 1, (20, 8)),
             "cell g": rng.uniform(-1, 1, (20, 8)), "output o": rng.uniform(0, 1, (20, 8)),
             "cell state c": rng.normal(0, 3, (20, 8))}
    fig = plots.plot_gate_activations(gates, path=tmp_path / "gates.png")
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 5
    assert images[0].get_clim() == (0.0, 1.0) and images[2].get_clim() == (-1.0, 1.0)
    assert_png(tmp_path / "gates.png")


def test_saving_replaces_atomically_and_refuses_bad_paths(tmp_path):
    path = tmp_path / "f.png"
    path.write_bytes(b"old")
    fig = plots.plot_gradient_norms({"RNN": np.ones(5)}, path=path)
    assert_png(path)
    with pytest.raises(ValueError, match=r"extension among .*'png'.*got \.xyz"):
        plots.save_figure(fig, tmp_path / "f.xyz")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plots.save_figure(fig, tmp_path / "missing" / "f.png")


def test_bad_plot_input_is_refused():
    with pytest.raises(ValueError, match=r"forecast 'm' of shape \(3,\)"):
        plots.plot_forecast(np.ones(5), np.ones(3), {"m": np.ones(4)})
    with pytest.raises(ValueError, match=r"'time' of shape \(8,\)"):
        plots.plot_forecast(np.ones(5), np.ones(3), time=np.arange(7))
    with pytest.raises(TypeError, match="History"):
        plots.plot_learning_curves([1, 2, 3])
    with pytest.raises(ValueError, match="no per-epoch numbers"):
        plots.plot_learning_curves({"lr": [0.1]})
    with pytest.raises(TypeError, match="non-empty dict"):
        plots.plot_gradient_norms(np.ones(5))
    with pytest.raises(ValueError, match="same number of time steps"):
        plots.plot_gate_activations({"i": np.ones((5, 2)), "f": np.ones((6, 2))})
    with pytest.raises(ValueError, match=r"\(T, C\)"):
        plots.plot_gate_activations({"i": np.ones(5)})


def test_saving_through_a_symbolic_link_keeps_the_link(tmp_path):
    target = tmp_path / "real.png"
    target.write_bytes(b"old")
    link = tmp_path / "link.png"
    link.symlink_to("real.png")
    plots.plot_gradient_norms({"RNN": np.ones(5)}, path=link)
    assert link.is_symlink() and os.readlink(link) == "real.png"
    assert_png(target)


def test_gradient_norms_of_all_layers_are_refused_with_the_index_to_use():
    with pytest.raises(ValueError, match=r"norms\['LSTM'\] of shape \(T,\) or \(D, T\).*got shape \(2, 1, 4\).*"
                                         r"hidden_grad_norms\[0\]"):
        plots.plot_gradient_norms({"LSTM": np.ones((2, 1, 4))})
    with pytest.raises(ValueError, match=r"of shape \(T,\) or \(D, T\), got shape \(\)"):
        plots.plot_gradient_norms({"LSTM": 1.0})


def test_all_zero_gradient_norms_are_drawn_on_a_linear_axis_with_a_note():
    fig = plots.plot_gradient_norms({"RNN": np.zeros(6)})
    ax = fig.axes[0]
    assert ax.get_yscale() == "linear"
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), np.zeros(6))
    assert any("every gradient norm is 0" in t.get_text() for t in ax.texts)
    fig = plots.plot_gradient_norms({"RNN": np.zeros(6), "LSTM": np.ones(6)})  # one line all zero: named
    assert fig.axes[0].get_yscale() == "log"
    assert fig.axes[0].get_lines()[0].get_label() == "RNN (all 0, not drawn)"


@pytest.mark.parametrize("last, error", [(-3, ValueError), (0, ValueError), ("x", TypeError), (2.5, TypeError)])
def test_plot_forecast_refuses_a_bad_last(last, error):
    with pytest.raises(error, match=r"'last' parameter of plot_forecast must be an int >= 1"):
        plots.plot_forecast(np.arange(8.0), np.arange(2.0), last=last)
    fig = plots.plot_forecast(np.arange(8.0), np.arange(2.0), last=np.int64(3))
    assert len(fig.axes[0].get_lines()[0].get_xdata()) == 3
