"""Class labels of :class:`~rnnkit.estimators.SequenceClassifier`: validation and encoding.

Accepted y: N labels of one sortable kind: integers, strings or bools (a NumPy array, a list,
a pandas Series, categorical or nullable included). Floats are accepted when every value is a
whole number (0.0 / 1.0); other floats are continuous targets, refused as scikit-learn does
("Unknown label type: continuous"). Missing labels (None, NaN, pandas NA) and a mix of kinds
that cannot be sorted together (1 and "a") are refused, and so are complex numbers and bytes
(decode them to str first), as scikit-learn refuses them. A column vector (N, 1) (a one-column
DataFrame included) is read as its single column with a :class:`DataConversionWarning`, as
scikit-learn does.

``score`` compares labels of the kind of ``classes_`` (strings with strings, numbers with
numbers); labels that ``fit`` never saw simply count as wrong.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np

from ..data._arrays import is_pandas
from .._sklearn import sklearn_compatible
from ..metrics.classification import is_missing_label, label_kind


class DataConversionWarning(UserWarning):
    """y was given in another layout than expected and converted (a column vector (N, 1) read as
    (N,)); also ``sklearn.exceptions.DataConversionWarning`` once scikit-learn is imported."""


def label_array(y: Any, n: int, owner: str, stacklevel: int = 3) -> tuple[Any, np.ndarray]:
    """(y, labels (N,)): y as given (a list stays a list), and y as a 1-D NumPy array.

    Refuses y None and any shape but (N,) or the column vector (N, 1), which is read as its
    column with a :class:`DataConversionWarning` (``stacklevel`` points it at the user's call).
    """
    if y is None:
        raise ValueError(f"{owner} requires y to be passed, but the target y is None. Pass one class label per "
                         "sequence of X.")
    labels = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if labels.ndim == 2 and labels.shape[1] == 1 and len(labels) == n:
        warnings.warn(sklearn_compatible(DataConversionWarning, "DataConversionWarning")(
            f"A column-vector y was passed when a 1d array was expected: {owner} reads y of shape {labels.shape} "
            f"as its one column, shape ({n},). Pass y.ravel() (or df.iloc[:, 0] for a DataFrame) to silence this "
            "warning."), stacklevel=stacklevel)
        if is_pandas(y):
            y = y.iloc[:, 0]
            labels = np.asarray(y.to_numpy())
        else:
            y = [row[0] for row in y] if isinstance(y, (list, tuple)) else labels[:, 0]
            labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"{owner} expected y of shape ({n},), one label per sequence of X, got shape "
                         f"{labels.shape}.")
    return y, labels


_KIND_NAMES = {"str": "strings", "number": "numbers"}


def check_label_kind(labels: np.ndarray, classes: np.ndarray, owner: str) -> None:
    """Refuse labels (N,) that are all strings against numeric ``classes`` (K,), or all numbers
    against string ones: "1" and 1 are never equal, so scoring them would give an accuracy of 0
    instead of an error. Unseen labels of the classes' kind simply never match."""
    ours, theirs = (_KIND_NAMES.get(label_kind(a)) for a in (labels, classes))
    if {ours, theirs} == {"strings", "numbers"}:
        raise ValueError(f"Mix of label input types (string and number): {owner} got y of {ours} (dtype "
                         f"{labels.dtype}), but the classes learned by fit are {theirs}: {classes.tolist()[:10]}. "
                         "Convert y to the type of classes_, e.g. y.astype(clf.classes_.dtype).")


def _refuse_unsupported(raw: np.ndarray, owner: str) -> None:
    """Refuse complex and bytes labels (N,), as scikit-learn does: neither is a class label kind
    that fit could save or that compares with the strings and numbers of another call."""
    values = raw if raw.dtype.kind == "O" else raw[:1]
    if raw.dtype.kind == "c" or any(isinstance(v, (complex, np.complexfloating)) for v in values):
        raise ValueError(f"Complex data not supported: {owner} expected class labels in y (integers, strings or "
                         f"bools), got complex numbers (dtype {raw.dtype}). Use their real part, e.g. "
                         "y.real.astype(int), or strings.")
    if raw.dtype.kind == "S" or any(isinstance(v, bytes) for v in values):
        raise TypeError(f"{owner} does not support labels represented as bytes (dtype {raw.dtype}), as "
                        "scikit-learn does not. Decode them to strings first, e.g. np.char.decode(y, 'utf-8') "
                        "or [v.decode('utf-8') for v in y].")


def encode_labels(y: Any, n: int, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """(classes_ (K,) the sorted distinct labels, y_idx (N,) the class id of each label).

    Args:
        y: the N labels (see the module docstring).
        n: N, the number of sequences in X.
        owner: "SequenceClassifier.fit", for messages.
    """
    y, labels = label_array(y, n, owner, stacklevel=4)
    raw = labels
    if isinstance(y, (list, tuple)) and labels.dtype.kind == "U":   # numpy turned any numbers into text
        raw = np.empty(n, dtype=object)
        raw[:] = list(y)
    kind = raw.dtype.kind
    _refuse_unsupported(raw, owner)
    missing = (np.isnan(raw) if kind == "f" else np.isnat(raw) if kind in "mM"
               else np.array([is_missing_label(v) for v in raw]) if kind == "O" else np.zeros(n, bool))
    if missing.any():
        raise ValueError(f"{owner} expected a label for every sequence, got {int(missing.sum())} missing "
                         f"label(s) (None, NaN or NA; the first at position {int(np.argmax(missing))}). Drop "
                         "those sequences or give them a class of their own.")
    numeric = labels if kind == "f" else None
    if kind == "O" and all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in raw):
        numeric = raw.astype(np.float64)   # numbers stored as objects: judged as numbers
    whole = None if numeric is None else np.isfinite(numeric) & (numeric == np.round(numeric))
    if whole is not None and not whole.all():
        example = float(numeric[~whole][0])
        raise ValueError(f"Unknown label type: continuous. {owner} expected class labels in y (integers, strings "
                         f"or bools), got float values that are not whole numbers (e.g. {example!r}). To predict "
                         "a quantity use a regressor (rnnkit's Forecaster forecasts series); if the values are "
                         "classes, cast them, e.g. y.astype(int) or y.astype(str).")
    mixed = raw is not labels and not all(isinstance(v, str) for v in raw)   # e.g. [1, "a"]
    if not mixed:
        try:
            classes, y_idx = np.unique(labels, return_inverse=True)
        except TypeError:   # an object array of kinds that do not compare
            mixed = True
    if mixed:
        kinds = sorted({type(v).__name__ for v in raw})
        raise ValueError(f"{owner} expected labels of one kind that can be sorted, got a mix of {kinds}. "
                         "Convert them to one type, e.g. np.asarray(y, dtype=str).")
    return classes, y_idx.reshape(-1)
