"""The `rnnkit` command line as a whole: `--help` on every command, `info`, the demo in a fast
mode, error reporting (exit codes, no traceback for user mistakes), and the installed script
run in a real subprocess."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rnnkit
from rnnkit.cli.errors import EXIT_INTERNAL, report_exception
from cli_helpers import run, user_error
from rnnkit.cli.main import build_parser

COMMANDS = [[], ["demo"], ["forecast"], ["forecast", "fit"], ["forecast", "predict"], ["classify"],
            ["classify", "fit"], ["classify", "predict"], ["text"], ["text", "fit"], ["text", "sample"], ["info"]]


def _commands(parser, prefix=()):
    yield list(prefix)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*prefix, name))


def test_every_command_is_covered_here():
    assert sorted(_commands(build_parser())) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "rnnkit")
def test_help(command, capsys):
    code, out, err = run(capsys, *command, "--help")
    assert code == 0 and err == ""
    assert out.startswith(f"usage: rnnkit {' '.join(command)}".rstrip())
    assert "--help" in out


def test_version_and_missing_command(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"rnnkit {rnnkit.__version__}"
    code, _, err = run(capsys)
    assert code == 2 and "required: COMMAND" in err
    code, _, err = run(capsys, "forecast")
    assert code == 2 and "ACTION" in err


def test_demo_fast_mode(tmp_path, capsys):
    code, out, err = run(capsys, "demo", "--epochs", "1", "--quiet", "--out", tmp_path / "demo")
    assert code == 0, err
    assert "seasonal naive" in out and "MASE" in out and "Mauna Loa" in out
    names = {p.name for p in (tmp_path / "demo").iterdir()}
    assert names >= {"co2.csv", "model.safetensors", "metrics.json", "run.json", "forecast.png", "history.png"}
    metrics = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert metrics["season"] == 12 and metrics["horizon"] == 24
    # the demo model answers `info` and `forecast predict` like any other
    code, out, err = run(capsys, "info", tmp_path / "demo")
    assert code == 0, err
    assert "Forecaster" in out and "LSTM" in out and "rnnkit demo" in out
    code, out, err = run(capsys, "info", tmp_path / "demo", "--json")
    assert code == 0 and json.loads(out)["class"] == "Forecaster"
    code, out, err = run(capsys, "forecast", "predict", tmp_path / "demo", tmp_path / "demo" / "co2.csv")
    assert code == 0, err
    assert out.splitlines()[0] == "step,time,co2_ppmv" and out.splitlines()[1].startswith("1,2002-01,")


def test_info_on_a_plain_model_and_bad_files(tmp_path, capsys):
    model = rnnkit.Sequential([rnnkit.GRU(2, 3, seed=0), rnnkit.LastStep(), rnnkit.Linear(3, 1, seed=0)])
    model.save(tmp_path / "plain.safetensors")
    code, out, err = run(capsys, "info", tmp_path / "plain.safetensors")
    assert code == 0, err
    assert "Sequential" in out and "not an estimator" in out and "GRU" in out
    (tmp_path / "notes.txt").write_text("hello")
    code, _, err = run(capsys, "info", tmp_path / "notes.txt")
    user_error(code, err, "notes.txt")
    code, _, err = run(capsys, "info", tmp_path / "missing.safetensors")
    user_error(code, err, "missing.safetensors")
    code, _, err = run(capsys, "info", tmp_path)
    user_error(code, err, "without a model.safetensors")


def test_wrong_kind_of_model(tmp_path, capsys):
    model = rnnkit.Sequential([rnnkit.GRU(2, 3, seed=0), rnnkit.LastStep(), rnnkit.Linear(3, 1, seed=0)])
    model.save(tmp_path / "plain.safetensors")
    (tmp_path / "d.csv").write_text("y\n" + "\n".join(str(v) for v in range(40)) + "\n")
    code, _, err = run(capsys, "forecast", "predict", tmp_path / "plain.safetensors", tmp_path / "d.csv",
                       "--target", "y")
    user_error(code, err, "plain.safetensors", "Sequential", "Forecaster")


def test_internal_errors_show_the_traceback_and_exit_3(capsys):
    try:
        raise KeyError("bug")
    except KeyError as exc:
        code = report_exception(exc)
    err = capsys.readouterr().err
    assert code == EXIT_INTERNAL and "Traceback" in err and "bug in rnnkit" in err


def test_traceback_flag_shows_user_errors_in_full(tmp_path, capsys):
    code, _, err = run(capsys, "--traceback", "info", tmp_path / "nope.safetensors")
    assert code == 1 and "Traceback" in err and err.rstrip().splitlines()[-1].startswith("rnnkit: error:")


# -- the installed script, in a real process ---------------------------------------------------
SCRIPT = Path(sys.executable).with_name("rnnkit")


@pytest.mark.skipif(not SCRIPT.exists(), reason="the rnnkit script is not installed (pip install -e .)")
def test_installed_script(tmp_path):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    bad = tmp_path / "bad.csv"
    bad.write_text("month,sales\n2020-01,1\n2020-02,oops\n")
    proc = subprocess.run([str(SCRIPT), "forecast", "fit", str(bad), "--target", "sales", "--time", "month",
                           "--horizon", "1", "--out", str(tmp_path / "o")], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr == (f"rnnkit: error: Cannot read '{bad}', line 3, column 'sales': expected a number, got "
                           "'oops'. Fix or remove the value (empty cells count as missing).\n")
    proc = subprocess.run([sys.executable, "-m", "rnnkit", "demo", "--epochs", "1", "--out", str(tmp_path / "d")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "seasonal naive" in proc.stdout and "Epoch 1/1" in proc.stderr  # the progress bar


def test_plots_are_skipped_without_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    rows = ["y"] + [str((k % 7) + 0.1 * k) for k in range(40)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    code, out, err = run(capsys, "forecast", "fit", tmp_path / "d.csv", "--target", "y", "--horizon", "3",
                         "--out", tmp_path / "o", "--epochs", "1", "--hidden-size", "2", "--quiet")
    assert code == 0, err
    assert "skipped forecast.png: matplotlib is not installed" in err and "rnnkit[plot]" in err
    assert {p.name for p in (tmp_path / "o").iterdir()} == {"model.safetensors", "metrics.json", "run.json"}
