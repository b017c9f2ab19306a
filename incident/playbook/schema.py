"""JSON Schema export, so editors with a YAML language server autocomplete playbooks."""

from __future__ import annotations

import json
from typing import Any

from incident.playbook.model import Playbook


def playbook_schema() -> dict[str, Any]:
    schema = Playbook.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "incident playbook"
    return schema


def schema_text() -> str:
    return json.dumps(playbook_schema(), indent=2, ensure_ascii=False) + "\n"
