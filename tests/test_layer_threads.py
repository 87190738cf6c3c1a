"""One layer (or model) called from several threads at once: each call gets its own right
output (the recurrent layers' workspaces are taken in turn), and the layer still pickles."""

from __future__ import annotations

import copy
import pickle
import threading

import numpy as np
import pytest

import rnnkit


def _run_together(work, n_threads=2):
    errors = []

    def guarded(i):
        try:
            work(i)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("grad", [False, True])
def test_threads_calling_one_layer_each_get_their_own_output(kind, grad):
    rng = np.random.default_rng(0)
    layer = getattr(rnnkit, kind)(5, 32, num_layers=2, bidirectional=True, seed=0).eval()
    xs = [rng.standard_normal((24, 40, 5)).astype(np.float32) for _ in range(2)]  # same shape: same buffers
    with rnnkit.no_grad():
        want = [layer(x)[0].copy() for x in xs]
    wrong = []

    def work(i):
        for _ in range(25):
            if grad:
                y = layer(xs[i])[0]
            else:
                with rnnkit.no_grad():
                    y = layer(xs[i])[0]
            if not np.array_equal(y, want[i]):
                wrong.append(i)

    _run_together(work)
    assert not wrong, f"{len(wrong)} of 50 calls got another thread's output"


def test_threads_predicting_with_one_estimator_get_the_serial_answers():
    from rnnkit.estimators import SequenceClassifier

    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((60, 30, 3)), np.arange(60) % 3
    clf = SequenceClassifier(hidden_size=16, epochs=2, seed=0, verbose=False).fit(X, y)
    parts = [X[:30], X[30:]]
    want = [clf.predict_proba(p) for p in parts]
    wrong = []

    def work(i):
        for _ in range(15):
            if not np.array_equal(clf.predict_proba(parts[i]), want[i]):
                wrong.append(i)

    _run_together(work)
    assert not wrong


def test_a_layer_used_from_threads_still_pickles_and_copies():
    layer = rnnkit.LSTM(3, 4, seed=0)
    x = np.ones((2, 5, 3), dtype=np.float32)
    y, _ = layer(x)
    for clone in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer)):
        assert "_lock" not in vars(clone)
        np.testing.assert_array_equal(clone(x)[0], y)
        assert clone._turn() is not layer._turn()
