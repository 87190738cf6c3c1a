"""The progress bar: tqdm when it is installed (imported only here, only when asked for),
otherwise one text line rewritten in place: ``epoch 3/10  12/40  loss 0.1234``.

Each epoch's bar is transient (it disappears when the epoch ends), so a long run does not print
one line per epoch; :func:`summary_line` prints what is left to read at the end."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import numpy as np


class TextProgress:
    """A minimal stand-in for tqdm: ``update(n)``, ``set_postfix(**values)``, ``close()``."""

    def __init__(self, total: int, desc: str, file: TextIO | None = None, leave: bool = False) -> None:
        self.total, self.desc, self.n, self.leave = total, desc, 0, leave
        self.file = file if file is not None else sys.stderr
        self.postfix: dict[str, Any] = {}
        self._last = 0.0
        self._draw()

    def _draw(self) -> None:
        post = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.postfix.items())
        self.file.write(f"\r{self.desc}  {self.n}/{self.total}  {post}")
        self.file.flush()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last > 0.1 or self.n >= self.total:
            self._last = now
            self._draw()

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        self.postfix = values
        if refresh:
            self._draw()

    def close(self) -> None:
        self._draw()
        if self.leave:
            self.file.write("\n")
        else:
            self.file.write("\r\033[K")
        self.file.flush()


class NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, enabled: bool, initial: int = 0, leave: bool = False) -> Any:
    """tqdm(total, desc) if ``enabled`` and tqdm imports, TextProgress if it does not, else a no-op."""
    if not enabled:
        return NoProgress()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        bar = TextProgress(total, desc, leave=leave)
        bar.n = initial
        return bar
    return tqdm(total=total, desc=desc, initial=initial, leave=leave, dynamic_ncols=True)


def summary_line(history: Any, file: TextIO | None = None) -> None:
    """One line after training: epochs run, why it stopped, the best epoch (not after Ctrl-C,
    whose model keeps the weights trained so far) and the last epoch's values."""
    h = history.history
    if not h or not history.epoch:
        return
    values = "  ".join(f"{k} {float(v[-1]):.4g}" for k, v in h.items()
                       if k != "lr" and len(v) and np.ndim(v[-1]) == 0)
    interrupted = history.stop_reason == "interrupted"  # no best weights restored: the estimators report none
    best = f", best epoch {history.best_epoch}" if history.best_epoch is not None and not interrupted else ""
    (file or sys.stderr).write(f"trained {history.epoch[-1]} epochs ({history.stop_reason}{best}): {values}\n")
