"""rnnkit's own exception classes. Each derives from a built-in one, so ``except ValueError``
keeps working; catch the rnnkit class when you want to single out one kind of problem.

- :class:`ConfigError` (``ValueError``): a configuration names an unknown layer, loss or
  optimizer, or lacks a field.
- :class:`LoadError` (``ValueError``): a model or checkpoint file cannot be loaded: it is
  missing (then also a ``FileNotFoundError``, see :class:`MissingFileError`), truncated,
  corrupted, not an rnnkit file, or its contents do not match its config. The message names the
  file and the problem.
- :class:`NonFiniteError` (``FloatingPointError`` and ``ValueError``): training met a loss or a
  gradient that is NaN or infinite. The message names the epoch and the batch.
- :class:`ParameterTypeError` (``TypeError`` and ``ValueError``): a parameter of the wrong type
  (a str, float or bool where an int or a float is expected), as scikit-learn's
  ``InvalidParameterError`` is both; a wrong value of the right type is a plain ``ValueError``.
- :class:`SeriesTooShortError` (``ValueError``): ``Forecaster.fit`` got a series shorter than
  lookback + horizon + 1 steps; ``backtest`` names the origin whose history it was.
"""

from __future__ import annotations

import os

from ._checks import ParameterTypeError  # defined beside the checks that raise it; exported here

__all__ = ["ConfigError", "LoadError", "MissingFileError", "NonFiniteError", "ParameterTypeError",
           "SeriesTooShortError"]


class ConfigError(ValueError):
    """A config dict that cannot be turned back into an object."""


class LoadError(ValueError):
    """A file that cannot be read as an rnnkit model, checkpoint or safetensors file."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"Cannot load '{self.path}': {problem}")

    def __str__(self) -> str:
        return f"Cannot load '{self.path}': {self.problem}"


class MissingFileError(LoadError, FileNotFoundError):
    """The file to load does not exist (a :class:`LoadError` and a ``FileNotFoundError``)."""

    def __init__(self, path: str | os.PathLike) -> None:
        LoadError.__init__(self, path, "no such file.")
        self.filename = self.path


class NonFiniteError(FloatingPointError, ValueError):
    """A NaN or infinite loss or gradient stopped training.

    Attributes: ``epoch`` and ``batch`` (1-based) where it happened (both None when raised by
    ``Optimizer.step()`` outside ``fit``), ``what`` ("loss", "gradient" or "weights").
    """

    def __init__(self, message: str, epoch: int | None, batch: int | None, what: str) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.what = epoch, batch, what


class SeriesTooShortError(ValueError):
    """A series too short to fit a forecaster on (fewer than lookback + horizon + 1 steps)."""
