"""Validation findings shared by every loader.

Users write the YAML and CSV files this product reads, so every finding must say
where (file, line, column, field path) and how to fix it. Loaders collect all
findings of a file and raise them together.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding in a user-written file."""

    file: str
    message: str
    line: int | None = None
    column: int | None = None
    path: str = ""
    hint: str = ""
    severity: str = "error"  # "error" or "warning"

    def format(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.severity}: "
        if self.path:
            text += f"{self.path}: "
        text += self.message
        if self.hint:
            text += f" — {self.hint}"
        return text

    def as_dict(self) -> dict:
        return asdict(self)


class ValidationFailed(Exception):
    """Raised with every error found in one or more files."""

    def __init__(self, issues: Sequence[Issue]):
        self.issues = list(issues)
        super().__init__("\n".join(i.format() for i in self.issues))

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]


class Refused(Exception):
    """An operation the engine will not carry out; nothing was written."""


def suggest(word: str, candidates: Iterable[str]) -> str:
    """'did you mean X?' for a misspelt name, or '' when nothing is close."""
    pool = sorted({str(c) for c in candidates})
    close = difflib.get_close_matches(str(word), pool, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def known(candidates: Iterable[str], limit: int = 12) -> str:
    """A short list of valid names for a hint."""
    pool = sorted({str(c) for c in candidates})
    if not pool:
        return "none are defined"
    shown = ", ".join(pool[:limit])
    return f"known: {shown}" + (f" (+{len(pool) - limit} more)" if len(pool) > limit else "")


def display_path(path: str | Path) -> str:
    """Paths relative to the working directory read better in messages."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


@dataclass(slots=True)
class IssueList:
    """Accumulates findings for one file."""

    file: str
    items: list[Issue] = field(default_factory=list)

    def add(self, message: str, *, line: int | None = None, column: int | None = None,
            path: str = "", hint: str = "", severity: str = "error") -> None:
        self.items.append(Issue(self.file, message, line, column, path, hint, severity))

    @property
    def has_errors(self) -> bool:
        return any(i.severity == "error" for i in self.items)

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise ValidationFailed(self.items)
