"""Playbooks: typed, validated, bilingual step-by-step procedures."""

from incident.playbook.loader import (
    DEFAULT_CHANNELS,
    PlaybookLibrary,
    load_library,
    load_playbook,
    load_playbook_text,
    playbook_files,
)
from incident.playbook.model import Playbook, Severity, Step, Target, Text, Track
from incident.playbook.schema import playbook_schema, schema_text

__all__ = [
    "DEFAULT_CHANNELS", "Playbook", "PlaybookLibrary", "Severity", "Step", "Target", "Text",
    "Track", "load_library", "load_playbook", "load_playbook_text", "playbook_files",
    "playbook_schema", "schema_text",
]
