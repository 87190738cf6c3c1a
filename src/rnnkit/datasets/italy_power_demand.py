"""ItalyPowerDemand (UCR archive): classify a day's 24 hourly power-demand values by season.

Class 0 (label "1" in the file): days from October to March; class 1 (label "2"): April to
September. 67 training and 1029 test days, each a z-normalised univariate series of 24 steps,
the archive's own split. Source, citation and licence: ``data/italy_power_demand/README.md``.
"""

from __future__ import annotations

import numpy as np

from ..data.ts_format import read_ts
from ._files import data_file

CLASS_NAMES = ("October-March", "April-September")


def load_italy_power_demand() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load the ItalyPowerDemand classification problem with its train/test split.

    Returns:
        X_train (67, 24, 1) float64, y_train (67,) int64 in {0, 1}, X_test (1029, 24, 1),
        y_test (1029,); class k is ``CLASS_NAMES[k]``.
    """
    out = []
    for split in ("TRAIN", "TEST"):
        with data_file("italy_power_demand", f"ItalyPowerDemand_{split}.ts") as path:
            ts = read_ts(path)
        out += [ts.X, ts.encoded_labels()]
    return out[0], out[1], out[2], out[3]
