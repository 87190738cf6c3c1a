"""What the commands write and print: the output folder, JSON files, plots, tables, and the
model files they read back.

A ``fit`` command writes into its ``--out`` folder::

    model.safetensors   the fitted estimator (rnnkit's safetensors format, no pickle)
    metrics.json        scores beside a baseline, and how training went
    run.json            how the run was made: the command, the data file and its columns
    *.png               plots (skipped with a warning when matplotlib is not installed)

``predict`` and ``sample`` take the model file or that folder, and read the data columns
from ``run.json`` unless they are given again. Every file is written atomically
(``rnnkit._files.atomic_write``): an interrupted command never leaves half a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from .._files import atomic_write
from .errors import CLIError

MODEL_FILE, METRICS_FILE, RUN_FILE = "model.safetensors", "metrics.json", "run.json"


# -- folders and JSON ------------------------------------------------------------------------
@contextmanager
def out_dir(path: str, files: Sequence[str] = ()) -> Iterator[Path]:
    """``with out_dir(args.out, files) as out:`` creates the ``--out`` folder (and its parents)
    if needed and checks, before training, that a file can be written in it and that none of
    ``files`` (the names the command writes) is a folder there, so such a path fails at once;
    refuses a file. The path is resolved (symlinks, then ``..``) as the system reads it, so
    ``new/../keep`` names ``keep`` and creates no ``new``; ``out`` is the path as given, or the
    resolved one when the system cannot follow the path as given. When the command fails, the
    folders this call created are removed if they are still empty, deepest first, and no other
    folder."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise CLIError(f"--out '{path}' is a file; expected a folder to write the model and metrics into.")
    folder = p.resolve()
    created = _make_folders(folder)
    try:
        _check_writable(path, folder, files)
        yield p if p.is_dir() else folder
    except BaseException:
        _remove_empty(created)
        raise


def _make_folders(folder: Path) -> list[Path]:
    """Create the missing folders of the absolute ``folder``, one level at a time from the top;
    return exactly those created, deepest first."""
    created: list[Path] = []
    try:
        for q in [*reversed(folder.parents), folder]:
            if q.is_dir():
                continue
            try:
                os.mkdir(q)
            except FileExistsError:
                if not q.is_dir():
                    raise CLIError(f"--out '{folder}': '{q}' is a file; expected a folder there (or nothing, "
                                   "to be created). Choose another --out.") from None
                continue  # made meanwhile by someone else: not ours to remove
            created.insert(0, q)
    except BaseException:
        _remove_empty(created)
        raise
    return created


def _check_writable(path: str, folder: Path, files: Sequence[str]) -> None:
    """Refuse an ``--out`` folder where a new file cannot be made (by making and removing one:
    permission bits do not tell, e.g. for root or on a read-only mount) or where one of
    ``files`` is a folder."""
    for name in files:
        if (folder / name).is_dir():
            raise CLIError(f"Cannot write '{folder / name}': it is a folder, and --out '{path}' needs that name "
                           "for a file. Remove or rename it, or choose another --out.")
    try:
        fd, probe = tempfile.mkstemp(prefix=".rnnkit-", suffix=".tmp", dir=folder)
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise CLIError(f"Cannot write into --out '{path}': {_reason(exc)}. Choose a folder you can write "
                       "to.") from exc


def _reason(exc: OSError) -> str:
    """The system's reason for a failed write (``Permission denied``), without the file name."""
    return exc.strerror or type(exc).__name__


