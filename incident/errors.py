"""Findings and refusals, as messages each reader is told in their own language.

Users write the YAML and CSV files this product reads, so every finding must say
where (file, line, column, field path) and how to fix it. Loaders collect all
findings of a file and raise them together. A finding or a refusal carries a catalogue
key and its fields (`Msg`), never English text: the console and the CLI tell it in their
reader's language, logs in English.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from incident.i18n import join_list, pick, t


@dataclass(frozen=True, slots=True)
class Msg:
    """A message told later, in whichever language its reader has: a catalogue key and
    its fields. The core raises and records these; each face tells them."""

    key: str
    fields: Mapping[str, object] = field(default_factory=dict)

    def text(self, lang: str | None = "en") -> str:
        return tell(self, lang)

    def __str__(self) -> str:
        return self.text("en")


def tell(message: str | Msg, lang: str | None = "en") -> str:
    """A message in the reader's language: a Msg or a catalogue key is looked up; text
    that is not a key (a library's own message passed on) reads as it is. A field that
    is itself a Msg, or bilingual data ({'en': …, 'zh': …} or a Text), is told in the
    same language."""
    if isinstance(message, Msg):
        key, values = message.key, message.fields
    else:
        key, values = message, {}
    return t(key, lang, **{k: _told(v, lang) for k, v in values.items()})


def _told(value: object, lang: str | None) -> object:
    if isinstance(value, Msg):
        return value.text(lang)
    if isinstance(value, list | tuple):  # names: "a, b" / "a、b"
        return join_list([str(_told(v, lang)) for v in value], lang)
    if isinstance(value, Mapping) and ("en" in value or "zh" in value):
        return pick(value, lang)  # type: ignore[arg-type]
    get = getattr(value, "get", None)
    if callable(get) and hasattr(value, "en") and hasattr(value, "zh"):
        return get(lang)  # a playbook Text
    return value


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding in a user-written file.

    `message` and `hint` may be given as catalogue keys or Msg; they are kept as English
    text (for logs, JSON and comparisons) and told in any language by `format(lang)`."""

    file: str
    message: str | Msg
    line: int | None = None
    column: int | None = None
    path: str = ""
    hint: str | Msg = ""
    severity: str = "error"  # "error" or "warning"
    told: tuple[Msg, Msg | None] | None = field(default=None, init=False, repr=False,
                                                compare=False)

    def __post_init__(self) -> None:
        said = self.message if isinstance(self.message, Msg) else Msg(self.message)
        hint = (self.hint if isinstance(self.hint, Msg) else Msg(self.hint)) if self.hint else None
        object.__setattr__(self, "told", (said, hint))
        object.__setattr__(self, "message", said.text("en"))
        object.__setattr__(self, "hint", hint.text("en") if hint else "")

    def format(self, lang: str | None = "en") -> str:
        said, hint = self.told or (Msg(str(self.message)), None)
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        word = t("issue.error" if self.severity == "error" else "issue.warning", lang)
        text = f"{where}: {word}: "
        if self.path:
            text += f"{self.path}: "
        text += said.text(lang)
        if hint is not None:
            text += t("issue.hint_sep", lang) + hint.text(lang)
        return text

    def as_dict(self, lang: str | None = "en") -> dict:
        said, hint = self.told or (Msg(str(self.message)), None)
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "told"}
        out["message"], out["hint"] = said.text(lang), hint.text(lang) if hint else ""
        return out


class ValidationFailed(Exception):
    """Raised with every error found in one or more files."""

    def __init__(self, issues: Sequence[Issue]):
        self.issues = list(issues)
        super().__init__("\n".join(i.format() for i in self.issues))

    def text(self, lang: str | None = "en") -> str:
        return "\n".join(i.format(lang) for i in self.issues)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]


class Refused(Exception):
    """An operation the engine will not carry out; nothing was written.

    Raised with a catalogue key and its fields (``Refused("refused.no_incident",
    incident=iid)``), so the console and the CLI tell it in their reader's language;
    ``str()`` is the English text, for logs."""

    def __init__(self, message: str | Msg, **fields: object):
        self.message = message if isinstance(message, Msg) else Msg(message, fields)
        super().__init__(self.message.key)

    def text(self, lang: str | None = "en") -> str:
        return self.message.text(lang)

    def __str__(self) -> str:
        return self.text("en")


def suggest(word: str, candidates: Iterable[str]) -> Msg | str:
    """'did you mean X?' for a misspelt name, or '' when nothing is close."""
    pool = sorted({str(c) for c in candidates})
    close = difflib.get_close_matches(str(word), pool, n=1, cutoff=0.6)
    return Msg("hint.did_you_mean", {"name": close[0]}) if close else ""


def known(candidates: Iterable[str], limit: int = 12) -> Msg:
    """A short list of valid names for a hint."""
    pool = sorted({str(c) for c in candidates})
    if not pool:
        return Msg("hint.none_defined")
    shown = tuple(pool[:limit])
    if len(pool) > limit:
        return Msg("hint.known_more", {"names": shown, "more": len(pool) - limit})
    return Msg("hint.known", {"names": shown})


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

    def add(self, message: str | Msg, *, line: int | None = None, column: int | None = None,
            path: str = "", hint: str | Msg = "", severity: str = "error",
            **fields: object) -> None:
        """One finding; `message` is a catalogue key whose fields come as keywords."""
        if fields and not isinstance(message, Msg):
            message = Msg(message, fields)
        self.items.append(Issue(self.file, message, line, column, path, hint, severity))

    @property
    def has_errors(self) -> bool:
        return any(i.severity == "error" for i in self.items)

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise ValidationFailed(self.items)
