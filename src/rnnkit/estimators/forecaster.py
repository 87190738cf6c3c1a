"""``Forecaster``: the next ``horizon`` values of one series, several channels, or many series.

What ``fit(y, X=None, known=None)`` does (every statistic comes from the training series alone):

1. y (and covariates X, known covariates) -> a list of (T_i, C) series (see :mod:`.series_input`).
2. Seasonal period m: ``seasonal_period``, or found in the data (:mod:`.period`: the search
   of :func:`rnnkit.metrics.guess_seasonal_period` over all the training series, an
   autocorrelation guess checked and corrected by how well each candidate season forecasts
   them; 1 when there is no clear season).
3. Lookback L: ``lookback``, or two seasons (at least 8 steps), bounded by the length of the
   shortest series (:func:`.windows.choose_lookback`). The anchor uses m when the
   seasonal-naive forecast beats the last value over the horizon in the training data.
4. Windows: every (L-step input, H-step target) pair of every series, each normalised by
   itself and written as a correction to the seasonal-naive forecast (:mod:`.windows`). With
   known covariates each window is read over its L past and H forecast steps (L + H steps).
5. Validation: the last ``validation_fraction`` of each series' windows (in time; windows whose
   targets overlap them are left out of training) drive early stopping.
6. Network: recurrent layer -> last step -> [Dropout] -> Linear(H * C) (``strategy="direct"``:
   all H steps at once) or Linear(C) (``"recursive"``: one step, fed back H times); mean
   squared error, Adam, global-norm clipping at 1, restoring the best epoch's weights.

Shapes: T time steps, C target channels, F covariates, K known covariates, H = ``horizon``,
S series.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_choice, check_positive_int, check_probability
from ..data.scalers import mean_and_scale
from ..errors import SeriesTooShortError
from . import forecaster_file
from .base import BaseEstimator
from .checks import check_common, check_optional_int, spawn_seeds
from .network import build_network, to_float32, train_network
from .period import anchor_period, choose_period
from .series_input import (SeriesData, as_future_known, as_series_data, check_column_names, column_names,
                           known_rules)
from .time_index import wrap
from .windows import choose_lookback, floor_scale, normalise, scale_covariates, training_windows, with_known

STRATEGIES = ("direct", "recursive")
#: fewer training windows than this: no validation split (early stopping on the training loss)
MIN_TRAIN_WINDOWS = 20


class Forecaster(BaseEstimator):
    """A recurrent network that forecasts the ``horizon`` steps after the end of a series.

    Args:
        cell: "lstm", "gru" or "rnn".
        lookback: L, past steps the network reads; None: two seasonal periods, at least 8,
            bounded by the series length.
        horizon: H >= 1, steps forecast.
        hidden_size: H_hidden, hidden units.
        num_layers: stacked recurrent layers.
        strategy: "direct" (one network output per future step) or "recursive" (one-step
            forecasts fed back; not with covariates X, whose future values are unknown, nor, for
            now, with known covariates).
        seasonal_period: m for the seasonal-naive anchor, the baseline and MASE; None: guessed.
        dropout: p in [0, 1) between stacked layers and before the output layer.
        epochs, batch_size, lr: the training loop (Adam).
        validation_fraction: the final part of each series used for early stopping (0: none).
        patience: epochs without a lower validation loss before stopping.
        seed: int, numpy Generator or None.
        verbose: show a progress bar per epoch.

    Attributes (after fit):
        seasonal_period_: m used for the baseline and MASE. lookback_: L.
        anchor_period_: m of the seasonal-naive anchor (1 when a season does not fit in L).
        n_channels_: C. n_covariates_: F (0 without X). n_known_: K (0 without known).
        horizon_, strategy_: the horizon and strategy the network was fitted for (predict refuses
            them changed by set_params until the next fit).
        covariate_names_, known_names_: the column names of X and known when given as DataFrames
            (None otherwise); predict refuses DataFrames whose columns are named otherwise.
        model_: the trained Sequential.
        known_mean_, known_scale_: (K,) mean and std of the training series' known covariates
            together, which standardise every known value the network reads (None without).
        known_tails_: (S, L, K) the standardised known covariates of the training series' last
            L steps, for ``predict()`` after them (None without).
        covariate_mean_, covariate_scale_: (F,) mean and std of the training series' covariates
            X together, which standardise every X value the network reads (None without X, and
            in a model loaded from a file written before they were kept: X is then
            standardised by the history passed to predict, as then).
        history_: per-epoch losses and how training ended.

    Example:
        >>> import numpy as np
        >>> from rnnkit.estimators import Forecaster
        >>> t = np.arange(120)
        >>> y = 10 + 0.1 * t + np.sin(2 * np.pi * t / 12)
        >>> f = Forecaster(horizon=6, hidden_size=8, epochs=3, seed=0, verbose=False).fit(y)
        >>> f.seasonal_period_, f.lookback_, f.predict().shape
        (12, 24, (6,))
    """

    def __init__(self, cell: str = "lstm", lookback: int | None = None, horizon: int = 1, hidden_size: int = 64,
                 num_layers: int = 1, strategy: str = "direct", seasonal_period: int | None = None,
                 dropout: float = 0.0, epochs: int = 200, batch_size: int = 32, lr: float = 5e-3,
                 validation_fraction: float = 0.2, patience: int = 20,
                 seed: int | np.random.Generator | None = None, verbose: bool = True) -> None:
        self.cell = cell
        self.lookback = lookback
        self.horizon = horizon
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.strategy = strategy
        self.seasonal_period = seasonal_period
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.seed = seed
        self.verbose = verbose

    # -- fit -------------------------------------------------------------------------------
    def _check_params(self) -> None:
        owner = type(self).__name__
        check_common(self)
        check_optional_int(self.lookback, "lookback", owner, minimum=2)
        check_positive_int(self.horizon, "horizon", owner)
        check_choice(self.strategy, "strategy", owner, STRATEGIES)
        check_optional_int(self.seasonal_period, "seasonal_period", owner)
        check_probability(self.validation_fraction, "validation_fraction", owner)
        check_positive_int(self.patience, "patience", owner)

    @property
    def _steps_out(self) -> int:
        """Future steps one network output covers: H (direct) or 1 (recursive)."""
        return self.horizon if self.strategy == "direct" else 1

    def _guess_period(self, ys: list[np.ndarray]) -> int:
        if self.seasonal_period is not None:
            return int(self.seasonal_period)
        return choose_period(ys)

    def fit(self, y: Any, X: Any = None, known: Any = None) -> "Forecaster":
        """Learn to forecast ``horizon`` steps ahead from the series y.

        Args:
            y: (T,) array or pandas Series, (T, C) array or DataFrame, or a list of such series
                (one global model; each window is scaled by itself, so series of any level and
                scale can share it). A flat list of numbers is one series.
            X: optional covariates aligned with y: (T, F) (or a list of them for a list of
                series). Their past values are extra inputs, standardised with the mean and std
                of all the training series' X (fixed at fit); pass them to predict as well.
            known: optional known covariates aligned with y, (T, K) (a 1-D (T,) is K = 1; a
                pandas Series / DataFrame or a list, as X): values known in advance over the
                forecast horizon (calendar effects, holidays, planned prices). The network also
                reads their values at the H forecast steps (:mod:`.windows`); ``predict`` needs
                them over the forecast steps. Only with ``strategy="direct"``.

        Returns:
            self. The fitted attributes are set only once training has succeeded: when fit raises,
            a forecaster fitted before keeps its previous state.
        """
        self._check_params()
        data = as_series_data(y, X, "Forecaster.fit", known)
        if data.X is not None and self.strategy == "recursive":
            raise ValueError("Forecaster with strategy='recursive' cannot use covariates X: feeding forecasts back "
                             "would need future covariate values. Use strategy='direct' or drop X.")
        if data.known is not None and self.strategy == "recursive":
            raise ValueError("Forecaster with strategy='recursive' does not support known covariates yet: use "
                             "strategy='direct' (it reads the known values of all H forecast steps), or drop known.")
        H = self._steps_out
        m = self._guess_period(data.y)
        shortest = min(len(s) for s in data.y)
        if self.lookback is None:
            L, m_fit = choose_lookback(shortest, H, m)
        else:
            L, m_fit = int(self.lookback), (m if m <= self.lookback else 1)
        m_anchor = anchor_period(data.y, m_fit, H)
        if shortest < L + H + 1:
            raise SeriesTooShortError(f"Forecaster.fit needs series of at least lookback + horizon + 1 = {L + H + 1} "
                                      f"steps (lookback {L}, {H} forecast step(s) per window), got a series of "
                                      f"{shortest}. Use a shorter lookback or horizon, or longer series.")
        n_channels = data.y[0].shape[1]
        n_covariates = 0 if data.X is None else data.X[0].shape[1]
        n_known = 0 if data.known is None else data.known[0].shape[1]
        stats = None if data.known is None else mean_and_scale(np.concatenate(data.known))   # (K,), (K,)
        if stats is not None:
            data.known = [(k - stats[0]) / stats[1] for k in data.known]
        x_stats = None if data.X is None else mean_and_scale(np.concatenate(data.X))         # (F,), (F,)
        train, val = self._windows(data, L, H, m_anchor, x_stats)
        remembered = self._remember(data, L, stats, x_stats)
        remembered["covariate_names_"] = column_names(X, data.is_list, "X", "Forecaster.fit")
        remembered["known_names_"] = column_names(known, data.is_list, "known", "Forecaster.fit")
        s = spawn_seeds(self.seed, 5)
        model = build_network(self.cell, train[0].shape[2], self.hidden_size, self.num_layers,
                              False, self.dropout, H * n_channels, "last", s[:4])
        flat = lambda z: z.reshape(len(z), -1)  # noqa: E731 - (N, H, C) targets -> (N, H*C)
        history = train_network(model, to_float32(train[0]), to_float32(flat(train[1])), loss="mse",
                                lr=self.lr, epochs=self.epochs, batch_size=self.batch_size,
                                patience=self.patience, seed=s[4], verbose=self.verbose,
                                validation_data=None if val is None else (to_float32(val[0]),
                                                                          to_float32(flat(val[1]))))
        # only now that training succeeded: a failed refit leaves the previous fitted state whole
        self.seasonal_period_, self.lookback_, self.anchor_period_ = m, L, m_anchor
        self.horizon_, self.strategy_ = int(self.horizon), self.strategy
        self.n_channels_, self.n_covariates_, self.n_known_ = n_channels, n_covariates, n_known
        self.model_, self.history_ = model, history
        for name, value in remembered.items():
            setattr(self, name, value)
        return self

    def _windows(self, data: SeriesData, L: int, H: int, m: int, x_stats: tuple | None
                 ) -> tuple[tuple, tuple | None]:
        """Training and validation windows of every series (time-ordered split per series):
        (x (N, L, C + F) or (N, L + H, C + F + K + 1) with known, z (N, H, C)) each; validation None
        when too little data to hold any out. ``x_stats``: X's (mean, scale) fixed at fit."""
        every = [training_windows(y, None if data.X is None else data.X[i], L, H, m,
                                  None if data.known is None else data.known[i], x_stats)
                 for i, y in enumerate(data.y)]
        tr, va = [], []
        for x, z in every:
            n_val = int(round(self.validation_fraction * len(x)))
            n_tr = len(x) - n_val - (H - 1 if n_val else 0)   # no training target overlaps a validation one
            tr.append((x[:max(n_tr, 0)], z[:max(n_tr, 0)]))
            va.append((x[len(x) - n_val:], z[len(x) - n_val:]))
        train = tuple(np.concatenate([p[k] for p in tr]) for k in (0, 1))
        val = tuple(np.concatenate([p[k] for p in va]) for k in (0, 1))
        if len(val[0]) == 0 or len(train[0]) < MIN_TRAIN_WINDOWS:   # too little data to hold any out
            return tuple(np.concatenate([e[k] for e in every]) for k in (0, 1)), None
        return train, val

    @staticmethod
    def _remember(data: SeriesData, L: int, stats: tuple | None, x_stats: tuple | None) -> dict[str, Any]:
        """What predict() needs to forecast right after the training series (fitted attributes);
        ``data.known`` standardised with ``stats`` = (mean (K,), scale (K,)) or None; ``x_stats``
        = (mean (F,), scale (F,)) of the covariates X or None."""
        known = None if stats is None else {
            "known_tails_": np.stack([k[len(k) - L:] for k in data.known]),        # (S, L, K) standardised
            "known_mean_": stats[0], "known_scale_": stats[1]}                     # (K,) each
        return {"tails_": np.stack([y[len(y) - L:] for y in data.y]),                # (S, L, C)
                "floors_": np.stack([floor_scale(y) for y in data.y]),               # (S, C)
                "covariate_tails_": None if data.X is None else np.stack(
                    [scale_covariates(x, x_stats)[len(x) - L:] for x in data.X]),     # (S, L, F)
                "covariate_mean_": None if x_stats is None else x_stats[0],          # (F,)
                "covariate_scale_": None if x_stats is None else x_stats[1],         # (F,)
                "is_list_": data.is_list, "univariate_": data.univariate,
                "index_info_": data.index, "names_": data.names,
                **(known or dict.fromkeys(forecaster_file.KNOWN_ARRAYS))}

    # -- predict ---------------------------------------------------------------------------
    def predict(self, y: Any = None, X: Any = None, known: Any = None) -> Any:
        """Forecast the ``horizon`` steps after the end of y.

        Args:
            y: the history to forecast from, in the form given to fit (a series, or a list of
                series for a model fitted on a list); at least ``lookback_`` steps. None: the
                training series.
            X: covariates aligned with y, required when the model was fitted with X.
            known: the known covariates, required when the model was fitted with them (and
                refused otherwise), K columns as in fit (per series for a list). With y given:
                y's history and the H forecast steps, (T + H, K) for T = len(y); with y None:
                the H forecast steps only, (H, K). Any other number of rows is refused.

        Returns:
            (H,) for a 1-D series, (H, C) for C channels; a pandas Series / DataFrame on the
            continued index when y (or the training y) was pandas; a list of those for a list.
        """
        self._check_fitted("predict")
        self._check_unchanged()
        self._check_known_given(known)
        H, L = self.horizon, self.lookback_
        if y is None:
            if X is not None:
                raise ValueError("Forecaster.predict got covariates X without y. Pass the history y together with "
                                 "its X, or neither to forecast after the training series.")
            k = None
            if known is not None:   # the H future rows after the remembered L
                future = as_future_known(known, len(self.tails_), self.is_list_, H, "Forecaster.predict")
                self._check_n_known(future)
                self._check_names(known, None, self.is_list_)
                k = np.stack([np.concatenate([tail, self._scale_known(f)])
                              for tail, f in zip(self.known_tails_, future)])                  # (S, L + H, K)
            out = self._forecast(self.tails_, self.floors_, self.covariate_tails_, k)
            return self._package(out, self.index_info_, self.names_, self.is_list_)
        data = as_series_data(y, X, "Forecaster.predict", known, horizon=H)
        self._check_history(data)
        self._check_names(known, X, data.is_list)
        tails = np.stack([s[len(s) - L:] for s in data.y])
        floors = np.stack([floor_scale(s) for s in data.y])
        cov = None if data.X is None else np.stack(
            [scale_covariates(x, self._covariate_stats())[len(x) - L:] for x in data.X])        # (S, L, F)
        k = None if data.known is None else np.stack(
            [self._scale_known(kn[len(s) - L:]) for kn, s in zip(data.known, data.y)])         # (S, L + H, K)
        return self._package(self._forecast(tails, floors, cov, k), data.index, data.names, data.is_list)

    def _covariate_stats(self) -> tuple[np.ndarray, np.ndarray] | None:
        """X's (mean, scale) fixed at fit; None in a model from a file written before they were
        kept (X is then standardised by the history passed, as the model was then)."""
        mean = getattr(self, "covariate_mean_", None)
        return None if mean is None else (mean, self.covariate_scale_)

    def _scale_known(self, known: np.ndarray) -> np.ndarray:
        """Known covariates (n, K) standardised with the training statistics (see :mod:`.windows`)."""
        return (known - self.known_mean_) / self.known_scale_

    def _check_unchanged(self) -> None:
        """horizon and strategy shape the network: refuse them changed by set_params since fit."""
        for name in ("horizon", "strategy"):
            fitted = getattr(self, name + "_", getattr(self, name))   # absent: unpickled from before
            if getattr(self, name) != fitted:
                raise ValueError(f"Forecaster.predict: the model was fitted with {name}={fitted!r}, but {name} is now "
                                 f"{getattr(self, name)!r} (set_params takes effect at the next fit). Refit with "
                                 f"fit(...), or set_params({name}={fitted!r}) back.")

    def _check_known_given(self, known: Any) -> None:
        """known is required iff the model was fitted with known covariates."""
        K = getattr(self, "n_known_", 0)
        if K and known is None:
            raise ValueError(f"Forecaster.predict needs the known covariates: the model was fitted with "
                             f"n_known_ = {K} of them. Pass them as known=...: {known_rules(self.horizon)}.")
        if not K and known is not None:
            raise ValueError("Forecaster.predict got known covariates, but the model was fitted without them "
                             "(n_known_ = 0). Drop known, or refit with fit(y, known=...).")

    def _check_names(self, known: Any, X: Any, is_list: bool) -> None:
        """DataFrame columns of known and X named as at fit (when both were named)."""
        owner = "Forecaster.predict"
        for name, given, attr in (("known", known, "known_names_"), ("X", X, "covariate_names_")):
            if given is not None:
                check_column_names(column_names(given, is_list, name, owner), getattr(self, attr, None), name, owner)

    def _check_n_known(self, known: list[np.ndarray]) -> None:
        if known[0].shape[1] != self.n_known_:
            raise ValueError(f"Forecaster.predict expected {self.n_known_} known covariate(s), as in fit, got "
                             f"{known[0].shape[1]}.")

    def _check_history(self, data: SeriesData) -> None:
        c = data.y[0].shape[1]
        if c != self.n_channels_:
            raise ValueError(f"Forecaster.predict expected series with {self.n_channels_} channel(s), as in fit, "
                             f"got {c}.")
        f = 0 if data.X is None else data.X[0].shape[1]
        if f != self.n_covariates_:
            raise ValueError(f"Forecaster.predict expected {self.n_covariates_} covariate(s) in X, as in fit, got "
                             f"{f}{' (X is None)' if data.X is None else ''}.")
        if data.known is not None:
            self._check_n_known(data.known)
        short = min(len(s) for s in data.y)
        if short < self.lookback_:
            raise ValueError(f"Forecaster.predict needs at least lookback_ = {self.lookback_} steps of history, "
                             f"got a series of {short}.")

    def _forecast(self, tails: np.ndarray, floors: np.ndarray, cov: np.ndarray | None,
                  known: np.ndarray | None = None) -> np.ndarray:
        """(S, L, C) histories, (S, L, F) standardised covariates or None and (S, L + H, K)
        standardised known covariates or None -> (S, H, C) forecasts in the original units."""
        S, L, C = tails.shape
        floor = floors[:, None, :]
        if self.strategy == "direct":
            x, a, s = normalise(tails, floor, self.horizon, self.anchor_period_)
            if cov is not None:
                x = np.concatenate([x, cov], axis=2)
            if known is not None:
                x = with_known(x, known)                                     # (S, L + H, C + F + K + 1)
            out = self.model_.predict(to_float32(x)).astype(np.float64).reshape(S, self.horizon, C)
            return a + s * out
        window, steps = tails.copy(), []
        for _ in range(self.horizon):
            x, a, s = normalise(window, floor, 1, self.anchor_period_)
            nxt = a + s * self.model_.predict(to_float32(x)).astype(np.float64).reshape(S, 1, C)
            steps.append(nxt)
            window = np.concatenate([window[:, 1:], nxt], axis=1)
        return np.concatenate(steps, axis=1)

    def _package(self, out: np.ndarray, infos: list, names: list, is_list: bool) -> Any:
        results = []
        for i, f in enumerate(out):
            f = f[:, 0] if self.univariate_ else f
            if infos[i] is not None:
                f = wrap(f, infos[i], names[i] if f.ndim == 2 else None, names[i] if f.ndim == 1 else None)
            results.append(f)
        return results if is_list else results[0]

    # -- evaluation ----------------------------------------------------------------------------
    def backtest(self, y: Any, X: Any = None, n_windows: int = 5, step: int | None = None,
                 refit: bool = False, *, known: Any = None) -> Any:
        """Rolling-origin evaluation of a fresh copy of this forecaster on y (with covariates X and
        known covariates ``known`` (T, K) aligned with y); see
        :func:`rnnkit.estimators.backtest.backtest` (self is left unchanged)."""
        from .backtest import backtest

        return backtest(self, y, X, n_windows=n_windows, step=step, refit=refit, known=known)

    # -- saving (forecaster_file.py) ---------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return forecaster_file.get_state(self)

    def _set_state(self, state: dict[str, Any], arrays: dict[str, Any]) -> None:
        forecaster_file.set_state(self, state, arrays)
