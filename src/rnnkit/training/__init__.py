"""Training: the ``fit`` loop and what it is made of.

- :mod:`.trainer`: ``Trainer`` / ``fit`` (the loop, clipping, non-finite checks, Ctrl-C).
- :mod:`.options`: ``FitOptions``, the one list of fit's options.
- :mod:`.batching`: padding variable-length sequences, validation split, seeded batches.
- :mod:`.tbptt`: truncated BPTT(k1, k2).
- :mod:`.checkpoint`: checkpoints that resume exactly.
- :mod:`.history`, :mod:`.epoch_stats`, :mod:`.metrics`, :mod:`.progress`, :mod:`.evaluate`.
"""

from .batching import pad_sequences, step_mask
from .evaluate import evaluate, predict
from .history import History
from .options import FitOptions
from .tbptt import tbptt_batch
from .trainer import Trainer, fit

__all__ = ["Trainer", "fit", "FitOptions", "History", "tbptt_batch", "pad_sequences", "step_mask",
           "predict", "evaluate"]
