"""The command line when things go wrong around training: Ctrl-C before the first epoch ends,
a loss that overflows, option values that argparse must refuse, and the --out folder (created
only for what the command writes, listed as written)."""

from __future__ import annotations

import json
import os
import signal
import warnings

import numpy as np
import pytest

from cli_helpers import run, user_error
from rnnkit.losses import MSELoss
from rnnkit.training.trainer import Trainer
from test_cli_classify import write_long, write_wide
from test_cli_forecast import write_series

FAST = ["--hidden-size", "4", "--quiet"]


@pytest.fixture
def ctrl_c_after_first_batch(monkeypatch):
    """Every training run gets a Ctrl-C (a real SIGINT) during its first batch."""
    train_batch = Trainer._train_batch

    def interrupted(self, *args, **kwargs):
        if not self._stop_requested:
            os.kill(os.getpid(), signal.SIGINT)
        return train_batch(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_train_batch", interrupted)


def _fit_commands(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat and the dog ran to the log " * 20)
    return {
        "forecast": ["forecast", "fit", write_series(tmp_path / "s.csv"), "--target", "sales", "--horizon", "6",
                     "--lookback", "12"],
        "classify": ["classify", "fit", write_wide(tmp_path / "w.csv")],   # with a warm-up phase
        "text": ["text", "fit", corpus, "--seq-length", "16", "--sample-length", "5"],
    }


@pytest.mark.parametrize("task", ["forecast", "classify", "text"])
def test_ctrl_c_before_the_first_epoch_ends_keeps_the_model(task, tmp_path, capsys, ctrl_c_after_first_batch):
    out = tmp_path / "o"
    code, stdout, err = run(capsys, *_fit_commands(tmp_path)[task], "--out", out, "--epochs", "3",
                            "--batch-size", "2", *FAST)
    assert code == 0, err
    assert "Traceback" not in err and "internal error" not in err
    assert "stopping after the current batch" in err and "before the first epoch ended" in err
    training = json.loads((out / "metrics.json").read_text())["training"]
    assert training["epochs"] == 0 and training["stop_reason"] == "interrupted"
    assert training["loss"] == [] and training["best_epoch"] is None
    assert {"model.safetensors", "metrics.json", "run.json"} <= {p.name for p in out.iterdir()}
    assert "history.png" not in stdout, "no learning curves without a finished epoch"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("bad", [";;", "", "ab", '"'])
@pytest.mark.parametrize("command", ["forecast fit", "forecast predict", "classify fit"])
def test_delimiter_must_be_one_character(command, bad, tmp_path, capsys):
    args = {"forecast fit": ["x.csv", "--target", "v", "--horizon", "2", "--out", tmp_path / "o"],
            "forecast predict": ["model", "x.csv"], "classify fit": ["x.csv", "--out", tmp_path / "o"]}[command]
    code, _, err = run(capsys, *command.split(), *args, "--delimiter", bad)
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1].endswith(f"argument --delimiter: expected one character (e.g. ';' or '|'; '\\t' or "
                                         f"'tab' for a tab), got {bad!r}")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("spelling", ["\\t", "tab", "\t"])
def test_a_tab_delimiter_can_be_typed_as_backslash_t_or_tab(spelling, tmp_path, capsys):
    data = write_series(tmp_path / "s.tsv")
    data.write_text(data.read_text().replace(",", "\t"))
    code, _, err = run(capsys, "forecast", "fit", data, "--target", "sales", "--time", "month", "--horizon", "6",
                       "--lookback", "12", "--epochs", "1", "--delimiter", spelling, "--out", tmp_path / "o", *FAST)
    assert code == 0, err
    assert json.loads((tmp_path / "o" / "run.json").read_text())["data"]["delimiter"] == "\t"


def test_non_finite_loss_gives_command_line_advice_and_no_numpy_warning(tmp_path, capsys, monkeypatch):
    mse = MSELoss.__call__

    def overflowing(self, pred, target, mask=None):  # a float32 overflow, as with exploding outputs
        value, grad = mse(self, pred, target, mask)
        return float(np.float32(3e38) * np.float32(10) * np.float32(value + 1)), grad

    monkeypatch.setattr(MSELoss, "__call__", overflowing)
    data = write_series(tmp_path / "s.csv")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _, err = run(capsys, "forecast", "fit", data, "--target", "sales", "--horizon", "6", "--lookback",
                           "12", "--epochs", "2", "--out", tmp_path / "runs" / "o", *FAST)
    user_error(code, err, "s.csv", "'sales'", "non-finite loss at epoch 1, batch 1", "no model was saved", "--lr")
    assert "clip_norm" not in err and len(err.splitlines()) == 1
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in caught]
    assert not (tmp_path / "runs").exists(), "a failed fit leaves no empty folder behind"


