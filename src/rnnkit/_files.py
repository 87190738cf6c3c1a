"""Atomic file writes, shared by every writer in rnnkit (model files, checkpoints, figures).

:func:`atomic_write` writes to a new temporary file in the target's folder, fsyncs it and
renames it over the target (``os.replace``), so a reader never sees a half-written file and a
failed write leaves an existing file untouched. A symbolic link is kept: the file it points to
is replaced. A new file gets the usual permissions (0o666 less the umask, as ``open`` gives);
an overwritten file keeps its permission bits.
"""

from __future__ import annotations

import os
import secrets
import stat
from typing import IO, Callable


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(f)`` on a binary file that becomes ``path`` once ``write`` has returned.

    Raises:
        FileNotFoundError: ``path`` is empty, or its folder does not exist (the message names both).
        IsADirectoryError: ``path`` ends with a path separator or names a folder.
        Nothing is written then.
    """
    name = os.fsdecode(path)
    target = os.path.realpath(name)  # through symbolic links: os.replace would replace the link
    if not name:
        raise FileNotFoundError("Cannot write '': expected the path of a file, got an empty path.")
    ends_in_separator = name.endswith((os.sep, os.altsep or os.sep))  # which realpath drops: checked here
    if ends_in_separator or os.path.isdir(target):
        raise IsADirectoryError(f"Cannot write '{name}': expected the path of a file, got "
                                f"{'a path ending in a separator' if ends_in_separator else 'a folder'}. Add the "
                                "file's name to the path.")
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot write '{name}': expected an existing folder, and "
                                f"'{folder}' does not exist. Create it first (os.makedirs).")
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    tmp = os.path.join(folder, f".{os.path.basename(target)}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)  # O_EXCL: a new file, ours
    fd = os.open(tmp, flags, 0o666)  # the system takes the umask off, without our reading it
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.chmod(tmp, mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
