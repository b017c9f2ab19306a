"""Playbooks: typed, validated, bilingual step-by-step procedures."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; at run time names load on first use
    from incident.playbook.library import PlaybookLibrary
    from incident.playbook.loader import (
        DEFAULT_CHANNELS,
        load_library,
        load_playbook,
        load_playbook_text,
        playbook_files,
    )
    from incident.playbook.model import Playbook, Severity, Step, Target, Text, Track
    from incident.playbook.schema import playbook_schema, schema_text

# Each name is imported from its module on first use (PEP 562), so a command pays
# only for what it touches (README, "Start-up").
_LAZY = {
    'DEFAULT_CHANNELS': 'loader',
    'PlaybookLibrary': 'library',
    'load_library': 'loader',
    'load_playbook': 'loader',
    'load_playbook_text': 'loader',
    'playbook_files': 'loader',
    'Playbook': 'model',
    'Severity': 'model',
    'Step': 'model',
    'Target': 'model',
    'Text': 'model',
    'Track': 'model',
    'playbook_schema': 'schema',
    'schema_text': 'schema',
}


def __getattr__(name: str) -> Any:
    from incident.lazy import load_lazy

    return load_lazy(globals(), _LAZY, name)

__all__ = [
    "DEFAULT_CHANNELS", "Playbook", "PlaybookLibrary", "Severity", "Step", "Target", "Text",
    "Track", "load_library", "load_playbook", "load_playbook_text", "playbook_files",
    "playbook_schema", "schema_text",
]
