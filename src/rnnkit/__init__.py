"""rnnkit: recurrent neural networks (RNN, LSTM, GRU) with hand-written Backpropagation Through
Time, equal to PyTorch, in NumPy alone.

Architecture: :mod:`rnnkit.kernels` (pure forward/backward functions) ->
:mod:`rnnkit.layers` (parameter-holding layers and cells, ``Sequential``) ->
:mod:`rnnkit.losses`, :mod:`rnnkit.optim` -> :mod:`rnnkit.training` (``fit``, truncated BPTT,
checkpoints) and :mod:`rnnkit.io` (safetensors files, ``rnnkit.load``).
Around them: :mod:`rnnkit.estimators` (``Forecaster``, ``SequenceClassifier``, ``TextGenerator``: fit/predict
in scikit-learn's conventions), :mod:`rnnkit.cli` (the ``rnnkit`` command),
:mod:`rnnkit.data` (windows, splits, scalers, padding, CSV and ``.ts`` readers),
:mod:`rnnkit.datasets` (small real datasets shipped in the package), :mod:`rnnkit.metrics`
(forecast metrics beside the seasonal-naive baseline) and :mod:`rnnkit.plots` (matplotlib,
imported only when a plot is drawn).
"""

from . import data, datasets, errors, estimators, losses, metrics, optim, plots, training
from .data import DataFileError, NotFittedError
from .errors import ConfigError, LoadError, NonFiniteError, ParameterTypeError, SeriesTooShortError
from .estimators import Forecaster, SequenceClassifier, TextGenerator, load_estimator
from .io import load
from .layers import (
    GRU,
    LSTM,
    RNN,
    Dropout,
    Embedding,
    GRUCell,
    LastStep,
    Linear,
    LSTMCell,
    Module,
    ReLU,
    RNNCell,
    Sequential,
    Sigmoid,
    Tanh,
    TimePool,
    is_grad_enabled,
    no_grad,
)

__version__ = "0.1.0"

__all__ = [
    "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "Module", "__version__",
    "Linear", "Embedding", "Dropout", "Tanh", "ReLU", "Sigmoid", "LastStep", "TimePool", "Sequential",
    "no_grad", "is_grad_enabled",
    "load", "losses", "optim", "training", "errors", "ConfigError", "LoadError", "NonFiniteError",
    "ParameterTypeError", "SeriesTooShortError",
    "data", "datasets", "metrics", "plots", "DataFileError", "NotFittedError",
    "estimators", "Forecaster", "SequenceClassifier", "TextGenerator", "load_estimator",
]
