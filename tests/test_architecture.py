"""The core knows no screen (DESIGN.md principle 2), enforced on the source.

Every module outside incident/console/ and the CLI entry is parsed; an import of
textual (or textual_serve) anywhere in it, even inside a function, fails.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "incident"
CONSOLE = PKG / "console"


def _is_face(path: Path) -> bool:
    """The console package and the CLI entry (cli.py and the cli_*.py it registers)."""
    if CONSOLE in path.parents:
        return True
    return path.parent == PKG and (path.name == "cli.py" or path.name.startswith("cli_"))


def _core_modules() -> list[Path]:
    out = []
    for path in PKG.rglob("*.py"):
        if _is_face(path):
            continue
        out.append(path)
    return out


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_modules_exist():
    names = {p.relative_to(PKG).parts[0] for p in _core_modules()}
    assert {"engine", "playbook", "directory", "store"} <= names


def test_no_core_module_imports_textual():
    offenders = [str(p.relative_to(PKG)) for p in _core_modules()
                 if _imports(p) & {"textual", "textual_serve", "rich"}]
    assert offenders == []


def test_the_checker_catches_an_offender(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from textual.app import App\n", encoding="utf-8")
    assert "textual" in _imports(bad)
