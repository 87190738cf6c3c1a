"""``rnnkit``: the command line (``rnnkit = "rnnkit.cli.main:main"`` in pyproject.toml).

::

    rnnkit demo                                   the main job on the shipped CO2 series
    rnnkit forecast fit DATA.csv --target COL --horizon H --out DIR
    rnnkit forecast predict MODEL DATA.csv --out forecast.csv
    rnnkit classify fit TRAIN [--test TEST] --out DIR
    rnnkit classify predict MODEL DATA [--out predictions.csv]
    rnnkit text fit CORPUS.txt --out DIR
    rnnkit text sample MODEL --prompt TEXT --length N
    rnnkit info [MODEL]                           a model file; without MODEL this installation

Each command group lives in its own module and adds its parsers with ``register(subparsers)``;
a parser's ``func`` runs the command and returns the exit code. Errors are reported by
:mod:`rnnkit.cli.errors`: one line on stderr, no traceback for a user mistake.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from . import classify, demo, forecast, info, text
from .errors import EXIT_ERROR, EXIT_USAGE, report_exception

COMMANDS = (demo, forecast, classify, text, info)


def build_parser() -> argparse.ArgumentParser:
    """The ``rnnkit`` parser with every command under it."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks (RNN, LSTM, GRU) with hand-written BPTT, from the command line: "
                    "forecast a series, classify sequences, generate text.",
        epilog="Run 'rnnkit COMMAND --help' for the options of a command. Start with 'rnnkit demo'.")
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    parser.add_argument("--traceback", action="store_true",
                        help="show the Python traceback of an error (for debugging rnnkit)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit code.

    ``--help`` and ``--version`` return 0 and argparse's usage errors 2, instead of raising
    ``SystemExit``, so the command line can be run in-process (as the tests do).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    try:
        code = int(args.func(args, argv) or 0)
        sys.stdout.flush()
        return code
    except BrokenPipeError:  # `rnnkit ... | head`: the reader left; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except (Exception, KeyboardInterrupt) as exc:
        return report_exception(exc, show_traceback=args.traceback)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
