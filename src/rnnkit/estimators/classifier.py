"""``SequenceClassifier``: one label per sequence, in scikit-learn's conventions.

What ``fit(X, y)`` does, in order (every statistic comes from the training X alone):

1. X -> a list of (T_n, C) float arrays (see :mod:`rnnkit.estimators.sequences`); y -> class
   ids 0..K-1 through ``classes_ = np.unique(y)``.
2. Length reduction: when the longest sequence has more than ``max_steps`` steps, every
   sequence is cut into blocks of k = ``pool_size_`` = ceil(max T_n / max_steps) steps, each
   summarised by its mean and its standard deviation per channel (2C inputs; the same k at
   predict time; see :func:`.sequences.average_pool`). Long recurrences are slow and learn
   poorly; the means keep the shape of the signal and the spreads the energy of what
   averaging smooths away.
3. Per-channel standardisation: z = (x - channel_mean_) / channel_scale_.
4. A stratified validation split (``validation_fraction`` of each class; by default only for
   1000 sequences or more).
5. Network: recurrent layer -> TimePool(``pooling``: mean, maximum and last step over the
   valid steps) -> [Dropout] -> Linear(K logits); softmax cross-entropy, Adam(``lr``),
   global-norm clipping at 1, up to ``epochs`` epochs: a warm-up of at least
   ``WARMUP_UPDATES`` updates, then early stopping after ``patience`` epochs without a lower
   validation loss; the model keeps the best epoch's weights.

Shapes: N sequences, T_n steps, C channels, K classes.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .._checks import check_bool, check_positive_int, check_probability
from ..layers.time_pool import MODES
from ..losses.cross_entropy import log_softmax
from ..metrics.classification import accuracy
from .base import BaseEstimator
from .checks import check_common, check_optional_int, spawn_seeds
from .labels import check_label_kind, encode_labels, label_array
from .network import build_network, to_float32, train_network
from .sequences import as_sequences, average_pool, channel_stats, pool_size_for, stratified_split


#: optimizer steps before early stopping may end training (see network.train_network)
WARMUP_UPDATES = 400
#: validation_fraction=None holds out AUTO_FRACTION of the data only from this many sequences on
AUTO_VALIDATION_MIN, AUTO_FRACTION = 1000, 0.2


class SequenceClassifier(BaseEstimator):
    """A recurrent network that assigns one class to each sequence.

    Args:
        cell: "lstm", "gru" or "rnn" (Elman, tanh).
        hidden_size: H, hidden units per direction.
        num_layers: stacked recurrent layers.
        bidirectional: read each sequence in both directions (D = 2).
        dropout: p in [0, 1) between stacked layers and before the output layer.
        epochs: most passes over the training data (early stopping usually ends sooner).
        batch_size: sequences per update.
        lr: Adam's learning rate.
        max_steps: longest sequence the network reads; longer inputs are summarised in blocks
            (mean and spread) down to at most this many steps (None: never).
        pooling: how the per-step outputs become one vector: a list of "mean", "max", "last".
        validation_fraction: part of each class held out for early stopping on the validation
            loss; 0: none (training stops when the training loss stops falling); None (default):
            0.2 from 1000 sequences on, else 0 (measured: with fewer, holding data out costs more
            accuracy than early stopping on a small validation set gains; see docs/estimators.md).
        patience: epochs without improvement before stopping.
        seed: int, numpy Generator or None: weights, shuffling, split and dropout masks.
        verbose: show a progress bar per epoch.

    Attributes (after fit):
        classes_: (K,) the sorted distinct labels. n_features_in_: C.
        pool_size_: k of the length reduction (1: none). channel_mean_, channel_scale_: (C,).
        model_: the trained :class:`~rnnkit.Sequential`. history_: per-epoch losses and how
        training ended (dict).

    Example:
        >>> import numpy as np, rnnkit
        >>> from rnnkit.estimators import SequenceClassifier
        >>> rng = np.random.default_rng(0)
        >>> X = [rng.standard_normal((int(rng.integers(5, 20)), 2)) for _ in range(60)]
        >>> y = np.array(["up" if x[:, 0].mean() > 0 else "down" for x in X])
        >>> clf = SequenceClassifier(hidden_size=8, epochs=3, seed=0, verbose=False).fit(X, y)
        >>> clf.predict(X[:2]).shape, clf.predict_proba(X[:2]).shape
        ((2,), (2, 2))
    """

    _estimator_type = "classifier"

    def __init__(self, cell: str = "lstm", hidden_size: int = 64, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, epochs: int = 200, batch_size: int = 32,
                 lr: float = 5e-3, max_steps: int | None = 64,
                 pooling: Sequence[str] = ("mean", "max", "last"),
                 validation_fraction: float | None = None, patience: int = 15,
                 seed: int | np.random.Generator | None = None, verbose: bool = True) -> None:
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.max_steps = max_steps
        self.pooling = pooling
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.seed = seed
        self.verbose = verbose

    # -- fit -------------------------------------------------------------------------------
    def _check_params(self) -> tuple[str, ...]:
        owner = type(self).__name__
        check_common(self)
        check_optional_int(self.max_steps, "max_steps", owner, minimum=2)
        if self.validation_fraction is not None:
            check_probability(self.validation_fraction, "validation_fraction", owner)
        check_positive_int(self.patience, "patience", owner)
        check_bool(self.bidirectional, "bidirectional", owner)
        modes = [self.pooling] if isinstance(self.pooling, str) else (
            list(self.pooling) if isinstance(self.pooling, (list, tuple)) else None)
        if not modes or len(set(modes)) != len(modes) or any(m not in MODES for m in modes):
            raise ValueError(f"The 'pooling' parameter of {owner} must be a non-empty list of distinct names "
                             f"among {MODES}. Got {self.pooling!r} instead.")
        return tuple(modes)

    def fit(self, X: Any, y: Any) -> "SequenceClassifier":
        """Learn from sequences X and one label per sequence y.

        Args:
            X: N sequences: a list of (T_n, C) or (T_n,) arrays, an (N, T, C) array, or an
                (N, T) array of univariate series.
            y: (N,) class labels of one kind (ints, strings, bools; floats only with whole values),
                none missing, at least 2 classes (see :mod:`rnnkit.estimators.labels`).

        Returns:
            self. The fitted attributes are set only once training has succeeded: when fit raises,
            an estimator fitted before keeps its previous state.
        """
        modes = self._check_params()
        seqs = as_sequences(X, "SequenceClassifier.fit")
        classes, y_idx = encode_labels(y, len(seqs), "SequenceClassifier.fit")
        if len(classes) < 2:
            raise ValueError(f"SequenceClassifier.fit expected at least 2 classes in y, got only 1 class: "
                             f"{classes.tolist()}.")
        n_features, pool_size = seqs[0].shape[1], pool_size_for(seqs, self.max_steps)
        seqs = average_pool(seqs, pool_size)
        mean, scale = channel_stats(seqs)
        Z = [to_float32((s - mean) / scale) for s in seqs]
        s = spawn_seeds(self.seed, 6)
        fraction = self.validation_fraction
        if fraction is None:
            fraction = AUTO_FRACTION if len(Z) >= AUTO_VALIDATION_MIN else 0.0
        split = stratified_split(y_idx, fraction, s[4])
        train, val = (np.arange(len(Z)), None) if split is None else split
        model = build_network(self.cell, Z[0].shape[1], self.hidden_size, self.num_layers, self.bidirectional,
                              self.dropout, len(classes), modes, s[:4])
        validation = None if val is None else ([Z[i] for i in val], y_idx[val])
        history = train_network(model, [Z[i] for i in train], y_idx[train], loss="cross_entropy", lr=self.lr,
                                epochs=self.epochs, batch_size=self.batch_size, patience=self.patience,
                                validation_data=validation, seed=s[5], verbose=self.verbose,
                                warmup_updates=WARMUP_UPDATES)
        # only now that training succeeded: a failed refit leaves the previous fitted state whole
        self.classes_, self.n_features_in_, self.pool_size_ = classes, n_features, pool_size
        self.channel_mean_, self.channel_scale_ = mean, scale
        self.model_, self.history_ = model, history
        return self

    # -- predict ---------------------------------------------------------------------------
    def _logits(self, X: Any, method: str) -> np.ndarray:
        self._check_fitted(method)
        seqs = as_sequences(X, f"SequenceClassifier.{method}", self.n_features_in_)
        seqs = average_pool(seqs, self.pool_size_)
        Z = [to_float32((s - self.channel_mean_) / self.channel_scale_) for s in seqs]
        return self.model_.predict(Z).astype(np.float64)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (N, K), columns in the order of ``classes_``."""
        return np.exp(log_softmax(self._logits(X, "predict_proba")))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable label of each sequence, (N,) with the dtype of ``classes_``."""
        logits = self._logits(X, "predict")
        return self.classes_[logits.argmax(axis=1)]

    def score(self, X: Any, y: Any) -> float:
        """Accuracy, (1/N) sum_n [predict(X)_n == y_n], in [0, 1]; higher is better.

        y: (N,) labels of the kind of ``classes_`` (strings against string classes, numbers
        against numeric ones; a mix raises ValueError); labels fit never saw count as wrong. A
        column vector (N, 1) is read as (N,) with a DataConversionWarning.
        """
        self._check_fitted("score")
        pred = self.predict(X)
        _, labels = label_array(y, len(pred), "SequenceClassifier.score")
        check_label_kind(labels, self.classes_, "SequenceClassifier.score")
        return accuracy(labels, pred)

    # -- saving ----------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Fitted attributes for the file. ``classes_`` keeps its dtype ("classes_dtype"): numbers
        and strings are stored as arrays, dates as int64 ticks, other object labels (Python ints of
        any size, a pandas object column) as a JSON list, so the loaded ``predict`` returns the
        same labels of the same dtype."""
        classes = self.classes_
        state = {"n_features_in_": int(self.n_features_in_), "pool_size_": int(self.pool_size_),
                 "history_": self.history_, "classes_dtype": classes.dtype.str}
        arrays = {"channel_mean_": self.channel_mean_, "channel_scale_": self.channel_scale_}
        if classes.dtype.kind in "mM":
            arrays["classes_"] = classes.view(np.int64)
        elif classes.dtype.kind == "O" and not all(isinstance(v, str) for v in classes):
            values = [v.item() if isinstance(v, np.generic) else v for v in classes]
            odd = [v for v in values if not isinstance(v, (str, int, float))]  # bool is an int
            if odd:
                raise TypeError(f"Cannot save SequenceClassifier: classes_ holds {type(odd[0]).__name__} labels "
                                f"({odd[0]!r}), which a file cannot store; only numbers, strings, bools and naive "
                                "datetime64 labels can. Fit on y.astype(str), or on naive dates "
                                "(y.dt.tz_localize(None) for a pandas Series), then save.")
            state["classes_"] = values
        else:
            arrays["classes_"] = classes
        return state, arrays

    def _set_state(self, state: dict[str, Any], arrays: dict[str, Any]) -> None:
        self.n_features_in_, self.pool_size_ = int(state["n_features_in_"]), int(state["pool_size_"])
        self.history_ = state["history_"]
        if "classes_" in state:
            if not isinstance(state["classes_"], list):
                raise TypeError(f"expected 'classes_' as a JSON list, got {type(state['classes_']).__name__}")
            classes = np.empty(len(state["classes_"]), dtype=object)
            classes[:] = state["classes_"]
        else:
            classes = arrays["classes_"]
        dtype = state.get("classes_dtype")   # absent in files written before it was kept
        if dtype is not None:
            dtype = np.dtype(dtype)
            classes = classes.view(dtype) if dtype.kind in "mM" else classes.astype(dtype)
        self.classes_ = classes
        self.channel_mean_, self.channel_scale_ = arrays["channel_mean_"], arrays["channel_scale_"]
