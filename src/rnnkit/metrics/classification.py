"""Classification accuracy."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def label_kind(a: np.ndarray) -> str:
    """The kind of an array of labels: "str", "number" (also for object arrays holding only one of
    them), "other", "mixed" (strings among numbers) or "mixed other"."""
    if a.dtype.kind in "US":
        return "str"
    if a.dtype.kind in "biuf":
        return "number"
    kinds = {"str" if isinstance(v, str) else "number" if isinstance(v, (numbers.Real, np.bool_)) else "other"
             for v in a.ravel()}
    if len(kinds) == 1:
        return kinds.pop()
    return "mixed" if {"str", "number"} <= kinds else "mixed other"


def is_missing_label(v: Any) -> bool:
    """A missing label: None, a float NaN (NumPy floats too), or pandas' NA / NaT (recognised
    without importing pandas). The one rule of accuracy and of the estimators' labels."""
    if v is None or (isinstance(v, (float, np.floating)) and math.isnan(v)):
        return True
    return type(v).__name__ in ("NAType", "NaTType") and type(v).__module__.startswith("pandas")


def _nan_mask(a: np.ndarray) -> np.ndarray:
    """Where a (float, or object with missing labels among its values: None, NaN, pandas' NA) holds one."""
    if a.dtype.kind == "f":
        return np.isnan(a)
    if a.dtype.kind == "O":
        return np.array([is_missing_label(v) for v in a.ravel()], dtype=bool).reshape(a.shape)
    return np.zeros(a.shape, dtype=bool)


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of correct predictions, in [0, 1].

    Args:
        y_true: (N,) class labels (ints or strings).
        y_pred: (N,) predicted labels of the same kind (strings for strings, numbers for
            numbers), or (N, K) scores (probabilities or logits, -inf allowed), K >= 2, whose
            argmax is the predicted class id (then y_true must hold class ids 0..K-1).
            A single column (N, 1) is refused: its argmax is always 0, and whether a binary
            score is a probability (threshold 0.5) or a logit (threshold 0) is not known.

    Returns:
        mean(y_pred == y_true) as a float.

    Raises:
        ValueError: shapes that do not match, NaN among the labels or scores, class ids out of
            0..K-1 with scores.
        ValueError: also string labels against numeric ones (they never compare equal), or
            strings and numbers in one array, as scikit-learn's accuracy_score.
        TypeError: non-numeric scores.
    """
    yt = np.asarray(y_true.to_numpy() if hasattr(y_true, "to_numpy") else y_true)
    yp = np.asarray(y_pred.to_numpy() if hasattr(y_pred, "to_numpy") else y_pred)
    if yt.ndim != 1 or len(yt) == 0:
        raise ValueError(f"accuracy expected y_true of shape (N,) with N >= 1, got shape {yt.shape}.")
    for name, a in (("y_true", yt), ("y_pred", yp)):
        nan = _nan_mask(a)
        if nan.any():
            raise ValueError(f"accuracy expected {name} without NaN or other missing labels (None, pandas NA), got "
                             f"{int(nan.sum())} (first at index {tuple(int(i) for i in np.argwhere(nan)[0])}). Drop or "
                             "fill those samples first.")
    if yp.ndim == 2 and yp.shape[0] == len(yt):
        if yp.dtype.kind not in "iuf":
            raise TypeError(f"accuracy expected (N, K) scores to be numbers, got dtype {yp.dtype}.")
        if yp.shape[1] == 1:
            raise ValueError(
                f"accuracy expected (N, K) scores with K >= 2 classes, got one column {yp.shape} (its argmax "
                "is always class 0). Threshold a binary score yourself: accuracy(y_true, (p[:, 0] > 0.5)"
                ".astype(int)) for probabilities, > 0 for logits; pass y_pred.ravel() if it holds labels."
            )
        K = yp.shape[1]
        ids = yt.astype(np.float64) if label_kind(yt) == "number" else None
        if ids is None or np.any((ids != np.round(ids)) | (ids < 0) | (ids >= K)):
            shown = np.unique(yt if ids is None else yt[(ids != np.round(ids)) | (ids < 0) | (ids >= K)])
            raise ValueError(
                f"accuracy expected y_true to hold class ids 0..{K - 1} with ({len(yt)}, {K}) scores, got "
                f"{shown[:5].tolist()}. Map the labels to the scores' columns first (e.g. "
                "np.searchsorted(classes, y_true)), or pass predicted labels instead of scores."
            )
        yp = yp.argmax(axis=1)
    if yp.shape != yt.shape:
        raise ValueError(
            f"accuracy expected y_pred of shape {yt.shape} (labels) or ({len(yt)}, K) (scores), "
            f"got {yp.shape}."
        )
    kinds = (label_kind(yt), label_kind(yp))
    if "mixed" in kinds:
        name, a = ("y_true", yt) if kinds[0] == "mixed" else ("y_pred", yp)
        first = {type(v).__name__: v for v in a.ravel() if isinstance(v, (str, numbers.Real, np.bool_))}
        raise ValueError(
            f"Mix of label input types (string and number): accuracy got both in {name} (e.g. "
            f"{', '.join(repr(v) for v in first.values())}); 1 and '1' are different labels. Use one type, "
            f"e.g. {name}.astype(str)."
        )
    if "str" in kinds and kinds != ("str", "str"):
        words = {"str": "string", "number": "number", "other": "non-string, non-number",
                 "mixed other": "mixed (strings or numbers among other objects)"}
        what = "string and number" if "number" in kinds else "strings and other objects"
        raise ValueError(
            f"Mix of label input types ({what}): accuracy got {words[kinds[0]]} labels in y_true and "
            f"{words[kinds[1]]} labels in y_pred (e.g. {yt[:1].tolist()[0]!r} and {yp[:1].tolist()[0]!r}); labels "
            "of different kinds never compare equal. Map one to the other first."
        )
    return float(np.mean(yp == yt))
