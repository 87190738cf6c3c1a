"""Layers: objects that hold parameters and call the pure kernels of :mod:`rnnkit.kernels`."""

from .cells import GRUCell, LSTMCell, RNNCell
from .gru import GRU
from .lstm import LSTM
from .module import Module
from .recurrent import RecurrentLayer
from .rnn import RNN

__all__ = ["Module", "RecurrentLayer", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]
