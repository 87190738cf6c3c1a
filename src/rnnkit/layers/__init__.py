"""Layers: objects that hold parameters and call the pure kernels of :mod:`rnnkit.kernels`.

Recurrent layers and cells (``RNN``, ``LSTM``, ``GRU``, ``*Cell``), the layers around them
(``Linear``, ``Embedding``, ``Dropout``, ``Tanh``/``ReLU``/``Sigmoid``, ``LastStep``, ``TimePool``)
and the container ``Sequential``; ``no_grad`` for forward passes that keep nothing for a backward.
"""

from .activation import ReLU, Sigmoid, Tanh
from .cells import GRUCell, LSTMCell, RNNCell
from .dropout import Dropout
from .embedding import Embedding
from .grad_mode import evaluating, is_grad_enabled, no_grad
from .gru import GRU
from .last_step import LastStep
from .linear import Linear
from .lstm import LSTM
from .module import Module
from .recurrent import RecurrentLayer
from .registry import register_layer
from .rnn import RNN
from .sequential import Sequential
from .time_pool import TimePool

__all__ = [
    "Module", "RecurrentLayer", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell",
    "Linear", "Embedding", "Dropout", "Tanh", "ReLU", "Sigmoid", "LastStep", "TimePool", "Sequential",
    "register_layer", "no_grad", "is_grad_enabled", "evaluating",
]
