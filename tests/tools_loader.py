"""The repository's `tools/*.py` scripts, loaded as modules so tests can call them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def load_tool(name: str) -> ModuleType:
    """tools/<name>.py as the module `<name>_tool` (tools/ is not a package)."""
    module = f"{name}_tool"
    spec = importlib.util.spec_from_file_location(module, ROOT / "tools" / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[module] = mod
    spec.loader.exec_module(mod)
    return mod
