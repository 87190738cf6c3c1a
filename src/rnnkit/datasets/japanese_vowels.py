"""JapaneseVowels (UEA archive, from UCI): recognise the speaker from an utterance of "ae".

Nine male speakers; each case is a variable-length (7 to 29 frames) sequence of 12 LPC
cepstrum coefficients: the classic multivariate, unequal-length task for recurrent networks
(pad with :func:`rnnkit.data.pad_sequences` and pass the lengths). 270 training and 370 test
cases, the archive's split. Class k is speaker k + 1. Source, citation and licence:
``data/japanese_vowels/README.md``.
"""

from __future__ import annotations

import numpy as np

from ..data.ts_format import read_ts
from ._files import data_file


def load_japanese_vowels() -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray], np.ndarray]:
    """Load the JapaneseVowels classification problem with its train/test split.

    Returns:
        X_train: list of 270 float64 arrays (T_n, 12), 7 <= T_n <= 29; y_train (270,) int64
        in 0..8; X_test: list of 370 arrays (T_n, 12); y_test (370,).
    """
    out: list = []
    for split in ("TRAIN", "TEST"):
        with data_file("japanese_vowels", f"JapaneseVowels_{split}.ts.gz") as path:
            ts = read_ts(path)
        out += [list(ts.X), ts.encoded_labels()]
    return out[0], out[1], out[2], out[3]
