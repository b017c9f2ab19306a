"""Message templates: Jinja2's sandbox, strict about undefined names.

A notice that silently prints a blank where the restoration time should be is
worse than no notice, so every name a template uses must be known at load time.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

# Fields every incident provides to its messages (see engine.context).
INCIDENT_VARS: dict[str, str] = {
    "incident_id": "the incident number, e.g. INC-260105-0001",
    "site": "site name in the recipient's language",
    "building": "building name in the recipient's language (or empty)",
    "floor": "incident floor number (or empty)",
    "floors": "affected floors, e.g. '11-13'",
    "unit": "incident unit id (or empty)",
    "location": "full location label in the recipient's language",
    "time": "incident start, site-local HH:MM",
    "date": "incident start, site-local date",
    "hotline": "the site's service hotline",
    "severity": "severity level number",
    "severity_name": "severity name in the recipient's language",
    "playbook": "playbook title in the recipient's language",
    "name": "recipient's name",
    "recipient_unit": "recipient's own unit (owners)",
}

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                            keep_trailing_newline=False)


def undeclared(source: str) -> set[str]:
    """Names a template uses; raises TemplateSyntaxError."""
    return set(meta.find_undeclared_variables(_env.parse(source)))


@lru_cache(maxsize=2048)
def _compiled(source: str):
    return _env.from_string(source)


def render(source: str, context: dict[str, Any]) -> str:
    return _compiled(source).render(**context).strip()


__all__ = ["INCIDENT_VARS", "TemplateSyntaxError", "render", "undeclared"]
