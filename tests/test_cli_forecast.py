"""`rnnkit forecast fit|predict` end to end on a small monthly series, and every bad input:
exit code 1, a message naming the file, line and column, and no traceback."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_helpers import run, user_error
from rnnkit.cli.main import main

FAST = ["--epochs", "2", "--hidden-size", "4", "--lookback", "12", "--quiet"]


def write_series(path, n=72, start="2015-01", edit=None):
    """A monthly CSV (month, sales, other): trend + yearly cycle. ``edit(lines)`` changes rows."""
    t = np.arange(n)
    y = 10 + 0.05 * t + np.sin(2 * np.pi * t / 12)
    months = np.datetime64(start, "M") + t
    lines = ["month,sales,other"] + [f"{m},{v:.4f},{i}" for i, (m, v) in enumerate(zip(months, y))]
    if edit is not None:
        edit(lines)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """One `forecast fit` run shared by the tests that read its outputs."""
    d = tmp_path_factory.mktemp("forecast")
    data = write_series(d / "sales.csv")
    code = main(["forecast", "fit", str(data), "--target", "sales", "--time", "month", "--horizon", "6",
                 "--out", str(d / "run"), *FAST])
    assert code == 0
    return d, data


def test_fit_writes_model_metrics_and_plots(fitted):
    d, _ = fitted
    run_dir = d / "run"
    assert {p.name for p in run_dir.iterdir()} >= {"model.safetensors", "metrics.json", "run.json",
                                                    "forecast.png", "history.png"}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["model"]) == {"mae", "rmse", "mape", "smape", "mase"}
    assert set(metrics["seasonal_naive"]) == set(metrics["model"])
    assert metrics["n_holdout"] == 6 and metrics["n_train"] == 66 and metrics["lookback"] == 12
    assert len(metrics["forecast"]) == 6 and metrics["holdout_start"] == "2020-07"
    run = json.loads((run_dir / "run.json").read_text())
    assert run["data"]["target"] == "sales" and run["data"]["time"] == "month"


def test_fit_prints_metrics_beside_the_baseline(tmp_path, capsys):
    data = write_series(tmp_path / "s.csv")
    code, out, err = run(capsys, "forecast", "fit", data, "--target", "sales", "--horizon", "3", "--out",
                         tmp_path / "o", "--cell", "gru", "--season", "6", "--refit", *FAST)
    assert code == 0, err
    assert "seasonal naive" in out and "MASE" in out and "season m = 6" in out and "GRU" in out
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["season"] == 6 and metrics["refit"]["n_train"] == 72


def test_same_seed_same_forecast(fitted, tmp_path, capsys):
    d, data = fitted
    code, _, err = run(capsys, "forecast", "fit", data, "--target", "sales", "--time", "month", "--horizon", "6",
                       "--out", tmp_path / "again", *FAST)
    assert code == 0, err
    first = json.loads((d / "run" / "metrics.json").read_text())["forecast"]
    assert json.loads((tmp_path / "again" / "metrics.json").read_text())["forecast"] == first


def test_predict_writes_the_next_steps(fitted, tmp_path, capsys):
    d, data = fitted
    out_csv = tmp_path / "f.csv"
    code, out, err = run(capsys, "forecast", "predict", d / "run", data, "--out", out_csv)
    assert code == 0, err
    lines = out_csv.read_text().splitlines()
    assert lines[0] == "step,time,sales" and len(lines) == 7
    assert lines[1].startswith("1,2021-01,") and lines[6].startswith("6,2021-06,")
    assert np.isfinite([float(r.split(",")[2]) for r in lines[1:]]).all()
    # the model file itself works too, and without --out the table goes to stdout
    code, out, err = run(capsys, "forecast", "predict", d / "run" / "model.safetensors", data)
    assert code == 0 and out.splitlines() == lines


def test_predict_continues_decimal_times_exactly(fitted, tmp_path, capsys):
    d, data = fitted
    decimal = tmp_path / "decimal.csv"  # times 0.9, 1.0, ..., 8.0: a float step would print 8.299999999999999
    lines = data.read_text().splitlines()
    decimal.write_text("\n".join([lines[0]] + [f"{round(0.9 + k / 10, 1)}," + line.split(",", 1)[1]
                                               for k, line in enumerate(lines[1:])]) + "\n")
    code, out, err = run(capsys, "forecast", "predict", d / "run", decimal)
    assert code == 0, err
    assert [row.split(",")[1] for row in out.splitlines()[1:]] == ["8.1", "8.2", "8.3", "8.4", "8.5", "8.6"]


def test_predict_without_the_time_column(fitted, tmp_path, capsys):
    d, data = fitted
    plain = tmp_path / "plain.csv"
    plain.write_text("\n".join(line.split(",")[1] for line in data.read_text().splitlines()) + "\n")
    code, out, err = run(capsys, "forecast", "predict", d / "run", plain)
    assert code == 0, err
    assert out.splitlines()[0] == "step,sales" and len(out.splitlines()) == 7
    code, _, err = run(capsys, "forecast", "predict", d / "run", plain, "--time", "month")
    user_error(code, err, "plain.csv", "'month'", "--time")


# -- bad input ------------------------------------------------------------------------------
def _fit(capsys, data, tmp_path, *extra):
    return run(capsys, "forecast", "fit", data, "--target", "sales", "--time", "month", "--horizon", "6",
               "--out", tmp_path / "out", *FAST, *extra)


def test_missing_file(tmp_path, capsys):
    code, _, err = _fit(capsys, tmp_path / "nope.csv", tmp_path)
    user_error(code, err, "nope.csv", "Check the path")


def test_missing_target_column(tmp_path, capsys):
    data = write_series(tmp_path / "s.csv")
    code, _, err = run(capsys, "forecast", "fit", data, "--target", "Sales", "--horizon", "6", "--out", tmp_path)
    user_error(code, err, "s.csv", "line 1", "'Sales'", "--target", "Did you mean 'sales'")


def test_missing_time_column(tmp_path, capsys):
    data = write_series(tmp_path / "s.csv")
    code, _, err = run(capsys, "forecast", "fit", data, "--target", "sales", "--time", "date", "--horizon", "6",
                       "--out", tmp_path)
    user_error(code, err, "s.csv", "'date'", "--time")


def test_non_numeric_value(tmp_path, capsys):
    data = write_series(tmp_path / "s.csv", edit=lambda lines: lines.__setitem__(5, "2015-05,12;5,4"))
    code, _, err = _fit(capsys, data, tmp_path)
    user_error(code, err, "s.csv", "line 6", "column 'sales'", "'12;5'")


@pytest.mark.parametrize("fill", ["ffill", "interpolate"])
def test_missing_value_refused_then_filled(tmp_path, capsys, fill):
    data = write_series(tmp_path / "s.csv", edit=lambda lines: lines.__setitem__(10, "2015-10,,9"))
    code, _, err = _fit(capsys, data, tmp_path)
    user_error(code, err, "s.csv", "line 11", "column 'sales'", "--fill ffill", "--fill interpolate")
    code, _, err = _fit(capsys, data, tmp_path, "--fill", fill)
    assert code == 0, err


def test_gap_in_time_refused_then_filled(tmp_path, capsys):
    data = write_series(tmp_path / "s.csv", edit=lambda lines: lines.pop(20))
    code, _, err = _fit(capsys, data, tmp_path)
    user_error(code, err, "s.csv", "line 21", "column 'month'", "gap", "--fill")
    code, _, err = _fit(capsys, data, tmp_path, "--fill", "interpolate")
    assert code == 0, err


def test_series_shorter_than_lookback_plus_horizon(tmp_path, capsys):
    data = write_series(tmp_path / "s.csv", n=20)
    code, _, err = _fit(capsys, data, tmp_path)
    user_error(code, err, "s.csv", "column 'sales'", "20 values", "--lookback 12", "--horizon 6")


def test_bad_option_values_are_usage_errors(tmp_path, capsys):
    data = write_series(tmp_path / "s.csv")
    code, _, err = run(capsys, "forecast", "fit", data, "--target", "sales", "--horizon", "0", "--out", tmp_path)
    assert code == 2 and "--horizon" in err and "expected an int >= 1, got '0'" in err and "Traceback" not in err
    code, _, err = run(capsys, "forecast", "fit", data, "--horizon", "3", "--out", tmp_path)
    assert code == 2 and "--target" in err
    code, _, err = run(capsys, "forecast", "fit", data, "--target", "sales", "--horizon", "3", "--out", tmp_path,
                       "--cell", "transformer")
    assert code == 2 and "invalid choice: 'transformer'" in err


def test_out_is_a_file(tmp_path, capsys):
    data = write_series(tmp_path / "s.csv")
    code, _, err = run(capsys, "forecast", "fit", data, "--target", "sales", "--horizon", "3", "--out", data)
    user_error(code, err, "s.csv", "is a file")


def test_predict_refuses_unreadable_and_foreign_model_files(fitted, tmp_path, capsys):
    from rnnkit.io import write_safetensors

    _, data = fitted
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01not a model at all")
    code, _, err = run(capsys, "forecast", "predict", garbage, data)
    user_error(code, err, "garbage.safetensors")
    foreign = tmp_path / "foreign.safetensors"
    write_safetensors(foreign, {"w": np.zeros(3, np.float32)}, {})
    code, _, err = run(capsys, "forecast", "predict", foreign, data)
    user_error(code, err, "foreign.safetensors", "not an rnnkit model")
    code, _, err = run(capsys, "forecast", "predict", tmp_path / "missing.safetensors", data)
    user_error(code, err, "missing.safetensors")


def test_predict_series_shorter_than_lookback(fitted, tmp_path, capsys):
    d, _ = fitted
    short = write_series(tmp_path / "short.csv", n=5)
    code, _, err = run(capsys, "forecast", "predict", d / "run", short)
    user_error(code, err, "short.csv", "column 'sales'", "12")


def test_empty_target_column_with_fill_names_the_file_and_target(tmp_path, capsys):
    data = write_series(tmp_path / "s.csv")
    data.write_text("\n".join(f"{m},,{o}" if i else f"{m},{s},{o}" for i, (m, s, o) in
                              enumerate(line.split(",") for line in data.read_text().splitlines())) + "\n")
    code, _, err = _fit(capsys, data, tmp_path, "--fill", "ffill")
    user_error(code, err, "s.csv', column 'sales': no value in this column (every cell is empty or NA), so --fill "
               "ffill has nothing to fill it from. Check the column name.")
    assert "Drop the column" not in err


def test_semicolon_file_without_delimiter_hints_at_it(tmp_path, capsys):
    data = write_series(tmp_path / "s.csv")
    data.write_text(data.read_text().replace(",", ";"))
    code, _, err = _fit(capsys, data, tmp_path)
    user_error(code, err, "s.csv", "no column 'sales'", "pass --delimiter ';'")
    code, _, err = _fit(capsys, data, tmp_path, "--delimiter", ";")
    assert code == 0, err


def test_predict_with_label_times_writes_no_time_column(fitted, tmp_path, capsys):
    d, data = fitted
    labelled = tmp_path / "labels.csv"  # the fit's time column 'month' holds labels, not dates
    lines = data.read_text().splitlines()
    labelled.write_text("\n".join([lines[0]] + [f"p{i}," + line.split(",", 1)[1]
                                                for i, line in enumerate(lines[1:])]) + "\n")
    code, out, err = run(capsys, "forecast", "predict", d / "run", labelled)
    assert code == 0, err
    assert out.splitlines()[0] == "step,sales" and out.splitlines()[1].startswith("1,")


@pytest.mark.parametrize("inputs", ["X", "known"])
def test_predict_refuses_a_model_fitted_in_python_with_covariates(fitted, tmp_path, capsys, inputs):
    from rnnkit.estimators import Forecaster

    _, data = fitted
    t = np.arange(72)
    y, extra = 10 + np.sin(2 * np.pi * t / 12), (t % 12 == 0).astype(float)
    model = Forecaster(horizon=3, lookback=12, hidden_size=4, epochs=1, seed=0, verbose=False)
    model.fit(y, **{inputs: extra}).save(tmp_path / "python.safetensors")
    code, _, err = run(capsys, "forecast", "predict", tmp_path / "python.safetensors", data)
    what = "covariates X (1)" if inputs == "X" else "known covariates (1)"
    user_error(code, err, "python.safetensors", f"fitted in Python with {what}",
               "Forecaster.predict(y, X=..., known=...)")
