"""One logging setup for every face: a rotating file, stderr for the CLI, no secrets.

- The file: ``logs/incident.log`` in the data folder (or the ``log_file`` setting),
  rotated at 1 MB with five old files kept, so a service that runs for months does
  not fill the disk and the last days are there when something went wrong.
- stderr: for CLI commands (the console captures stderr, so it shows records in its
  log panel instead: :class:`RecentRecords`). Apprise's per-message warnings go to the
  file only (:class:`RecordedElsewhere`).
- The level: ``[logging] level`` in incident.toml, ``INCIDENT_LOG_LEVEL`` or
  ``--log-level``; WARNING by default.
- Every record is passed through the process-wide masker (incident/masking.py): the
  channel secrets and the chain key never reach a log line.

Calling :func:`setup` again replaces what an earlier call installed (tests and the
console call it more than once in one process).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from incident.masking import mask

if TYPE_CHECKING:
    from incident.config import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
STDERR_FORMAT = "%(levelname)s %(name)s: %(message)s"
MAX_BYTES = 1_000_000
BACKUPS = 5
_MARK = "_incident_setup"  # on the handlers this module installed


class MaskSecrets(logging.Filter):
    """Replace secrets in the formatted message (and drop args, already merged)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = mask(text)
        if masked != text or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = mask(record.exc_text)
        return True


class RecordedElsewhere(logging.Filter):
    """Apprise's per-message warnings ("Failed to send …") are already recorded with
    each delivery attempt (notify/send.py keeps them as the outcome's reason, shown by
    `incident deliveries` and the console). On stderr and in the console's panel they
    would be one line per failed message — 2,000 in a bad send — and bury incident's
    own warnings, so only the file keeps them; Apprise errors still show everywhere."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or not record.name.startswith("apprise")


class RecentRecords(logging.Handler):
    """The last WARNING-and-worse records, for the console's log panel; `on_record`
    (if set) is called from the logging thread for each new one."""

    def __init__(self, size: int = 200, level: int = logging.WARNING):
        super().__init__(level)
        self.records: deque[logging.LogRecord] = deque(maxlen=size)
        self.on_record: Callable[[logging.LogRecord], None] | None = None
        self._seen = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._seen:
            self.records.append(record)
        if self.on_record is not None:
            self.on_record(record)

    def lines(self) -> list[str]:
        fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                "%H:%M:%S")
        with self._seen:
            return [fmt.format(r) for r in self.records]


def default_log_file() -> Path:
    from incident.config import data_dir

    return data_dir() / "logs" / "incident.log"


def setup(settings: Settings | None = None, *, stderr: TextIO | None = None,
          level: str | None = None, extra: logging.Handler | None = None) -> Path | None:
    """Install the handlers on the root logger; returns the log file (None when it
    cannot be opened: then the reason goes to stderr, and logging goes on without it).

    `stderr`: the stream for CLI commands (None: no stderr handler — the console).
    `extra`: one more handler (the console's RecentRecords)."""
    name = (level or (settings.log_level if settings else "") or "WARNING").upper()
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(h)
        h.close()
    masking = MaskSecrets()
    handlers: list[logging.Handler] = []
    path = (settings.log_file if settings else None) or default_log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES,
                                                    backupCount=BACKUPS, encoding="utf-8",
                                                    delay=True)
        file.setFormatter(logging.Formatter(FORMAT))
        handlers.append(file)
    except OSError as exc:
        print(f"logging: cannot write {path}: {exc}", file=stderr or sys.stderr)
        path = None
    if stderr is not None:
        err = logging.StreamHandler(stderr)
        err.setFormatter(logging.Formatter(STDERR_FORMAT))
        err.addFilter(RecordedElsewhere())
        handlers.append(err)
    if extra is not None:
        extra.addFilter(RecordedElsewhere())
        handlers.append(extra)
    for h in handlers:
        h.addFilter(masking)
        setattr(h, _MARK, True)
        root.addHandler(h)
    root.setLevel(getattr(logging, name, logging.WARNING))
    return path
