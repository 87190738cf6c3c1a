"""Options shared by several commands, and the argparse types that check numbers.

The estimator options (``--cell``, ``--hidden-size``, ``--epochs``, ...) default to None, and
only the ones given reach the estimator: its constructor keeps the one list of defaults.
Their ``dest`` names are the estimators' parameter names.
"""

from __future__ import annotations

import argparse
import math
from typing import Any, Callable

CELLS = ("lstm", "gru", "rnn")
FILLS = ("ffill", "interpolate")


def _number(kind: Callable[[str], Any], name: str, ok: Callable[[Any], bool], allowed: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {name} {allowed}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {name} {allowed}, got {text!r}")
        return value

    parse.__name__ = name  # argparse names the type in "invalid <name> value" messages
    return parse


positive_int = _number(int, "an int", lambda v: v >= 1, ">= 1")
nonnegative_int = _number(int, "an int", lambda v: v >= 0, ">= 0")
positive_float = _number(float, "a number", lambda v: math.isfinite(v) and v > 0, "> 0")
nonnegative_float = _number(float, "a number", lambda v: math.isfinite(v) and v >= 0, ">= 0")
lookback_int = _number(int, "an int", lambda v: v >= 2, ">= 2")
probability = _number(float, "a number", lambda v: 0 <= v < 1, "in [0, 1)")


def delimiter_char(text: str) -> str:
    """``--delimiter``: one character; ``\\t`` (typed as backslash, t) or ``tab`` for a tab."""
    if text.lower() in ("\\t", "tab"):
        return "\t"
    if len(text) != 1 or text in "\"\r\n":
        raise argparse.ArgumentTypeError(f"expected one character (e.g. ';' or '|'; '\\t' or 'tab' for a tab), "
                                         f"got {text!r}")
    return text


def out_path(text: str) -> str:
    """``--out``: a path, not empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a path (e.g. runs/x), got {text!r}")
    return text


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """``--seed`` and ``--quiet``: every command that trains or samples."""
    parser.add_argument("--seed", type=nonnegative_int, default=0,
                        help="random seed of weights, shuffling and sampling (default 0): the same seed "
                             "and data give the same model")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars (results are still printed)")


def add_estimator_options(parser: argparse.ArgumentParser) -> Any:
    """Network and training overrides; unset ones keep the estimator's defaults. Returns the
    argument group, for a command's own network options."""
    group = parser.add_argument_group("network and training (defaults: the estimator's)")
    group.add_argument("--cell", choices=CELLS, help="recurrent cell (default lstm)")
    group.add_argument("--hidden-size", type=positive_int, metavar="H", help="hidden units")
    group.add_argument("--num-layers", type=positive_int, metavar="N", help="stacked recurrent layers")
    group.add_argument("--dropout", type=probability, metavar="P", help="dropout probability in [0, 1)")
    group.add_argument("--epochs", type=positive_int, metavar="N", help="most passes over the data")
    group.add_argument("--batch-size", type=positive_int, metavar="N", help="sequences per update")
    group.add_argument("--lr", type=positive_float, metavar="LR", help="Adam learning rate")
    group.add_argument("--patience", type=positive_int, metavar="N",
                       help="stop after N epochs without a better validation loss")
    return group


def add_fill_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fill", choices=FILLS,
                        help="fill gaps and missing values (carry forward, or interpolate linearly) instead of "
                             "refusing them")


def estimator_params(args: argparse.Namespace, estimator_class: type, **fixed: Any) -> dict[str, Any]:
    """Keyword arguments for ``estimator_class``: the options given on the command line that it
    accepts, plus ``seed`` and ``verbose`` (from ``--quiet``), plus ``fixed``."""
    names = estimator_class._param_names()
    params = {k: v for k, v in vars(args).items() if k in names and v is not None}
    params.update(seed=args.seed, verbose=not args.quiet)
    params.update({k: v for k, v in fixed.items() if v is not None})
    return {k: v for k, v in params.items() if k in names}
