"""The progress bar: tqdm when it is installed (imported only here, only when asked for),
otherwise one text line rewritten in place: ``epoch 3/10  12/40  loss 0.1234``."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class TextProgress:
    """A minimal stand-in for tqdm: ``update(n)``, ``set_postfix(**values)``, ``close()``."""

    def __init__(self, total: int, desc: str, file: TextIO | None = None) -> None:
        self.total, self.desc, self.n = total, desc, 0
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
        self.file.write("\n")
        self.file.flush()


class NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, enabled: bool, initial: int = 0) -> Any:
    """tqdm(total, desc) if ``enabled`` and tqdm imports, TextProgress if it does not, else a no-op."""
    if not enabled:
        return NoProgress()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        bar = TextProgress(total, desc)
        bar.n = initial
        return bar
    return tqdm(total=total, desc=desc, initial=initial, leave=True, dynamic_ncols=True)
