"""`rnnkit text fit|sample` on a tiny corpus, and the bad inputs: a missing, empty or
undecodable corpus, a prompt with unknown characters, a model of another kind."""

from __future__ import annotations

import json
import random

import pytest

from cli_helpers import run, user_error
from rnnkit.cli.main import main
from rnnkit.cli.text import unigram_perplexity

FAST = ["--epochs", "2", "--hidden-size", "8", "--seq-length", "16", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("text")
    rng = random.Random(0)
    words = "the cat sat on a mat and the dog ran to the log".split()
    corpus = d / "corpus.txt"
    corpus.write_text(" ".join(rng.choice(words) for _ in range(300)) + "\nZ")  # 'Z' only in the held-out tail
    assert main(["text", "fit", str(corpus), "--out", str(d / "run"), "--sample-length", "30", *FAST]) == 0
    return d, corpus


def test_fit_writes_model_and_perplexities(trained):
    d, _ = trained
    assert {p.name for p in (d / "run").iterdir()} >= {"model.safetensors", "metrics.json", "run.json"}
    metrics = json.loads((d / "run" / "metrics.json").read_text())
    assert metrics["holdout_perplexity"] > 1 and metrics["unigram_perplexity"] > 1
    assert metrics["holdout_unknown_chars"] == 2  # '\n' and 'Z' never occur in the training part


def test_sample_continues_the_prompt_reproducibly(trained, capsys):
    d, _ = trained
    code, out, err = run(capsys, "text", "sample", d / "run", "--prompt", "the ", "--length", "25")
    assert code == 0, err
    assert out.startswith("the ") and len(out.rstrip("\n")) == 29
    assert run(capsys, "text", "sample", d / "run", "--prompt", "the ", "--length", "25")[1] == out
    code, greedy, _ = run(capsys, "text", "sample", d / "run", "--length", "10", "--temperature", "0", "--top-k", "3")
    assert code == 0 and len(greedy.rstrip("\n")) == 10


def test_unigram_perplexity_of_a_uniform_text():
    assert unigram_perplexity("abab", "abab") == pytest.approx(6 / 3)  # p = 3/6 for each character


def test_prompt_with_unknown_characters(trained, capsys):
    d, _ = trained
    code, _, err = run(capsys, "text", "sample", d / "run", "--prompt", "xyz")
    user_error(code, err, "--prompt 'xyz'", "'x'", "the training text's characters are ' acdeghlmnorst'")
    assert "vocab_" not in err, "the message names the training text, not a Python attribute"


def test_bad_corpus_files(tmp_path, capsys):
    code, _, err = run(capsys, "text", "fit", tmp_path / "none.txt", "--out", tmp_path / "o", *FAST)
    user_error(code, err, "none.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    code, _, err = run(capsys, "text", "fit", empty, "--out", tmp_path / "o", *FAST)
    user_error(code, err, "empty.txt", "no text")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("line one\ncaf\xe9 au lait\n".encode("latin-1"))
    code, _, err = run(capsys, "text", "fit", latin, "--out", tmp_path / "o", *FAST)
    user_error(code, err, "latin.txt", "line 2", "--encoding")
    code, _, err = run(capsys, "text", "fit", latin, "--out", tmp_path / "o", "--encoding", "latin-1", *FAST)
    assert code == 0, err


def test_utf8_byte_order_mark_is_not_a_character(tmp_path, capsys):
    from rnnkit.estimators import load_estimator

    corpus = tmp_path / "bom.txt"
    corpus.write_bytes("\ufeff".encode("utf-8") + ("the cat sat on the mat " * 20).encode("utf-8"))
    code, _, err = run(capsys, "text", "fit", corpus, "--out", tmp_path / "o", *FAST)
    assert code == 0, err
    assert "\ufeff" not in load_estimator(tmp_path / "o" / "model.safetensors").vocab_


def test_holdout_without_two_known_characters_says_so(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat " * 20 + "Z" * 50)  # held out: the last 51 characters, ' ' + 50 'Z'
    code, out, err = run(capsys, "text", "fit", corpus, "--out", tmp_path / "o", "--holdout", "0.1", *FAST)
    assert code == 0, err
    assert "rnnkit: note: no held-out perplexity" in err and "--holdout" in err
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["n_holdout_chars"] == 51 and metrics["holdout_unknown_chars"] == 50
    assert metrics["holdout_perplexity"] is None and metrics["unigram_perplexity"] is None
    assert "held-out perplexity" not in out


def test_classifier_model_given_to_sample(tmp_path, capsys):
    rows = ["label,t0,t1,t2"] + [f"{'up' if k % 2 else 'down'},{k},{k + 1},{k + 2}" for k in range(8)]
    (tmp_path / "w.csv").write_text("\n".join(rows) + "\n")
    assert main(["classify", "fit", str(tmp_path / "w.csv"), "--out", str(tmp_path / "c"), "--epochs", "1",
                 "--hidden-size", "2", "--quiet"]) == 0
    capsys.readouterr()
    code, _, err = run(capsys, "text", "sample", tmp_path / "c", "--prompt", "a")
    user_error(code, err, "model.safetensors", "holds a SequenceClassifier", "rnnkit classify")