def test_only_the_files_written_are_listed(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    data = write_series(tmp_path / "s.csv")
    code, stdout, err = run(capsys, "forecast", "fit", data, "--target", "sales", "--horizon", "6", "--lookback",
                            "12", "--epochs", "1", "--out", out, *FAST)
    assert code == 0, err
    wrote = stdout.splitlines()[-1]
    assert wrote.startswith("Wrote ") and "notes.txt" not in wrote
    assert wrote.endswith(": forecast.png, history.png, metrics.json, model.safetensors, run.json")
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("command", [["forecast", "fit", "x.csv", "--target", "v", "--horizon", "2"],
                                     ["classify", "fit", "x.csv"], ["text", "fit", "x.txt"], ["demo"],
                                     ["forecast", "predict", "model", "x.csv"]])
def test_empty_out_path_is_a_usage_error(command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an empty path used to mean the working directory
    code, _, err = run(capsys, *command, "--out", "")
    assert code == 2 and "argument --out: expected a path (e.g. runs/x), got ''" in err
    assert list(tmp_path.iterdir()) == []


def test_test_file_with_other_channels_is_refused_before_training(tmp_path, capsys, monkeypatch):
    from rnnkit.estimators import SequenceClassifier

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking the --test file")

    monkeypatch.setattr(SequenceClassifier, "fit", no_training)
    train, test = write_long(tmp_path / "l.csv"), write_wide(tmp_path / "w.csv")   # 2 channels, then 1
    code, _, err = run(capsys, "classify", "fit", train, "--test", test, "--out", tmp_path / "o", *FAST)
    user_error(code, err, "--test", "w.csv", "1 channel(s)", "l.csv", "have 2")
    assert not (tmp_path / "o").exists()


@pytest.fixture
def ctrl_c_in_the_second_epoch(monkeypatch):
    """Every training run gets a Ctrl-C (a real SIGINT) once its first epoch has ended."""
    train_batch = Trainer._train_batch

    def interrupted(self, *args, **kwargs):
        if self.history.epoch and not self._stop_requested:
            os.kill(os.getpid(), signal.SIGINT)
        return train_batch(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_train_batch", interrupted)


def test_ctrl_c_skips_the_refit_and_the_summary_names_no_best_epoch(tmp_path, capsys, ctrl_c_in_the_second_epoch):
    out = tmp_path / "o"
    code, _, err = run(capsys, *_fit_commands(tmp_path)["forecast"], "--refit", "--epochs", "3", "--batch-size",
                       "2", "--hidden-size", "4", "--out", out)
    assert code == 0, err
    assert "trained 1 epochs (interrupted): loss" in err, "no best epoch after Ctrl-C (metrics.json has none)"
    assert err.count("trained 1 epochs") == 1, "the refit did not train"
    assert "interrupted after 1 epoch(s); the model trained so far is scored and saved" in err
    assert "--refit skipped because training was interrupted (Ctrl-C)" in err
    metrics = json.loads((out / "metrics.json").read_text())
    assert "refit" not in metrics and metrics["training"]["best_epoch"] is None


def test_out_with_dot_dot_through_a_new_folder_keeps_the_existing_folder_on_failure(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep").mkdir()  # empty: the old cleanup removed it
    data = write_series(tmp_path / "s.csv")
    code, _, err = run(capsys, "forecast", "fit", data, "--target", "sales", "--horizon", "1000", "--out",
                       "newdir/../keep", *FAST)
    user_error(code, err, "--horizon 1000")
    assert (tmp_path / "keep").is_dir() and not (tmp_path / "newdir").exists()


def test_out_dir_follows_symlinks_and_removes_only_the_folders_it_made(tmp_path):
    from rnnkit.cli.output import out_dir

    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "real" / "keep").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real" / "sub")
    with out_dir(str(tmp_path / "link" / "new" / "../../keep")) as out:  # the system's reading: real/keep
        assert out.resolve() == (tmp_path / "real" / "keep").resolve()
    with pytest.raises(KeyboardInterrupt):
        with out_dir(str(tmp_path / "link" / "a" / "b")) as out:
            assert (tmp_path / "real" / "sub" / "a" / "b").is_dir()
            raise KeyboardInterrupt
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["keep", "sub"]
    assert list((tmp_path / "real" / "sub").iterdir()) == [] and (tmp_path / "link").is_symlink()
    with pytest.raises(ValueError):
        with out_dir(str(tmp_path / "link" / "new" / "../../keep")):
            raise ValueError("the command failed")
    assert (tmp_path / "real" / "keep").is_dir() and not (tmp_path / "real" / "sub" / "new").exists()


def test_a_file_in_the_out_path_is_named(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    code, _, err = run(capsys, *_fit_commands(tmp_path)["forecast"], "--out", tmp_path / "afile" / "sub", *FAST)
    assert code == 1 and "Traceback" not in err
    assert f"'{tmp_path / 'afile'}' is a file; expected a folder there" in err.splitlines()[-1]


def test_a_failed_refit_leaves_an_earlier_run_in_the_out_folder_untouched(tmp_path, capsys, monkeypatch):
    from rnnkit.estimators import Forecaster

    out = tmp_path / "o"
    command = [*_fit_commands(tmp_path)["forecast"], "--out", out, "--epochs", "1", *FAST]
    assert run(capsys, *command)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert "forecast.png" in before
    fit, calls = Forecaster.fit, []

    def refit_fails(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:   # the refit on the whole series
            raise ValueError("the refit failed")
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(Forecaster, "fit", refit_fails)
    code, _, err = run(capsys, *command, "--epochs", "2", "--refit")
    assert code == 1 and "the refit failed" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before, "no new plot beside the old model"
