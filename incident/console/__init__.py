"""The duty officer's console (Textual). `create_app(runtime)` builds it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from incident.console.app import IncidentConsole
    from incident.runtime import Runtime


def create_app(runtime: Runtime, **options: Any) -> IncidentConsole:
    from incident.console.app import create_app as _create

    return _create(runtime, **options)


__all__ = ["create_app"]
