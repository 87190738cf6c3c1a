"""Classification accuracy."""

from __future__ import annotations

from typing import Any

import numpy as np


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of correct predictions, in [0, 1].

    Args:
        y_true: (N,) class labels (ints or strings).
        y_pred: (N,) predicted labels, or (N, K) scores (probabilities or logits), K >= 2,
            whose argmax is the predicted class id (then y_true must hold class ids 0..K-1).
            A single column (N, 1) is refused: its argmax is always 0, and whether a binary
            score is a probability (threshold 0.5) or a logit (threshold 0) is not known.

    Returns:
        mean(y_pred == y_true) as a float.
    """
    yt = np.asarray(y_true.to_numpy() if hasattr(y_true, "to_numpy") else y_true)
    yp = np.asarray(y_pred.to_numpy() if hasattr(y_pred, "to_numpy") else y_pred)
    if yt.ndim != 1 or len(yt) == 0:
        raise ValueError(f"accuracy expected y_true of shape (N,) with N >= 1, got shape {yt.shape}.")
    if yp.ndim == 2 and yp.shape[0] == len(yt):
        if yp.dtype.kind not in "iuf":
            raise TypeError(f"accuracy expected (N, K) scores to be numbers, got dtype {yp.dtype}.")
        if yp.shape[1] == 1:
            raise ValueError(
                f"accuracy expected (N, K) scores with K >= 2 classes, got one column {yp.shape} (its argmax "
                "is always class 0). Threshold a binary score yourself: accuracy(y_true, (p[:, 0] > 0.5)"
                ".astype(int)) for probabilities, > 0 for logits."
            )
        yp = yp.argmax(axis=1)
    if yp.shape != yt.shape:
        raise ValueError(
            f"accuracy expected y_pred of shape {yt.shape} (labels) or ({len(yt)}, K) (scores), "
            f"got {yp.shape}."
        )
    return float(np.mean(yp == yt))
