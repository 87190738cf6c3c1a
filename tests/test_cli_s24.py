"""The command line read as a newcomer would: a column option that names no column, an --out
that cannot be written (found before training, named without the temporary file), the demo's
data file written atomically, and a text holdout that rounds to no character."""

from __future__ import annotations

import json
import os

import pytest

from cli_helpers import run, user_error
from rnnkit.estimators import Forecaster, SequenceClassifier
from test_cli_classify import write_long, write_wide
from test_cli_forecast import write_series

TINY = ["--epochs", "1", "--hidden-size", "2", "--quiet"]


@pytest.fixture
def no_training(monkeypatch):
    """Fails the test if a Forecaster or SequenceClassifier starts training."""
    def refuse(self, *args, **kwargs):
        raise AssertionError("training started before the bad input was refused")

    monkeypatch.setattr(Forecaster, "fit", refuse)
    monkeypatch.setattr(SequenceClassifier, "fit", refuse)


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory):
    d = tmp_path_factory.mktemp("s24")
    data = write_series(d / "sales.csv")
    code = run_quiet("forecast", "fit", data, "--target", "sales", "--time", "month", "--horizon", "3",
                     "--lookback", "6", "--out", d / "run", *TINY)
    assert code == 0
    return d / "run", data


def run_quiet(*argv):
    from rnnkit.cli.main import main

    return main([str(a) for a in argv])


# -- column options that name no column -------------------------------------------------------
def _numeric_ids(lines):
    """The id column becomes 'sid' with numbers: read as a time step if --id does not name it."""
    lines[0] = lines[0].replace("id,", "sid,", 1)
    for i in range(1, len(lines)):
        lines[i] = f"{100 + i}," + lines[i].split(",", 1)[1]


@pytest.mark.parametrize("option", [["--id", "SID"], ["--time", "t"], ["--label", "Label"]])
def test_a_typed_column_option_must_name_a_column(option, tmp_path, capsys, no_training):
    train = write_wide(tmp_path / "w.csv", n=8, edit=_numeric_ids)
    code, _, err = run(capsys, "classify", "fit", train, *option, "--out", tmp_path / "o", *TINY)
    user_error(code, err, "w.csv", f"no column {option[1]!r}", f"Pass the right name with {option[0]}")
    assert not (tmp_path / "o").exists()


def test_predict_refuses_a_misspelt_label_instead_of_reading_it_as_a_time_step(tmp_path, capsys):
    def numeric_labels(lines):
        for i in range(1, len(lines)):
            lines[i] = lines[i].replace(",up,", ",1,").replace(",down,", ",0,")

    train = write_wide(tmp_path / "w.csv", n=8, edit=numeric_labels)
    code, _, err = run(capsys, "classify", "fit", train, "--out", tmp_path / "o", *TINY)
    assert code == 0, err
    code, out, err = run(capsys, "classify", "predict", tmp_path / "o", train)
    assert code == 0 and "accuracy" in err, err
    code, out, err = run(capsys, "classify", "predict", tmp_path / "o", train, "--label", "LABEL")
    user_error(code, err, "w.csv", "no column 'LABEL'", "--label", "Did you mean 'label'?")
    assert out == ""


def test_a_long_file_with_the_default_columns_still_needs_no_options(tmp_path, capsys):
    data = write_long(tmp_path / "l.csv", n=6)
    code, _, err = run(capsys, "classify", "fit", data, "--out", tmp_path / "o", *TINY)
    assert code == 0, err


# -- an --out that cannot be written ----------------------------------------------------------
def test_a_folder_where_a_fit_writes_a_file_is_refused_before_training(tmp_path, capsys, no_training):
    out = tmp_path / "o"
    (out / "model.safetensors").mkdir(parents=True)
    data = write_series(tmp_path / "s.csv")
    code, _, err = run(capsys, "forecast", "fit", data, "--target", "sales", "--horizon", "3", "--out", out, *TINY)
    user_error(code, err, f"'{out / 'model.safetensors'}': it is a folder", f"--out '{out}'")
    assert ".tmp" not in err
    code, _, err = run(capsys, "info", out)
    user_error(code, err, f"'{out}' is a folder without a model.safetensors")


