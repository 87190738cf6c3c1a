"""rnnkit: recurrent neural networks (RNN, LSTM, GRU) with hand-written Backpropagation Through
Time, equal to PyTorch, in NumPy alone.

Architecture: :mod:`rnnkit.kernels` (pure forward/backward functions) ->
:mod:`rnnkit.layers` (parameter-holding layers and cells).
"""

from .layers import GRU, LSTM, RNN, GRUCell, LSTMCell, Module, RNNCell

__version__ = "0.1.0"

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "Module", "__version__"]
