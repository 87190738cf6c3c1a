"""``rnnkit classify fit`` and ``rnnkit classify predict``: one class per sequence with
:class:`rnnkit.SequenceClassifier`, from a UCR/UEA ``.ts`` file or a CSV file (layouts in
:mod:`rnnkit.cli.sequence_files`).

``fit`` trains on TRAIN and, with ``--test``, scores the test file: accuracy beside the
majority-class baseline (always answering the most frequent training class) and the confusion
matrix, in ``metrics.json``. ``predict`` writes one row per sequence: its id, the predicted
class and the probability of every class.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import CLIError, training
from .options import (add_estimator_options, add_fill_option, add_run_options, delimiter_char, estimator_params,
                      out_path)
from .output import (METRICS_FILE, MODEL_FILE, RUN_FILE, history_curves, load_estimator_of, note_interrupted, out_dir,
                     print_written, read_run_record, save_plot, table, write_csv, write_file, write_json,
                     write_run_record)
from .sequence_files import FORMATS, Sequences, read_sequences

LAYOUT_HELP = ("TRAIN/DATA is a UCR/UEA .ts file, or a CSV file: 'wide' = one row per sequence, a label column "
               "and one column per time step (empty cells at the end of a row: a shorter sequence); 'long' = one "
               "row per step with id, time, value column(s) and label. See docs/cli.md.")


def register(sub: Any) -> None:
    parser = sub.add_parser("classify", help="classify sequences (.ts or CSV) with a recurrent network",
                            description="Classify sequences (one class each). 'fit' trains and, with --test, scores "
                                        "the test file beside the majority-class baseline; 'predict' labels new "
                                        "sequences. "
                                        + LAYOUT_HELP)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    fit = actions.add_parser("fit", help="train a sequence classifier",
                             description="Train a SequenceClassifier. Writes model.safetensors, metrics.json "
                                         "(with --test: accuracy beside the majority-class baseline), history.png "
                                         "and run.json into --out. " + LAYOUT_HELP,
                             epilog="Example: rnnkit classify fit GunPoint_TRAIN.ts --test GunPoint_TEST.ts "
                                    "--out runs/gp")
    fit.add_argument("train", metavar="TRAIN", help="training sequences with labels (.ts, .ts.gz or .csv)")
    fit.add_argument("--test", metavar="TEST", help="labelled test sequences in the same layout, for the metrics")
    fit.add_argument("--out", type=out_path, required=True, metavar="DIR",
                     help="folder for the model, metrics and plot")
    _add_layout_options(fit)
    add_estimator_options(fit)
    add_run_options(fit)
    fit.set_defaults(func=fit_command)

    pred = actions.add_parser("predict", help="predict the class of each sequence",
                              description="Predict the class of every sequence in DATA with a model from "
                                          "'rnnkit classify fit'. Writes id, predicted class and class "
                                          "probabilities as CSV; if DATA has labels, prints the accuracy. "
                                          + LAYOUT_HELP,
                              epilog="Example: rnnkit classify predict runs/gp GunPoint_TEST.ts --out predictions.csv")
    pred.add_argument("model", metavar="MODEL", help=f"{MODEL_FILE}, or the --out folder of 'classify fit'")
    pred.add_argument("data", metavar="DATA", help="sequences (.ts, .ts.gz or .csv); labels optional")
    pred.add_argument("--out", type=out_path, metavar="FILE.csv",
                      help="write the predictions here (default: print them)")
    _add_layout_options(pred)
    pred.set_defaults(func=predict_command)


#: the layout options' defaults; ``predict`` first takes those recorded by ``fit`` (run.json)
LAYOUT_DEFAULTS = {"format": "auto", "label": "label", "id_column": "id", "time_column": "time", "values": None,
                   "fill": None, "delimiter": ","}


def _add_layout_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("file layout")
    group.add_argument("--format", choices=FORMATS,
                       help="ts, wide or long (default auto: ts by the file name, long when the CSV has the --id "
                            "and --time columns, else wide)")
    group.add_argument("--label", metavar="COL", help="CSV column of the class (default label)")
    group.add_argument("--id", dest="id_column", metavar="COL",
                       help="CSV column naming each sequence (default id; optional in wide files)")
    group.add_argument("--time", dest="time_column", metavar="COL",
                       help="time column of a long CSV (default time)")
    group.add_argument("--values", type=lambda s: [c.strip() for c in s.split(",") if c.strip()], metavar="COLS",
                       help="comma-separated value columns (default: all the others)")
    group.add_argument("--delimiter", type=delimiter_char, metavar="CHAR",
                       help="CSV field separator, one character; '\\t' or 'tab' for a tab (default ',')")
    add_fill_option(group)


#: the column options that a CSV file must have when they are typed on the command line
COLUMN_FLAGS = {"label": "--label", "id_column": "--id", "time_column": "--time"}


def _resolve_layout(args: argparse.Namespace, recorded: dict[str, Any]) -> None:
    """Fill the layout options not given: from ``recorded`` (run.json of the fit), else the
    defaults; ``args.given`` keeps the column options that were typed (those columns must exist)."""
    args.given = {flag for name, flag in COLUMN_FLAGS.items() if getattr(args, name) is not None}
    for name, default in LAYOUT_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, recorded.get(name, default))


def _read(path: str, args: argparse.Namespace, need_labels: bool) -> Sequences:
    return read_sequences(path, fmt=args.format, label=args.label, id_column=args.id_column,
                          time_column=args.time_column, values=args.values, fill=args.fill,
                          delimiter=args.delimiter, need_labels=need_labels, given=args.given)


def _majority(train_y: np.ndarray) -> Any:
    classes, counts = np.unique(train_y, return_counts=True)
    return classes[int(np.argmax(counts))]


def _scored(clf: Any, data: Sequences, what: str) -> np.ndarray:
    """``clf.predict`` on the sequences of a file; a mismatch (e.g. channels) names the file."""
    try:
        return clf.predict(data.X)
    except ValueError as exc:
        raise CLIError(f"Cannot {what} '{data.path}': {exc}") from exc


# -- fit ------------------------------------------------------------------------------------
def fit_command(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from ..estimators import SequenceClassifier

    _resolve_layout(args, {})
    train = _read(args.train, args, need_labels=True)
    test = _read(args.test, args, need_labels=True) if args.test else None
    classes = np.unique(train.y)
    if len(classes) < 2:
        raise CLIError(f"Cannot train on '{args.train}': every sequence has the label {str(classes[0])!r}; a "
                       "classifier needs at least 2 classes.")
    if test is not None:
        _check_channels(train, test)
    clf = SequenceClassifier(**estimator_params(args, SequenceClassifier))
    with out_dir(args.out, (MODEL_FILE, METRICS_FILE, RUN_FILE, "history.png")) as out:
        with training(f"Cannot train on '{args.train}'"):
            clf.fit(train.X, train.y)
        note_interrupted(clf.history_)
        majority = _majority(train.y)
        metrics: dict[str, Any] = {
            "train": {"file": args.train, "n": len(train.X),
                      "accuracy": float(np.mean(_scored(clf, train, "score") == train.y)),
                      "majority_baseline": float(np.mean(train.y == majority))},
            "classes": classes.tolist(), "majority_class": str(majority), "training": clf.history_}
        rows = [["train", metrics["train"]["accuracy"], metrics["train"]["majority_baseline"], len(train.X)]]
        if test is not None:
            pred = _scored(clf, test, "score")
            unseen = sorted(set(test.y.tolist()) - set(classes.tolist()))
            metrics["test"] = {"file": args.test, "n": len(test.X), "accuracy": float(np.mean(pred == test.y)),
                               "majority_baseline": float(np.mean(test.y == majority)),
                               "confusion_matrix": _confusion(test.y, pred, classes), "unseen_labels": unseen}
            rows.append(["test", metrics["test"]["accuracy"], metrics["test"]["majority_baseline"], len(test.X)])
            if unseen:
                print(f"rnnkit: warning: '{args.test}' has labels never seen in training: {unseen}; they count as "
                      "errors.", file=sys.stderr)
        write_file(out / MODEL_FILE, clf.save)
        write_json(out / METRICS_FILE, metrics)
        write_run_record(out, "classify", argv, {"train": str(Path(args.train).resolve()),
                                                 "test": str(Path(args.test).resolve()) if args.test else None,
                                                 **_layout(args)}, clf)
        written = [MODEL_FILE, METRICS_FILE, RUN_FILE]
        curves = history_curves(clf.history_)
        if curves:
            from ..plots import plot_learning_curves

            if save_plot(plot_learning_curves, out / "history.png", history=curves, title="Training"):
                written.append("history.png")
    print(f"\n{len(classes)} classes, {len(train.X)} training sequences.")
    print(table(["data", "accuracy", f"majority class ({majority})", "sequences"], rows))
    print_written(out, written)
    return 0


def _check_channels(train: Sequences, test: Sequences) -> None:
    """Refuse, before training, test sequences with another number of channels than the training ones."""
    want = train.X[0].shape[1]
    for x, key in zip(test.X, test.ids):
        if x.shape[1] != want:
            raise CLIError(f"Cannot use --test '{test.path}': sequence {key!r} has {x.shape[1]} channel(s), but the "
                           f"training sequences of '{train.path}' have {want}. Pass test data with the same value "
                           "columns (or .ts dimensions) as the training data.")


def _confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    """Counts[i][j]: sequences of class labels[i] predicted as labels[j]."""
    labels = sorted(set(classes.tolist()) | set(y_true.tolist()))
    index = {c: k for k, c in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        counts[index[t], index[p]] += 1
    return {"labels": labels, "counts": counts.tolist()}


def _layout(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in LAYOUT_DEFAULTS}


# -- predict --------------------------------------------------------------------------------
def predict_command(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    clf, path = load_estimator_of(args.model, "SequenceClassifier", "rnnkit classify predict")
    _resolve_layout(args, read_run_record(path).get("data", {}))
    data = _read(args.data, args, need_labels=False)
    pred = _scored(clf, data, "classify")
    proba = clf.predict_proba(data.X)
    header = ["id", "predicted"] + [f"proba_{c}" for c in clf.classes_]
    rows = [[i, p] + [f"{q:.6g}" for q in row] for i, p, row in zip(data.ids, pred, proba)]
    summary = f"Predicted {len(rows)} sequences of '{args.data}'"
    if data.y is not None:
        summary += f"; accuracy {np.mean(pred == data.y):.4g} against its '{args.label}' labels"
    write_csv(args.out, header, rows)
    # with the table on stdout, the summary goes to stderr
    print(f"{summary}." if args.out is None else f"{summary}. Wrote {args.out}",
          file=sys.stderr if args.out is None else sys.stdout)
    return 0
