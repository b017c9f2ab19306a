"""The read form of a validated playbook: the same fields and lookups as the pydantic
model (incident.playbook.model), in plain objects, so a command that only *reads* an
incident (`incident status`, the console's home) unpickles its playbook from the
compiled cache (incident/compiled.py) without importing pydantic (≈0.15–0.2 s of CPU,
as much as a third of SQLAlchemy's import).

A read form is only ever made from a model that validated (`read_form`), never from a
file; the fold and the views read attributes, so either form gives the same state and
the same text. Writers (the engine) keep the pydantic models.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import Any

from incident.i18n import data_lang


class TextLookups:
    """`Text.get` — shared by the model and its read form."""

    def get(self, lang: str) -> str:
        return self.zh if data_lang(lang) == "zh" else self.en  # type: ignore[attr-defined]


class PlaybookLookups:
    """The lookups the engine and the views use — shared by the model and its read form
    (no class-level annotations here: pydantic would take them for fields)."""

    def steps(self) -> dict[str, Any]:
        return self._step_map

    @cached_property
    def _step_map(self) -> dict[str, Any]:
        return {s.id: s for t in self.tracks for s in t.steps}  # type: ignore[attr-defined]

    def track_of(self) -> dict[str, str]:
        return {s.id: t.id for t in self.tracks for s in t.steps}  # type: ignore[attr-defined]

    def severity(self, level: int) -> Any:
        for s in self.severities:  # type: ignore[attr-defined]
            if s.level == level:
                return s
        raise KeyError(level)

    def target_within(self, target: Any, level: int) -> timedelta:
        try:
            return self.severity(level).targets.get(target.id, target.within)
        except KeyError:
            return target.within

    def conditional(self) -> dict[str, list[tuple[str, str]]]:
        """step id -> [(decision step, option)] that switch it on."""
        return self._conditional

    @cached_property
    def _conditional(self) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list[tuple[str, str]]] = {}
        for step in self.steps().values():
            for opt in step.options or []:
                for nxt in opt.next:
                    out.setdefault(nxt, []).append((step.id, opt.id))
        return out

    def matches(self, query: str) -> bool:
        q = query.strip().lower()
        hay = " ".join([self.id, self.type, self.title.en.lower(),  # type: ignore[attr-defined]
                        self.title.zh, *self.keywords])  # type: ignore[attr-defined]
        return all(part in hay for part in q.split())


class Record:
    """A frozen record of a model's fields (what pickle restores: its __dict__)."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and _fields(self) == _fields(other)

    def __hash__(self) -> int:  # as a frozen model: by value (unhashable if a list is in it)
        return hash(tuple(_fields(self).values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in _fields(self).items())
        return f"{type(self).__name__}({fields})"


def _fields(rec: Record) -> dict[str, Any]:
    return {k: v for k, v in rec.__dict__.items() if not k.startswith("_")}  # no caches


class ReadText(TextLookups, Record):
    pass


class ReadPlaybook(PlaybookLookups, Record):
    pass


_CLASSES: dict[str, type[Record]] = {"Text": ReadText, "Playbook": ReadPlaybook}


def read_form(value: Any) -> Any:
    """The read form of a validated model (recursively; lists, dicts, tuples too)."""
    fields = getattr(type(value), "model_fields", None)
    if fields is not None:
        cls = _CLASSES.get(type(value).__name__, Record)
        obj = object.__new__(cls)
        obj.__dict__.update({name: read_form(getattr(value, name)) for name in fields})
        return obj
    if isinstance(value, list):
        return [read_form(v) for v in value]
    if isinstance(value, tuple):
        return tuple(read_form(v) for v in value)
    if isinstance(value, dict):
        return {k: read_form(v) for k, v in value.items()}
    return value
