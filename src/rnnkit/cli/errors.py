"""How the command line reports failures: one plain-text line on stderr and an exit code.

Exit codes (also in ``docs/cli.md``):

====  ===========================================================================
0     success
1     the input cannot be used: a data file, a model file, a value out of range,
      a file that cannot be read or written (the message names it and the fix)
2     the command line itself is wrong (argparse: unknown option, missing argument)
3     an internal error: a bug in rnnkit (the traceback is printed, please report it)
130   interrupted with Ctrl-C
====  ===========================================================================

User mistakes never print a traceback: :class:`CLIError`, every ``ValueError`` (rnnkit's
``DataFileError``, ``LoadError``, ``NonFiniteError`` and the estimators' parameter checks all
derive from it) and every ``OSError`` (missing file, permission denied, disk full) become
``rnnkit: error: <message>``. ``--traceback`` (or ``RNNKIT_TRACEBACK=1``) shows the traceback
of those too, for debugging.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from contextlib import contextmanager
from typing import Iterator, TextIO

import numpy as np

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class CLIError(Exception):
    """A problem with what the user asked for, found by the command line itself.

    The message is printed as it is, after ``rnnkit: error:``; it should name the file, row or
    column at fault and say how to fix it.
    """


def _oserror_message(exc: OSError) -> str:
    """``FileNotFoundError: [Errno 2] No such file or directory: 'x'`` -> a sentence with a fix."""
    name = exc.filename
    if name is None:
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        return f"No such file or directory: '{name}'. Check the path."
    if isinstance(exc, IsADirectoryError):
        return f"'{name}' is a directory; expected a file."
    if isinstance(exc, NotADirectoryError):
        return f"'{name}' is not a directory (a part of the path is a file)."
    if isinstance(exc, PermissionError):
        return f"Permission denied: '{name}'. Choose a path you can read and write."
    return f"{exc.strerror or exc}: '{name}'."


#: the Python keywords that rnnkit's messages suggest, and the options that do the same here
_API_TO_FLAGS = ((re.compile(r"fill='(\w+)'"), r"--fill \1"), (re.compile(r"delimiter='(.)'"), r"--delimiter '\1'"))


def message_for(exc: BaseException) -> str:
    """The one-line text shown for a user error; a hint to pass ``fill='ffill'`` becomes
    ``--fill ffill``, and a NonFiniteError gets the command line's advice (``--lr``)."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return _oserror_message(exc)
    if type(exc).__name__ == "NonFiniteError":  # its advice names Python options (clip_norm=...)
        return (f"Training diverged: non-finite {exc.what} at epoch {exc.epoch}, batch {exc.batch}; no model "
                "was saved. Try a smaller learning rate (e.g. --lr 0.0001) or check the data for huge values.")
    text = str(exc).strip() or type(exc).__name__
    for pattern, flag in _API_TO_FLAGS:
        text = pattern.sub(flag, text)
    return text


@contextmanager
def training(where: str) -> Iterator[None]:
    """Around an estimator's ``fit``: a ValueError becomes a CLIError starting with ``where``
    (the file and column), and NumPy's overflow warnings are silenced: the trainer checks every
    loss, gradient and update and stops with a NonFiniteError, reported as one line."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        try:
            yield
        except ValueError as exc:
            raise CLIError(f"{where}: {message_for(exc)}") from exc


def report_exception(exc: BaseException, show_traceback: bool = False, stream: TextIO | None = None) -> int:
    """Print ``exc`` for the user and return the exit code it stands for."""
    stream = stream if stream is not None else sys.stderr
    show_traceback = show_traceback or os.environ.get("RNNKIT_TRACEBACK", "") not in ("", "0")
    if isinstance(exc, KeyboardInterrupt):
        stream.write("\nrnnkit: interrupted.\n")
        return EXIT_INTERRUPTED
    if isinstance(exc, (CLIError, ValueError, OSError, MemoryError)):
        if show_traceback:
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=stream)
        if isinstance(exc, MemoryError):
            stream.write("rnnkit: error: out of memory. Use less data, a smaller --batch-size or --hidden-size.\n")
        else:
            stream.write(f"rnnkit: error: {message_for(exc)}\n")
        return EXIT_ERROR
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=stream)
    stream.write(f"rnnkit: internal error ({type(exc).__name__}). This is a bug in rnnkit; please report it "
                 "with the command line and the traceback above.\n")
    return EXIT_INTERNAL
