"""rnnkit's errors and warnings as scikit-learn's own, without importing scikit-learn.

:func:`sklearn_compatible` gives a class that is both rnnkit's and scikit-learn's (when
``sklearn.exceptions`` is already imported), so ``except sklearn.exceptions.NotFittedError`` and
scikit-learn's warning filters see rnnkit's errors and warnings as their own; ``import rnnkit``
never imports scikit-learn.
"""

from __future__ import annotations

import functools
import sys


def sklearn_compatible(ours: type, sklearn_name: str) -> type:
    """``ours`` (an rnnkit exception or warning class), or, when ``sklearn.exceptions`` is already
    imported, a subclass of both ``ours`` and scikit-learn's class of the same role
    (``sklearn.exceptions.<sklearn_name>``): ``except sklearn.exceptions.NotFittedError`` and
    scikit-learn's warning filters then see rnnkit's errors and warnings as their own, while
    ``import rnnkit`` never imports scikit-learn."""
    theirs = getattr(sys.modules.get("sklearn.exceptions"), sklearn_name, None)
    return ours if not isinstance(theirs, type) else _both(ours, theirs)


@functools.cache
def _both(ours: type, theirs: type) -> type:
    def __reduce__(self: BaseException) -> tuple:   # pickled by the recipe, not the made-up class
        return _rebuild, (ours, theirs.__name__, self.args)

    return type(ours.__name__, (ours, theirs), {"__module__": ours.__module__, "__qualname__": ours.__qualname__,
                                                 "__reduce__": __reduce__, "__doc__": ours.__doc__})


def _rebuild(ours: type, sklearn_name: str, args: tuple) -> BaseException:
    """Unpickle an error made by :func:`sklearn_compatible` (in a process that may lack sklearn)."""
    return sklearn_compatible(ours, sklearn_name)(*args)
