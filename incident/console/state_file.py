"""The console's tiny UI-state file: which incident was on screen, language, theme.

Everything else comes back from the event log. One file in the data dir holds an
entry per database URL, so consoles on different databases do not disturb
each other. Writes are atomic (temp file + rename); a damaged file is ignored.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

FILE_NAME = "console-state.json"


def default_path() -> Path:
    from incident.config import data_dir

    return data_dir() / FILE_NAME


class UIState:
    def __init__(self, path: Path | None, key: str):
        self.path = path
        self.key = key
        self.values: dict[str, Any] = {}
        self.dirty = False
        self.load()

    def _read_all(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    def load(self) -> None:
        entry = self._read_all().get(self.key)
        self.values = dict(entry) if isinstance(entry, dict) else {}

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def update(self, save: bool = True, **values: Any) -> None:
        """Change values; with save=False the write waits for the next flush()."""
        for k, v in values.items():
            if self.values.get(k) != v:
                self.values[k] = v
                self.dirty = True
        if save and self.dirty:
            self.save()

    def flush(self) -> None:
        if self.dirty:
            self.save()

    def save(self) -> None:
        self.dirty = False
        if self.path is None:
            return
        try:
            doc = self._read_all()
            doc[self.key] = self.values
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".console-state.")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, ensure_ascii=False, indent=1)
            os.replace(tmp, self.path)
        except OSError:
            pass  # the UI state is a convenience: never fail the console over it
