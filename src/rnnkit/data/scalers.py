"""Scalers fitted on training data only, per channel, with an exact inverse.

Fit on the training part of a series, then transform the training, validation and test parts
and the model's inputs with the *training* statistics; ``inverse_transform`` maps predictions
back to the original units. Channels are the last axis: a (T, C) series or (N, T, C) windows
give C statistics; a 1-D series (T,) gives one, and the scaler then treats every value of any
array it is given as that one channel.

- :class:`StandardScaler`: ``z = (x - mean_) / scale_`` with ``scale_`` the population
  standard deviation (ddof 0, as scikit-learn).
- :class:`MinMaxScaler`: ``z = (x - data_min_) * scale_ + lo`` mapping [min, max] to
  ``feature_range = (lo, hi)``.

A constant channel has no spread: its ``scale_`` is set so that the transform gives 0
(standard) or ``lo`` (min-max) instead of dividing by zero, and the inverse still round-trips.
``fit`` refuses NaN and infinite values; ``transform`` before ``fit`` raises
:class:`~rnnkit.data.NotFittedError`. A scaler fitted on (T, C) or (N, T, C) data refuses a
1-D array (is it C channels of one step, or one channel over time?); reshape it.

The methods have scikit-learn's signatures (``fit(x, y=None)``, ``get_params(deep=True)``,
``set_params``), so ``sklearn.base.clone`` and a ``Pipeline`` of (T, C) data work.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ._arrays import as_float_series
from .._sklearn import sklearn_compatible
from .errors import NotFittedError


class _Scaler:
    """fit / transform / inverse_transform over the last axis; subclasses set shift_ and scale_."""

    _fitted_attr = "scale_"

    def _stats(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def fit(self, x: Any, y: Any = None) -> _Scaler:
        """Learn per-channel statistics from training data x: (T,), (T, C) or (N, T, C).

        ``y`` is ignored (scikit-learn's signature, so the scaler can sit in a ``Pipeline``).
        """
        arr = as_float_series(x, "x", f"{type(self).__name__}.fit", ndim=(1, 2, 3))
        if arr.size == 0:
            raise ValueError(
                f"{type(self).__name__}.fit expected at least one value, got an empty array of shape {arr.shape}."
            )
        self.univariate_ = arr.ndim == 1
        self.n_features_in_ = 1 if self.univariate_ else arr.shape[-1]
        self.shift_, self.scale_ = self._stats(arr.reshape(-1, self.n_features_in_))
        return self

    def _check(self, x: Any, method: str) -> np.ndarray:
        name = f"{type(self).__name__}.{method}"
        if not hasattr(self, self._fitted_attr):
            raise sklearn_compatible(NotFittedError, "NotFittedError")(
                f"This {type(self).__name__} is not fitted yet. Call fit(train) with the training data "
                f"before {method}."
            )
        arr = as_float_series(x, "x", name, ndim=(1, 2, 3) if not self.univariate_ else (0, 1, 2, 3),
                              allow_nan=True)
        if not self.univariate_ and arr.ndim == 1:
            raise ValueError(
                f"{name} expected a (T, C) or (N, T, C) array with C = {self.n_features_in_} channels, as the "
                f"data given to fit, got a 1-D array of shape {arr.shape}. Reshape it with x.reshape(1, -1) "
                f"if it is one time step of the {self.n_features_in_} channels."
            )
        if not self.univariate_ and arr.shape[-1] != self.n_features_in_:
            raise ValueError(
                f"{name} expected an array whose last axis has {self.n_features_in_} channels, as the "
                f"data given to fit, got shape {arr.shape}."
            )
        return arr

    def transform(self, x: Any) -> np.ndarray:
        """Scale x (same layout as the fit data; any shape if fitted on a 1-D series).

        Returns:
            float64 array of the shape of x.
        """
        arr = self._check(x, "transform")
        shift, scale = (self.shift_[0], self.scale_[0]) if self.univariate_ else (self.shift_, self.scale_)
        return self._forward(arr, shift, scale)

    def inverse_transform(self, z: Any) -> np.ndarray:
        """Map scaled values back to the original units (the exact inverse of transform)."""
        arr = self._check(z, "inverse_transform")
        shift, scale = (self.shift_[0], self.scale_[0]) if self.univariate_ else (self.shift_, self.scale_)
        return self._backward(arr, shift, scale)

    def fit_transform(self, x: Any, y: Any = None) -> np.ndarray:
        """``fit(x)`` then ``transform(x)`` (``y`` is ignored)."""
        return self.fit(x).transform(x)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments (``deep`` is accepted for scikit-learn's ``clone``)."""
        return {}

    def set_params(self, **params: Any) -> _Scaler:
        """Set constructor arguments by name (scikit-learn's ``set_params``); returns self."""
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for {type(self).__name__}. Valid parameters: {sorted(valid)}."
                )
            setattr(self, key, value)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, self._fitted_attr)

    def __sklearn_tags__(self) -> Any:  # only called by scikit-learn (>= 1.6), so importing it is safe
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False), transformer_tags=TransformerTags(),
                    input_tags=InputTags(one_d_array=True, two_d_array=True, three_d_array=True))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


