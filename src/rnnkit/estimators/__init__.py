"""Estimators: recurrent networks behind scikit-learn-style ``fit`` / ``predict``.

- :class:`SequenceClassifier`: one label per sequence (variable lengths, any channels).
- :class:`Forecaster`: the next ``horizon`` values of a series, of several channels, or of
  many series with one global model; ``backtest`` for rolling-origin evaluation beside the
  seasonal-naive baseline.
- :class:`TextGenerator`: a character-level language model (``sample``, ``perplexity``).
- :func:`load_estimator`: rebuild an estimator saved with ``est.save(path)``.

Each follows scikit-learn's conventions (``get_params`` / ``set_params``, attributes learned by
``fit`` end in ``_``) without importing scikit-learn; importing this package needs only NumPy.
"""

from ..layers.time_pool import TimePool  # its home is rnnkit.layers; kept importable from here
from .backtest import BacktestResult, backtest
from .base import BaseEstimator
from .classifier import SequenceClassifier
from .forecaster import Forecaster
from .persistence import load_estimator
from .text_generator import TextGenerator

__all__ = ["SequenceClassifier", "Forecaster", "TextGenerator", "load_estimator", "backtest",
           "BacktestResult", "BaseEstimator", "TimePool"]
