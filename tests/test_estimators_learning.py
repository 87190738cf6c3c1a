"""Learning checks on the embedded datasets: the estimators must beat the obvious baselines.

Small networks and few epochs keep these to seconds; seeds make them repeatable.
"""

from __future__ import annotations

import numpy as np

from rnnkit.datasets import load_co2, load_italy_power_demand, load_text_corpus
from rnnkit.estimators import Forecaster, SequenceClassifier, TextGenerator


def test_forecaster_beats_seasonal_naive_on_co2():
    y, _ = load_co2()
    res = Forecaster(horizon=12, hidden_size=16, epochs=40, seed=0, verbose=False).backtest(y, n_windows=3)
    assert res.seasonal_period == 12
    model, naive = res.metrics["model"], res.metrics["seasonal_naive"]
    assert model["mase"] < 0.8 * naive["mase"], res.summary()
    assert model["rmse"] < naive["rmse"], res.summary()


def test_classifier_beats_majority_class_on_italy_power_demand():
    X_train, y_train, X_test, y_test = load_italy_power_demand()
    clf = SequenceClassifier(hidden_size=16, epochs=40, seed=0, verbose=False).fit(X_train, y_train)
    majority = np.mean(y_test == np.bincount(y_train).argmax())
    accuracy = clf.score(X_test, y_test)
    assert accuracy > majority + 0.25, (accuracy, majority)


def test_text_generator_beats_unigram_perplexity():
    text = load_text_corpus(max_chars=12000)
    train, held_out = text[:10000], text[10000:]
    gen = TextGenerator(hidden_size=48, seq_length=32, epochs=4, seed=0, verbose=False).fit(train)
    held_out = "".join(c for c in held_out if c in gen.vocab_)
    counts = np.array([train.count(c) for c in gen.vocab_], dtype=float)
    p = counts / counts.sum()
    unigram = float(np.exp(-np.mean([np.log(p[gen.vocab_.index(c)]) for c in held_out[1:]])))
    assert gen.perplexity(held_out) < 0.8 * unigram