def write_file(path: str | Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(path)``, an atomic writer of ``path`` (``estimator.save``, ``atomic_write``);
    a failure names ``path`` and the reason, not the temporary file the writer made beside it.

    Raises:
        CLIError: ``path`` is a folder, or the system refused the write (permission, disk full).
    """
    p = Path(path)
    if p.is_dir():
        raise CLIError(f"Cannot write '{path}': it is a folder; expected a file name (e.g. '{p / 'out.csv'}').")
    try:
        write(p)
    except OSError as exc:
        raise CLIError(f"Cannot write '{path}': {_reason(exc)}. Choose another path.") from exc


def _remove_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) while they are empty."""
    for q in folders:
        try:
            q.rmdir()  # only an empty folder
        except OSError:
            break


def jsonable(x: Any) -> Any:
    """NaN and infinities -> None (JSON has no NaN); numpy scalars and arrays -> Python."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "tolist"):
        return jsonable(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_json(path: Path, data: dict[str, Any]) -> None:
    """``data`` as indented JSON, written atomically (``rnnkit._files.atomic_write``)."""
    text = json.dumps(jsonable(data), indent=2) + "\n"
    write_file(path, lambda p: atomic_write(p, lambda f: f.write(text.encode("utf-8"))))


def write_run_record(folder: Path, task: str, argv: Sequence[str] | None, data: dict[str, Any],
                     estimator: Any) -> None:
    """``run.json``: the task, the command line, the data columns and the estimator's parameters."""
    from .. import __version__

    params = {k: v for k, v in estimator.get_params().items() if k != "verbose"}
    write_json(folder / RUN_FILE, {"task": task, "rnnkit_version": __version__,
                                   "command": ["rnnkit", *(sys.argv[1:] if argv is None else argv)],
                                   "data": data, "estimator": {"class": type(estimator).__name__, "params": params}})


def read_run_record(model_path: Path) -> dict[str, Any]:
    """The ``run.json`` beside a model file, or {} when there is none (or it is unreadable)."""
    try:
        return json.loads((model_path.parent / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_csv(path: str | None, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write a CSV table to ``path`` (its folder is created), or to stdout when ``path`` is None."""
    if path is None:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return
    parent = Path(path).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:  # a file where a folder of the path should be
        raise CLIError(f"Cannot write '{path}': '{exc.filename}' is a file, not a folder. Choose another "
                       "--out.") from exc
    except OSError as exc:
        raise CLIError(f"Cannot write '{path}': cannot create the folder '{parent}' ({_reason(exc)}). Choose "
                       "another --out.") from exc
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_file(path, lambda p: atomic_write(p, lambda f: f.write(text.getvalue().encode("utf-8"))))


# -- model files ----------------------------------------------------------------------------
def model_path(path: str) -> Path:
    """A model file, or a run folder holding ``model.safetensors``."""
    p = Path(path)
    if p.is_dir():
        inner = p / MODEL_FILE
        if not inner.is_file():
            raise CLIError(f"'{path}' is a folder without a {MODEL_FILE}; pass the model file or the --out "
                           "folder of a fit command.")
        return inner
    if not p.exists():
        raise CLIError(f"No such model file: '{path}'. Pass the {MODEL_FILE} (or the --out folder) "
                       "written by a fit command.")
    return p


def load_any(path: Path) -> Any:
    """What the file holds (``rnnkit.load``): a fitted estimator, or a plain model or checkpoint.

    Raises:
        CLIError naming the file and why (rnnkit's LoadError: not a safetensors file, not an
        rnnkit file, damaged), and what to pass instead.
    """
    from ..errors import LoadError
    from ..io import load

    try:
        return load(path)
    except LoadError as exc:
        raise CLIError(f"{exc} MODEL must be a {MODEL_FILE} written by an 'rnnkit ... fit' command (or its --out "
                       "folder).") from exc


def load_estimator_of(path: str, class_name: str, command: str) -> tuple[Any, Path]:
    """Load the estimator in ``path`` and check it is a ``class_name``.

    Returns:
        (estimator, the model file's path).
    """
    p = model_path(path)
    est = load_any(p)
    kind = type(est).__name__
    if kind != class_name:
        what = {"Forecaster": "rnnkit forecast", "SequenceClassifier": "rnnkit classify",
                "TextGenerator": "rnnkit text"}.get(kind)
        hint = f" Use '{what} ...' with it." if what else " Train one with the matching fit command."
        raise CLIError(f"'{p}' holds a {kind}, not the {class_name} that '{command}' needs.{hint}")
    return est, p


# -- printing and plots -----------------------------------------------------------------------
def fmt(x: Any) -> str:
    """A number for a table: 4 significant digits, NaN/None as 'n/a'."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned first column, right-aligned numbers, two spaces between columns."""
    cells = [list(header)] + [[r[0]] + [fmt(v) for v in r[1:]] for r in rows]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        first = str(row[0]).ljust(widths[0])
        lines.append("  ".join([first] + [str(v).rjust(w) for v, w in zip(row[1:], widths[1:])]).rstrip())
    return "\n".join(lines)


def save_plot(draw: Callable[..., Any], path: Path, **kwargs: Any) -> bool:
    """Draw with a :mod:`rnnkit.plots` function into ``path``; False (and a warning) when
    matplotlib is not installed. The figure is closed after saving."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(f"rnnkit: warning: skipped {path.name}: matplotlib is not installed "
              "(pip install 'rnnkit[plot]').", file=sys.stderr)
        return False
    figures = []
    write_file(path, lambda p: figures.append(draw(path=p, **kwargs)))
    figures[0].clf()
    return True


def history_curves(history: dict[str, Any]) -> dict[str, list[float]]:
    """The per-epoch lists of an estimator's ``history_`` (what plot_learning_curves draws)."""
    return {k: v for k, v in history.items() if isinstance(v, list) and v}


def print_written(out: Path, names: Iterable[str]) -> None:
    """The closing line of a fit: the files it wrote into the output folder (not the others there)."""
    print(f"Wrote {relative(out)}/: {', '.join(sorted(names))}")


def note_interrupted(history: dict[str, Any]) -> None:
    """After a first Ctrl-C the estimators return the model trained so far: say so."""
    if history.get("stop_reason") != "interrupted":
        return
    if not history.get("epochs"):
        print("Training was interrupted before the first epoch ended; the model trained so far (no complete "
              "epoch: the training history is empty) is scored and saved.", file=sys.stderr)
    else:
        print(f"Training was interrupted after {history.get('epochs')} epoch(s); the model trained so far is "
              "scored and saved.", file=sys.stderr)


def relative(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (shorter messages)."""
    try:
        return os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)
    except ValueError:  # another drive on Windows
        return str(path)
