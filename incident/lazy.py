"""Lazy package exports (PEP 562): `from incident.playbook import load_library` keeps
working, but the module behind a name is imported only when the name is first used."""

from __future__ import annotations

import importlib
from typing import Any


def load_lazy(namespace: dict[str, Any], table: dict[str, str], name: str) -> Any:
    """Resolve `name` for the package whose globals are `namespace`, and remember it."""
    module = table.get(name)
    package = namespace["__name__"]
    if module is None:
        raise AttributeError(f"module '{package}' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"{package}.{module}"), name)
    namespace[name] = value
    return value
