"""Files of customer data are the owner's alone (issue 9 §7).

The data folder holds the SQLite database, the embedded Redis (its append-only file holds
queued jobs) and ``notifications.log`` (every message "sent", with addresses): created
with the usual umask they were readable by every account on the shop's computer. Folders
are created 0700 and files 0600; SQLite gives its -wal and -shm files the database file's
mode, and the embedded redis-server runs with umask 077. Existing folders are not
changed (a data folder may be a path the operator chose); a start warns if they are open.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path
from typing import TextIO

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
# For child processes (redis-server): whatever they create is the owner's alone.
UMASK = 0o077


def private_dir(path: Path) -> Path:
    """``path`` as a folder, created owner-only if it is new (its parents as they come)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return path


def create_private_file(path: Path) -> None:
    """Create ``path`` empty and owner-only unless it exists (then it is left as it is)."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def open_private_for_append(path: Path) -> TextIO:
    """``path`` opened for appending text, created owner-only if it is new."""
    private_dir(path.parent)
    return os.fdopen(
        os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE), "a", encoding="utf-8"
    )


def warn_if_open(path: Path) -> None:
    """One WARNING if other accounts may read ``path`` (an older install, a chosen folder)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o077:
        log.warning(
            "%s is readable by other users (mode %o); it holds customer data: chmod %o it",
            path,
            mode,
            DIR_MODE if path.is_dir() else FILE_MODE,
        )
