"""The environment a benchmark's child processes run in, shared by the bench scripts."""

from __future__ import annotations

import os
from pathlib import Path


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """Byte-code as an installed package has it (pip compiles on install): a private
    cache prefix under `home`, written by the untimed warm-up runs, so no child
    recompiles its sources on every run even where the environment sets
    PYTHONDONTWRITEBYTECODE; and a data folder of its own (XDG_DATA_HOME)."""
    env = dict(os.environ, XDG_DATA_HOME=str(home / "data"), **extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(home / "pycache")
    return env
