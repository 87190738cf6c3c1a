"""Kernels: pure functions over one layer and one direction, with explicit caches.

``*_forward(x, state0, W_ih, W_hh, b_ih, b_hh, batch_sizes, rec_mask, reverse, [options,] ws)
-> (y, stateT, cache)`` (options: RNN ``nonlinearity``, GRU ``reset_after``)
``*_backward(cache, dy, dstateT) -> (dx, dstate0, grads, dh_sq)``

Sequences are (F, T, N) arrays and states (H, N) (see :mod:`rnnkit.kernels.common`); each
kernel checks the shapes and dtypes of its arguments first (:mod:`rnnkit.kernels.checks`: a
TypeError or ValueError naming the argument; nothing is broadcast), unless called with
``check_args=False`` (as the layers and cells do, having checked their inputs). Whether or not
they check, a backward refuses the cache of another kernel's forward (TypeError), a second
backward through one cache and one through a cache whose workspace a later forward has used
(ValueError). They hold no parameters; what they keep between calls is only in the workspace
``ws`` (a dict) their caller passes: recycled buffers, whose views ``y`` and the cache are,
valid until the next forward with the same ``ws``.
:mod:`rnnkit.layers` builds on them. The loop over t runs in the C extension
:mod:`rnnkit.kernels._fused` (sources and equations in ``kernels/csrc/``): per step the product
``W_hh @ h``, in float32 on x86-64 with AVX-512 or AVX2 on a kernel of its own
(``csrc/packed.h``), else with NumPy's own BLAS (:mod:`rnnkit.kernels.blas`), then everything
elementwise in one fused pass; the products outside the time loop run on the same kernel or on
NumPy's. Where NumPy's BLAS cannot be called from C, and for the GRU in Cho et al.'s form
(``reset_after=False``), the same steps run in a Python loop. :func:`config` says which of these
this process runs, and what would make it faster.
"""

try:
    from . import _fused  # noqa: F401  (fail here, with the message below, not deep in a kernel)
except ImportError as error:  # pragma: no cover - depends on how rnnkit was installed
    raise ImportError(
        "rnnkit's compiled part, rnnkit.kernels._fused, is missing: this copy of rnnkit was not "
        "built. Expected an installed rnnkit: run `pip install .` (or `pip install -e .`) in the "
        "source tree, which compiles it with the system's C compiler."
    ) from error

from ._config import config
from .gru import gru_backward, gru_forward
from .lstm import lstm_backward, lstm_forward
from .rnn import rnn_backward, rnn_forward

__all__ = [
    "config",
    "rnn_forward", "rnn_backward",
    "lstm_forward", "lstm_backward",
    "gru_forward", "gru_backward",
]