def test_an_unwritable_out_folder_is_refused_before_training(tmp_path, capsys, monkeypatch, no_training):
    out = tmp_path / "ro"
    out.mkdir()
    real_open = os.open

    def refused(path, *args, **kwargs):  # what a read-only folder does (root ignores chmod, so simulate it)
        if os.path.dirname(os.fspath(path)) == str(out):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refused)
    data = write_series(tmp_path / "s.csv")
    code, _, err = run(capsys, "forecast", "fit", data, "--target", "sales", "--horizon", "3", "--out", out, *TINY)
    user_error(code, err, f"Cannot write into --out '{out}': Permission denied")
    assert ".tmp" not in err and list(out.iterdir()) == []


@pytest.mark.parametrize("where", ["a folder", "under a file"])
def test_predict_out_names_the_path_not_a_temporary_file(where, forecaster, tmp_path, capsys):
    model, data = forecaster
    target = tmp_path / "f.csv"
    if where == "a folder":
        target.mkdir()
        needle = f"Cannot write '{target}': it is a folder"
    else:
        target.write_text("keep\n")
        target = target / "x.csv"
        needle = f"'{tmp_path / 'f.csv'}' is a file, not a folder"
    code, out, err = run(capsys, "forecast", "predict", model, data, "--out", target)
    user_error(code, err, needle)
    assert ".tmp" not in err and out == ""


def test_predict_out_in_a_new_folder(forecaster, tmp_path, capsys):
    model, data = forecaster
    code, _, err = run(capsys, "forecast", "predict", model, data, "--out", tmp_path / "new" / "f.csv")
    assert code == 0, err
    lines = (tmp_path / "new" / "f.csv").read_text().splitlines()
    assert lines[0] == "step,time,sales" and len(lines) == 4


# -- the demo's data file, and a text holdout of no character ---------------------------------
def test_demo_writes_its_data_file_atomically_and_records_its_full_path(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").mkdir()
    keep = tmp_path / "keep.csv"
    keep.write_text("mine\n")
    os.link(keep, tmp_path / "demo" / "co2.csv")  # an in-place copy would write through the link
    code, _, err = run(capsys, "demo", "--epochs", "1", "--quiet", "--out", "demo")
    assert code == 0, err
    assert keep.read_text() == "mine\n"
    assert (tmp_path / "demo" / "co2.csv").read_text().startswith("month,co2_ppmv")
    record = json.loads((tmp_path / "demo" / "run.json").read_text())
    assert record["data"]["file"] == str(tmp_path / "demo" / "co2.csv")


def test_a_text_holdout_that_rounds_to_no_character_says_so(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("abababab")
    code, _, err = run(capsys, "text", "fit", corpus, "--holdout", "0.05", "--sample-length", "0",
                       "--seq-length", "4", "--out", tmp_path / "o", *TINY)
    assert code == 0, err
    assert "no held-out perplexity: the last 0 character(s)" in err
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["n_holdout_chars"] == 0
    assert metrics["holdout_perplexity"] is None and metrics["unigram_perplexity"] is None
    code, _, err = run(capsys, "text", "fit", corpus, "--holdout", "0", "--sample-length", "0", "--seq-length", "4",
                       "--out", tmp_path / "p", *TINY)
    assert code == 0 and err == ""
    assert "holdout_perplexity" not in json.loads((tmp_path / "p" / "metrics.json").read_text())


@pytest.mark.parametrize("command", [["forecast", "fit", "--target", "b", "--horizon", "1"], ["classify", "fit"]])
def test_a_csv_file_that_is_not_utf8_names_the_line_and_the_fix(command, tmp_path, capsys):
    data = tmp_path / "latin.csv"
    data.write_bytes("a,b,label\n1,2,x\n3,caf\xe9,y\n".encode("latin-1"))
    code, _, err = run(capsys, *command[:2], data, *command[2:], "--out", tmp_path / "o")
    user_error(code, err, "latin.csv', line 3: byte 0xe9", "save the file as UTF-8")
