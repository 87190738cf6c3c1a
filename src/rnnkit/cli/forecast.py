"""``rnnkit forecast fit`` and ``rnnkit forecast predict``: one series in a CSV file, forecast
H steps ahead with :class:`rnnkit.Forecaster`.

``fit`` holds out the last H values of the series (H = ``--horizon``), trains on the rest,
forecasts the holdout and scores it beside the seasonal-naive forecast (the last season
repeated; season m from ``--season``, else the one the Forecaster finds). With ``--refit``
the saved model is then trained again on the whole series (unless Ctrl-C interrupted the first
fit); without, the saved model is the one that was scored. ``predict`` forecasts the H steps
after the end of the series it is given.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import CLIError, training
from .inputs import read_header, require_columns
from .options import (add_estimator_options, add_fill_option, add_run_options, delimiter_char, estimator_params,
                      lookback_int, out_path, positive_int)
from .output import (METRICS_FILE, MODEL_FILE, RUN_FILE, history_curves, load_estimator_of, note_interrupted,
                     out_dir, print_written, read_run_record, save_plot, table, write_csv, write_file, write_json,
                     write_run_record)

#: what ``forecast fit`` (and ``rnnkit demo``) write into --out
FIT_FILES = (MODEL_FILE, METRICS_FILE, RUN_FILE, "forecast.png", "history.png")


def register(sub: Any) -> None:
    parser = sub.add_parser("forecast", help="forecast a time series (CSV) with a recurrent network",
                            description="Forecast a series stored in a CSV file. 'fit' holds out the last "
                                        "--horizon values, trains on the rest and scores the holdout beside the "
                                        "seasonal-naive baseline; 'predict' forecasts the steps after a series.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    fit = actions.add_parser(
        "fit", help="train a forecaster on one column of a CSV file",
        description="Train a Forecaster on one column of a CSV file (one row per time step). Writes "
                    f"{MODEL_FILE}, {METRICS_FILE} (holdout metrics beside the seasonal-naive baseline), "
                    "forecast.png, history.png and run.json into --out.",
        epilog="Example: rnnkit forecast fit sales.csv --target units --time month --horizon 12 --out runs/sales")
    fit.add_argument("data", metavar="DATA.csv", help="CSV file, one row per time step, a header line")
    fit.add_argument("--target", required=True, metavar="COL", help="the column to forecast")
    fit.add_argument("--time", metavar="COL", help="the time column (dates or numbers); checked for gaps")
    fit.add_argument("--horizon", type=positive_int, required=True, metavar="H", help="steps to forecast")
    fit.add_argument("--lookback", type=lookback_int, metavar="L", help="past steps the network reads, >= 2 "
                     "(default: two seasons, at least 8, fewer for a short series)")
    fit.add_argument("--season", dest="seasonal_period", type=positive_int, metavar="M",
                     help="seasonal period: of the baseline, of MASE and of the forecaster's seasonal anchor "
                          "(default: guessed from the data)")
    fit.add_argument("--refit", action="store_true",
                     help="after scoring the holdout, train the saved model again on the whole series")
    add_fill_option(fit)
    fit.add_argument("--delimiter", type=delimiter_char, default=",", metavar="CHAR",
                     help="field separator, one character; '\\t' or 'tab' for a tab (default ',')")
    fit.add_argument("--out", type=out_path, required=True, metavar="DIR",
                     help="folder for the model, metrics and plots")
    add_estimator_options(fit)
    add_run_options(fit)
    fit.set_defaults(func=fit_command)

    pred = actions.add_parser(
        "predict", help="forecast the steps after the end of a series",
        description="Forecast the H steps that follow the last row of DATA.csv with a model from "
                    "'rnnkit forecast fit'. The target and time columns default to those of the fit (run.json).",
        epilog="Example: rnnkit forecast predict runs/sales sales.csv --out forecast.csv")
    pred.add_argument("model", metavar="MODEL", help=f"{MODEL_FILE}, or the --out folder of 'forecast fit'")
    pred.add_argument("data", metavar="DATA.csv", help="CSV file with the series up to now")
    pred.add_argument("--target", metavar="COL", help="the column to forecast (default: as in the fit)")
    pred.add_argument("--time", metavar="COL", help="the time column (default: the fit's, if the file has it)")
    add_fill_option(pred)
    pred.add_argument("--delimiter", type=delimiter_char, default=None, metavar="CHAR",
                      help="field separator, one character; '\\t' or 'tab' for a tab (default: as in the fit)")
    pred.add_argument("--out", type=out_path, metavar="FILE.csv", help="write the forecast here (default: print it)")
    pred.set_defaults(func=predict_command)


# -- reading --------------------------------------------------------------------------------
def read_series(path: str, target: str, time: str | None, fill: str | None,
                delimiter: str = ",") -> tuple[np.ndarray, np.ndarray | None]:
    """The ``target`` column of a wide CSV file as (T,) floats, and its times (T,) or None."""
    from ..data import read_csv_wide

    require_columns(path, read_header(path, delimiter), {"--target": target, "--time": time})
    if time is not None and time == target:
        raise CLIError(f"--time and --target both name the column {target!r}; the time column cannot be forecast.")
    values, times, _ = read_csv_wide(path, time_column=time, columns=[target], fill=fill, delimiter=delimiter)
    return values[:, 0], times


def check_length(path: str, target: str, n: int, horizon: int, lookback: int | None) -> None:
    """Refuse a series too short to hold out ``horizon`` values and train on the rest: the
    Forecaster needs lookback + horizon + 1 training values (at least one window beside the
    one-step-later window)."""
    L = lookback or 2
    need = L + 2 * horizon + 1
    if n < need:
        lb = f"--lookback {lookback}" if lookback else "the shortest lookback (2)"
        raise CLIError(f"Cannot use '{path}', column '{target}': the series has {n} values, but {lb} with "
                       f"--horizon {horizon} needs at least {need}: {L + horizon + 1} to train on (lookback + "
                       f"horizon + 1) and {horizon} held out for the metrics. Use a shorter --lookback or --horizon, "
                       "or a longer series.")


# -- fit ------------------------------------------------------------------------------------
def fit_and_report(y: np.ndarray, times: np.ndarray | None, params: dict[str, Any], out: Path, *,
                   source: str, target: str, refit: bool, argv: Sequence[str] | None,
                   data_record: dict[str, Any], written: Sequence[str] = ()) -> dict[str, Any]:
    """Hold out the last ``horizon`` values, fit, score beside seasonal naive, save and plot.

    Args:
        y: (T,) the series. times: (T,) or None.
        params: Forecaster keyword arguments (``horizon`` among them).
        out: the output folder.
        source, target: the file and column, for messages and metrics.json.
        refit: train the saved model again on the whole series.
        argv, data_record: what run.json records.
        written: files the caller already wrote into ``out`` (listed with the others).

    Returns:
        The metrics written to metrics.json.
    """
    from ..estimators import Forecaster
    from ..metrics import forecast_report, seasonal_naive
    from ..plots import plot_forecast, plot_learning_curves

    horizon, season = params["horizon"], params.get("seasonal_period")
    check_length(source, target, len(y), horizon, params.get("lookback"))
    train, test = y[:-horizon], y[-horizon:]
    if season is not None and len(train) <= season:
        raise CLIError(f"Cannot use '{source}', column '{target}': --season {season} needs more than {season} "
                       f"training values, got {len(train)}. Pass a smaller --season.")
    model = Forecaster(**params)
    with training(f"Cannot fit on '{source}', column '{target}' ({len(train)} training values)"):
        model.fit(train)
    note_interrupted(model.history_)
    m = model.seasonal_period_
    forecast = np.asarray(model.predict(train), dtype=np.float64).reshape(-1)
    report = forecast_report(test, forecast, train, m=m)
    metrics = {"data": source, "target": target, "horizon": horizon, "season": m, "lookback": model.lookback_,
               "n_train": len(train), "n_holdout": horizon,
               "holdout_start": _time_text(times[len(train)]) if times is not None else len(train),
               "model": report["model"], "seasonal_naive": report["seasonal_naive"],
               "forecast": forecast, "actual": test, "training": model.history_}
    label = model.cell.upper()
    written = [*written, MODEL_FILE, METRICS_FILE, RUN_FILE]
    baselines = {f"{label} forecast": forecast, f"seasonal naive (m={m})": seasonal_naive(train, horizon, m)}
    curves = history_curves(model.history_)  # of the holdout fit, before a refit replaces the history
    if refit and model.history_.get("stop_reason") == "interrupted":
        print("rnnkit: note: --refit skipped because training was interrupted (Ctrl-C): the model saved is the "
              "one trained so far, which the holdout metrics score.", file=sys.stderr)
    elif refit:
        with training(f"Cannot refit on '{source}', column '{target}' ({len(y)} values)"):
            model.fit(y)
        metrics["refit"] = {"n_train": len(y), "training": model.history_}
    write_file(out / MODEL_FILE, model.save)
    write_json(out / METRICS_FILE, metrics)
    write_run_record(out, "forecast", argv, data_record, model)
    # the plots last, once the run has succeeded: a failed run never leaves new plots beside old files
    if save_plot(plot_forecast, out / "forecast.png", y_train=train, y_test=test, forecasts=baselines, time=times,
                 title=f"{target}: the last {horizon} steps held out", ylabel=target, last=max(6 * horizon, 4 * m)):
        written.append("forecast.png")
    if curves and save_plot(plot_learning_curves, out / "history.png", history=curves,
                            title=f"Training ({target})"):
        written.append("history.png")
    _print_report(metrics, label)
    print_written(out, written)
    return metrics


def _print_report(metrics: dict[str, Any], label: str) -> None:
    rows = [[name.upper(), metrics["model"][name], metrics["seasonal_naive"][name]]
            for name in ("mae", "rmse", "mape", "smape", "mase")]
    print(f"\nHoldout: the last {metrics['n_holdout']} values of '{metrics['target']}' (from "
          f"{metrics['holdout_start']}), trained on the {metrics['n_train']} before them; season m = "
          f"{metrics['season']}.")
    print(table(["metric", label, "seasonal naive"], rows))
    model_mase, base_mase = metrics["model"]["mase"], metrics["seasonal_naive"]["mase"]
    if math.isfinite(model_mase) and math.isfinite(base_mase):
        verdict = "beats" if model_mase < base_mase else "does not beat"
        print(f"The network {verdict} the seasonal-naive baseline (MASE {model_mase:.3f} vs {base_mase:.3f}).")


def fit_command(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from ..estimators import Forecaster

    y, times = read_series(args.data, args.target, args.time, args.fill, args.delimiter)
    params = estimator_params(args, Forecaster)
    record = {"file": str(Path(args.data).resolve()), "target": args.target, "time": args.time,
              "fill": args.fill, "delimiter": args.delimiter}
    with out_dir(args.out, FIT_FILES) as out:
        fit_and_report(y, times, params, out, source=args.data, target=args.target, refit=args.refit, argv=argv,
                       data_record=record)
    return 0


# -- predict --------------------------------------------------------------------------------
def predict_command(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    model, path = load_estimator_of(args.model, "Forecaster", "rnnkit forecast predict")
    inputs = {"covariates X": model.n_covariates_, "known covariates": getattr(model, "n_known_", 0)}
    needed = [f"{what} ({n})" for what, n in inputs.items() if n]
    if needed:
        raise CLIError(f"'{path}' holds a Forecaster fitted in Python with {' and '.join(needed)}, which the "
                       "command line cannot pass. Forecast with it in Python: Forecaster.predict(y, X=..., known=...).")
    data = read_run_record(path).get("data", {})
    target = args.target or data.get("target")
    if target is None:
        raise CLIError(f"Name the column to forecast with --target (there is no run.json beside '{path}' "
                       "to take it from).")
    delimiter = args.delimiter or data.get("delimiter") or ","
    time = args.time
    if time is None and data.get("time") in read_header(args.data, delimiter):  # the fit's, when the file has it
        time = data["time"]
    y, times = read_series(args.data, target, time, args.fill, delimiter)
    if len(y) < model.lookback_:
        raise CLIError(f"Cannot forecast from '{args.data}', column '{target}': the model reads the last "
                       f"{model.lookback_} values, but the series has only {len(y)}. Pass a longer series.")
    try:
        forecast = np.asarray(model.predict(y), dtype=np.float64).reshape(-1)
    except ValueError as exc:
        raise CLIError(f"Cannot forecast from '{args.data}', column '{target}': {exc}") from exc
    future = _future_times(times, len(forecast))
    header = ["step"] + (["time"] if future is not None else []) + [target]
    rows = [[h + 1] + ([_time_text(future[h])] if future is not None else []) + [f"{float(v):.10g}"]
            for h, v in enumerate(forecast)]
    write_csv(args.out, header, rows)
    if args.out is not None:
        print(f"Wrote {len(rows)} forecast steps of '{target}' to {args.out}")
    return 0


def _future_times(times: np.ndarray | None, n: int) -> np.ndarray | None:
    """The n times after the last one, one regular step apart (None if times are labels)."""
    from ..data._time import next_times

    return None if times is None else next_times(times, n)


def _time_text(t: Any) -> str:
    if isinstance(t, (float, np.floating)) and float(t).is_integer():
        return str(int(t))
    return str(t)
