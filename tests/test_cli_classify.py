"""`rnnkit classify fit|predict` on .ts, wide and long CSV files, and every bad input: exit
code 1, a message naming the file, line and column, and no traceback."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from cli_helpers import run, user_error
from rnnkit.cli.main import main
from rnnkit.datasets._files import data_file

FAST = ["--epochs", "2", "--hidden-size", "4", "--quiet"]


def write_wide(path, n=24, seed=0, edit=None):
    """id,label,t0..t9: rising ('up') or falling ('down') walks; some rows end early."""
    rng = np.random.default_rng(seed)
    lines = ["id,label," + ",".join(f"t{i}" for i in range(10))]
    for k in range(n):
        label = "up" if k % 2 else "down"
        steps = int(rng.integers(6, 11))
        x = np.cumsum(rng.normal(0.4 if label == "up" else -0.4, 0.1, steps))
        lines.append(f"s{k},{label}," + ",".join(f"{v:.3f}" for v in x) + "," * (10 - steps))
    if edit is not None:
        edit(lines)
    path.write_text("\n".join(lines) + "\n")
    return path


def write_long(path, n=16, edit=None):
    """id,time,a,b,label: two channels per step."""
    rng = np.random.default_rng(1)
    lines = ["id,time,a,b,label"]
    for k in range(n):
        label = "up" if k % 2 else "down"
        for t in range(8):
            a = (0.3 if label == "up" else -0.3) * t + rng.normal(0, 0.1)
            lines.append(f"q{k},{t},{a:.3f},{rng.normal():.3f},{label}")
    if edit is not None:
        edit(lines)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("classify")
    train, test = write_wide(d / "train.csv"), write_wide(d / "test.csv", n=10, seed=1)
    assert main(["classify", "fit", str(train), "--test", str(test), "--out", str(d / "run"), *FAST]) == 0
    return d, train, test


def test_fit_wide_csv_with_test_writes_metrics(wide_run, capsys):
    d, _, _ = wide_run
    assert {p.name for p in (d / "run").iterdir()} >= {"model.safetensors", "metrics.json", "run.json"}
    metrics = json.loads((d / "run" / "metrics.json").read_text())
    assert metrics["classes"] == ["down", "up"] and metrics["majority_class"] == "down"
    assert metrics["test"]["n"] == 10 and metrics["test"]["majority_baseline"] == 0.5
    assert 0 <= metrics["test"]["accuracy"] <= 1
    assert np.sum(metrics["test"]["confusion_matrix"]["counts"]) == 10


def test_predict_writes_ids_classes_and_probabilities(wide_run, tmp_path, capsys):
    d, _, test = wide_run
    code, out, err = run(capsys, "classify", "predict", d / "run", test, "--out", tmp_path / "p.csv")
    assert code == 0, err
    assert "accuracy" in out
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == "id,predicted,proba_down,proba_up" and len(lines) == 11
    assert lines[1].split(",")[0] == "s0" and lines[1].split(",")[1] in ("up", "down")
    # without labels and without --out: the table on stdout
    unlabelled = tmp_path / "new.csv"
    unlabelled.write_text("\n".join(r.split(",", 2)[0] + "," + r.split(",", 2)[2]
                                    for r in test.read_text().splitlines()) + "\n")
    code, out, err = run(capsys, "classify", "predict", d / "run" / "model.safetensors", unlabelled)
    assert code == 0, err
    assert out.splitlines()[0] == "id,predicted,proba_down,proba_up" and len(out.splitlines()) == 11


def test_fit_long_csv_and_ts_file(tmp_path, capsys):
    code, out, err = run(capsys, "classify", "fit", write_long(tmp_path / "long.csv"), "--out", tmp_path / "l",
                         "--cell", "gru", *FAST)
    assert code == 0, err
    assert "2 classes, 16 training sequences" in out
    with data_file("italy_power_demand", "ItalyPowerDemand_TRAIN.ts") as train:
        code, out, err = run(capsys, "classify", "fit", train, "--test", train, "--out", tmp_path / "ts", *FAST)
    assert code == 0, err
    assert "majority class" in out


def test_missing_label_column(tmp_path, capsys):
    data = write_wide(tmp_path / "w.csv")
    code, _, err = run(capsys, "classify", "fit", data, "--label", "class", "--out", tmp_path / "o", *FAST)
    user_error(code, err, "w.csv", "line 1", "'class'", "--label")


def test_missing_cell_inside_a_row(tmp_path, capsys):
    data = write_wide(tmp_path / "w.csv", edit=lambda lines: lines.__setitem__(3, "s2,down,1,,0.5,0.2,0.1,0,-1,,,"))
    code, _, err = run(capsys, "classify", "fit", data, "--out", tmp_path / "o", *FAST)
    user_error(code, err, "w.csv", "line 4", "column 't1'", "--fill")
    code, _, err = run(capsys, "classify", "fit", data, "--out", tmp_path / "o", "--fill", "interpolate", *FAST)
    assert code == 0, err


def test_a_long_channel_with_no_value_under_fill_names_the_file_and_column(tmp_path, capsys):
    data = write_long(tmp_path / "l.csv", edit=lambda lines: lines.__setitem__(
        slice(1, None), [",".join(row[:3] + ["", row[4]]) for row in (line.split(",") for line in lines[1:])]))
    code, _, err = run(capsys, "classify", "fit", data, "--out", tmp_path / "o", "--fill", "ffill", *FAST)
    user_error(code, err, "Cannot read '", "l.csv', line 2, column 'b': series 'q0' has no value in this column",
               "--fill ffill has nothing to fill it from")
    assert not (tmp_path / "o").exists()


def test_non_numeric_cell(tmp_path, capsys):
    data = write_wide(tmp_path / "w.csv", edit=lambda lines: lines.__setitem__(2, "s1,up,0.1,0.2,high,,,,,,,"))
    code, _, err = run(capsys, "classify", "fit", data, "--out", tmp_path / "o", *FAST)
    user_error(code, err, "w.csv", "line 3", "column 't2'", "'high'")


def test_long_csv_with_two_labels_for_one_series(tmp_path, capsys):
    data = write_long(tmp_path / "l.csv", edit=lambda lines: lines.__setitem__(3, lines[3][: -len("down")] + "up"))
    code, _, err = run(capsys, "classify", "fit", data, "--out", tmp_path / "o", *FAST)
    user_error(code, err, "l.csv", "line 4", "column 'label'", "'q0'")


def test_bad_ts_file(tmp_path, capsys):
    bad = tmp_path / "bad.ts"
    bad.write_text("@problemName x\n@univariate true\n@classLabel true a b\n@data\n1,2,3:a\n1,x,3:b\n")
    code, _, err = run(capsys, "classify", "fit", bad, "--out", tmp_path / "o", *FAST)
    user_error(code, err, "bad.ts", "line 6")


def test_one_class_only(tmp_path, capsys):
    data = write_wide(tmp_path / "w.csv")
    data.write_text(data.read_text().replace(",up,", ",down,"))
    code, _, err = run(capsys, "classify", "fit", data, "--out", tmp_path / "o", *FAST)
    user_error(code, err, "w.csv", "the label 'down';", "at least 2 classes")
    assert "np.str_" not in err


def test_ts_file_read_as_csv_hints_at_format_ts(tmp_path, capsys):
    with data_file("italy_power_demand", "ItalyPowerDemand_TRAIN.ts") as train:
        renamed = tmp_path / "italy.txt"
        shutil.copyfile(train, renamed)
    code, _, err = run(capsys, "classify", "fit", renamed, "--out", tmp_path / "o", *FAST)
    user_error(code, err, "italy.txt", "no column 'label'", "looks like a .ts file", "pass --format ts")
    assert not (tmp_path / "o").exists()


def test_test_file_with_other_channels(wide_run, tmp_path, capsys):
    d, _, _ = wide_run
    long = write_long(tmp_path / "l.csv")
    code, _, err = run(capsys, "classify", "predict", d / "run", long)
    user_error(code, err, "l.csv", "channels")

