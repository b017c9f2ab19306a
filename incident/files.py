"""Files the program writes: private by default, user-chosen paths checked, errors clear.

Two kinds of file, two rules (documented in README "Files and permissions"):

- Files the program creates on its own — the SQLite database (SQLite gives its
  ``-wal``/``-shm`` the database's mode), the notification sink, other state in
  the data directory — hold owners' phone numbers and addresses. They are created
  mode 600 (and a new data directory 700), whatever the umask: nobody else on the
  machine has a reason to read them.
- An export the user asks for with ``-o PATH`` is created like any file the user
  makes (mode 666 minus their umask), because they chose where it goes and who
  should read it; ``umask 077`` makes those private too. It is never created in a
  directory that does not exist (a typo must not scatter reports into new folders),
  and an unwritable path is one clear sentence, not a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

from incident.errors import Refused

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> None:
    """Create a directory (and missing parents) mode 700; an existing one is left as is."""
    if path.is_dir():
        return
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def create_private_file(path: Path) -> None:
    """Make sure `path` exists; when it is created here, it is created mode 600.

    An existing file keeps its mode: a company that shares one database between
    several accounts through a group has chosen that on purpose.
    """
    if path.exists():
        return
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:  # another process created it first
        return
    os.close(fd)


def open_private_append(path: Path):
    """Open for appending text, creating the file mode 600 if it is new."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
    return os.fdopen(fd, "a", encoding="utf-8")


class OutputError(Refused):
    """An output path the user gave cannot be written."""


def write_output(path: Path, text: str) -> None:
    """Write an export the user asked for (-o): no directories are made, the umask
    decides the mode, and every failure is one sentence naming the path and the fix."""
    parent = path.parent
    if not parent.is_dir():
        raise OutputError("val.config.output_no_folder", path=str(path), folder=str(parent))
    if path.is_dir():
        raise OutputError("val.config.output_folder", path=str(path),
                          example=str(path / "report.html"))
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except PermissionError:
        raise OutputError("val.config.output_denied", path=str(path)) from None
    except OSError as exc:
        raise OutputError("val.config.output_failed", path=str(path),
                          reason=exc.strerror or str(exc)) from None
