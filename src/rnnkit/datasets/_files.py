"""Locating the data files shipped inside the package (``rnnkit/datasets/data/<name>/``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib import resources


@contextlib.contextmanager
def data_file(folder: str, filename: str) -> Iterator[str]:
    """A real filesystem path to a shipped file, for the duration of the ``with`` block."""
    ref = resources.files("rnnkit.datasets") / "data" / folder / filename
    if not ref.is_file():
        raise FileNotFoundError(
            f"The dataset file 'rnnkit/datasets/data/{folder}/{filename}' is missing from this "
            "installation. Reinstall rnnkit (the data files are package data)."
        )
    with resources.as_file(ref) as path:
        yield str(path)
