"""Data helpers: from files and arrays to the windows and batches a recurrent model trains on.

- :mod:`~rnnkit.data.windows`: ``sliding_windows`` (X (N, L, C), y (N, H[, C])),
  ``sliding_windows_multi`` for many series, ``last_window`` for the forecast input.
- :mod:`~rnnkit.data.split`: time-ordered ``temporal_train_test_split`` and
  ``temporal_train_val_test_split`` (no shuffling).
- :mod:`~rnnkit.data.scalers`: ``StandardScaler`` and ``MinMaxScaler`` per channel, fitted on
  training data only; :mod:`~rnnkit.data.per_series`: ``PerSeriesScaler`` for a list of series.
- :mod:`~rnnkit.data.padding`: ``pad_sequences`` / ``unpad_sequences`` with lengths.
- :mod:`~rnnkit.data.missing`: ``fill_missing`` ("ffill" or "interpolate").
- Readers: ``read_csv_wide``, ``read_csv_long`` (csv module; DataFrames accepted) and
  ``read_ts`` (UCR/UEA ``.ts``). Bad input raises :class:`DataFileError` naming the file, the
  line and the column.

Nothing here imports pandas or matplotlib.
"""

from .csv_long import LongSeries, read_csv_long
from .csv_wide import WideSeries, read_csv_wide
from .errors import DataFileError, NotFittedError
from .missing import fill_missing
from .padding import pad_sequences, unpad_sequences
from .per_series import PerSeriesScaler
from .scalers import MinMaxScaler, StandardScaler
from .split import temporal_train_test_split, temporal_train_val_test_split
from .ts_format import TSData, read_ts
from .windows import last_window, sliding_windows, sliding_windows_multi

__all__ = [
    "sliding_windows", "sliding_windows_multi", "last_window",
    "temporal_train_test_split", "temporal_train_val_test_split",
    "StandardScaler", "MinMaxScaler", "PerSeriesScaler",
    "pad_sequences", "unpad_sequences", "fill_missing",
    "read_csv_wide", "read_csv_long", "WideSeries", "LongSeries", "read_ts", "TSData",
    "DataFileError", "NotFittedError",
]
