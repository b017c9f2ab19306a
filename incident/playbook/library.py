"""The loaded set of playbooks. Its own small module so that reading a compiled library
(incident/compiled.py) does not import the loader's YAML, Jinja and graph checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from incident.errors import Issue, Msg, Refused, known, suggest
from incident.playbook.model import Playbook


class UnknownPlaybook(Refused, KeyError):
    """No playbook of that id: a refusal told in the reader's language, and still the
    KeyError callers of `get` catch (its args[0] is the Msg: English as str())."""

    def __init__(self, message: Msg):
        super().__init__(message)
        self.args = (message,)

    def __str__(self) -> str:
        return Refused.__str__(self)


@dataclass(slots=True)
class PlaybookLibrary:
    playbooks: dict[str, Playbook] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)
    warnings: list[Issue] = field(default_factory=list)

    def get(self, playbook_id: str) -> Playbook:
        try:
            return self.playbooks[playbook_id]
        except KeyError:
            hint = suggest(playbook_id, self.playbooks) or known(self.playbooks)
            raise UnknownPlaybook(Msg("refused.pb.unknown_playbook",
                                      {"playbook": playbook_id, "hint": hint})) from None

    def search(self, query: str) -> list[Playbook]:
        return [p for p in self.playbooks.values() if p.matches(query)]

    def __iter__(self):
        return iter(self.playbooks.values())

    def __len__(self) -> int:
        return len(self.playbooks)