_EPS = np.finfo(np.float64).eps


def _constant_range(span: np.ndarray) -> np.ndarray:
    """Where a channel's range max - min is too small to scale by: ``span < 10 * eps``, as
    scikit-learn's MinMaxScaler."""
    return span < 10 * _EPS


def _constant_variance(var: np.ndarray, mean: np.ndarray, n: int) -> np.ndarray:
    """Where a channel's variance is no more than the rounding error of computing it from n
    values, as scikit-learn's StandardScaler (``_is_constant_feature``)::

        var <= n * eps * var + (n * mean * eps) ** 2
    """
    return var <= n * _EPS * var + (n * mean * _EPS) ** 2


def mean_and_scale(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard-deviation scale of ``flat`` (n, C), each (C,)::

        mean  = mean(flat, axis=0)
        scale = std(flat, axis=0)       population std (ddof 0); 1 for a constant channel

    A channel is constant when its variance is within the rounding error of computing it
    (``var <= n * eps * var + (n * mean * eps) ** 2``, scikit-learn's test), so a large level
    with a small spread (1e9 +- 1e-3) is still scaled; its scale is 1, so that
    ``(x - mean) / scale`` maps it to 0 instead of dividing by zero. What
    :class:`StandardScaler` fits, and how the estimators standardise covariates and sequence
    channels.
    """
    mean = flat.mean(axis=0)
    std = flat.std(axis=0)
    return mean, np.where(_constant_variance(std**2, mean, len(flat)), 1.0, std)


class StandardScaler(_Scaler):
    """``z = (x - mean_) / scale_`` per channel; ``scale_`` = std (ddof 0), 1 for a constant channel.

    Attributes (after fit): ``mean_`` (C,), ``scale_`` (C,), ``n_features_in_`` C.
    """

    def _stats(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return mean_and_scale(flat)

    @property
    def mean_(self) -> np.ndarray:
        return self.shift_

    @staticmethod
    def _forward(x: np.ndarray, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
        return (x - shift) / scale

    @staticmethod
    def _backward(z: np.ndarray, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
        return z * scale + shift


class MinMaxScaler(_Scaler):
    """``z = (x - data_min_) * scale_ + lo`` maps each channel's [min, max] to ``feature_range``.

    Args:
        feature_range: (lo, hi) with lo < hi.

    Attributes (after fit): ``data_min_`` (C,), ``data_max_`` (C,), ``scale_`` (C,) =
    (hi - lo) / (max - min), or 1 for a constant channel (which maps to lo).
    """

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        self.feature_range = feature_range

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"feature_range": self.feature_range}

    def _range(self) -> tuple[float, float]:
        fr = self.feature_range
        ok = (isinstance(fr, (tuple, list)) and len(fr) == 2
              and all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in fr)
              and fr[0] < fr[1])
        if not ok:
            raise ValueError(
                f"The 'feature_range' parameter of MinMaxScaler must be a pair (lo, hi) of finite numbers "
                f"with lo < hi. Got {fr!r} instead."
            )
        return float(fr[0]), float(fr[1])

    def _stats(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self._range()
        self.data_min_ = flat.min(axis=0)
        self.data_max_ = flat.max(axis=0)
        span = self.data_max_ - self.data_min_
        constant = _constant_range(span)
        self._lo = lo
        return self.data_min_, np.where(constant, 1.0, (hi - lo) / np.where(constant, 1.0, span))

    def _forward(self, x: np.ndarray, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
        return (x - shift) * scale + self._lo

    def _backward(self, z: np.ndarray, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
        return (z - self._lo) / scale + shift
