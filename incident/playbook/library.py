"""The loaded set of playbooks. Its own small module so that reading a compiled library
(incident/compiled.py) does not import the loader's YAML, Jinja and graph checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from incident.errors import Issue, known, suggest
from incident.playbook.model import Playbook


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
            raise KeyError(f"unknown playbook '{playbook_id}' — {hint}") from None

    def search(self, query: str) -> list[Playbook]:
        return [p for p in self.playbooks.values() if p.matches(query)]

    def __iter__(self):
        return iter(self.playbooks.values())

    def __len__(self) -> int:
        return len(self.playbooks)
