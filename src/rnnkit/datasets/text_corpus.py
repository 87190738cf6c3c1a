"""An offline text corpus: source code of a fixed list of Python standard-library modules.

Read at run time from the running interpreter's own files, so nothing is shipped or
downloaded, and the text is under the Python Software Foundation License like the interpreter
itself. The exact characters depend on the Python version (the modules change a little from
release to release), so do not compare numbers across versions. Modules whose source file is
absent (frozen or stripped installs) are skipped.
"""

from __future__ import annotations

import importlib.util
import numbers
import os
from collections.abc import Sequence

STDLIB_MODULES: tuple[str, ...] = (
    "textwrap", "string", "heapq", "bisect", "fnmatch", "glob", "shlex", "colorsys", "calendar",
    "queue", "functools", "difflib", "random", "statistics", "fractions", "pprint", "reprlib",
    "keyword", "tokenize", "copy", "dataclasses", "contextlib", "enum", "argparse", "csv",
    "json.decoder", "json.encoder", "html", "ipaddress", "operator",
)


def _source_file(module: str) -> str | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None)
    if not origin or not origin.endswith(".py") or not os.path.isfile(origin):
        return None
    return origin


def load_text_corpus(max_chars: int | None = None, modules: Sequence[str] = STDLIB_MODULES) -> str:
    """Concatenate the source of standard-library modules into one string.

    Each module's text is preceded by a line ``# ===== module: <name> =====``.

    Args:
        max_chars: keep at most this many characters (from the start); None keeps all (about
            800,000 characters for the default modules on CPython 3.11).
        modules: importable module names whose ``.py`` source to read, in this order.

    Returns:
        The corpus as a str.

    Raises:
        ValueError: ``max_chars`` is not a positive int, or no module's source could be found.
    """
    if max_chars is not None and (isinstance(max_chars, bool) or not isinstance(max_chars, numbers.Integral)
                                  or max_chars < 1):
        raise ValueError(f"The 'max_chars' parameter of load_text_corpus must be an int >= 1 or None. "
                         f"Got {max_chars!r} instead.")
    if isinstance(modules, str):
        raise TypeError(f"The 'modules' parameter of load_text_corpus must be a list of module names. "
                        f"Got the string {modules!r}; write modules=[{modules!r}].")
    parts, total = [], 0
    for name in modules:
        path = _source_file(name)
        if path is None:
            continue
        with open(path, encoding="utf-8") as f:
            text = f"# ===== module: {name} =====\n" + f.read() + "\n"
        parts.append(text)
        total += len(text)
        if max_chars is not None and total >= max_chars:
            break
    if not parts:
        raise ValueError(
            f"None of the modules {list(modules)} has a readable .py source file in this Python "
            f"installation. Name other modules with modules=[...]."
        )
    corpus = "".join(parts)
    return corpus if max_chars is None else corpus[: int(max_chars)]
