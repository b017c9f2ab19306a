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


# ---- the import-linter contracts (.importlinter) ----------------------------------------

REPO = PKG.parent


def _lint_imports(root: Path) -> tuple[int, str]:
    """Run lint-imports on the package under `root` with the repo's contracts."""
    import os
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([str(exe), "--no-cache", "--no-logo", str(REPO / ".importlinter")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr


def _contracts() -> dict[str, dict[str, str]]:
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(REPO / ".importlinter", encoding="utf-8")
    return {s: dict(cfg[s]) for s in cfg.sections() if s.startswith("importlinter:contract:")}


def test_the_layers_and_the_screen_ban_are_contracts():
    contracts = _contracts()
    layers = contracts["importlinter:contract:layers"]["layers"].split()
    for name in ("incident.store", "incident.engine", "incident.playbook", "incident.directory",
                 "incident.escalation", "incident.notify", "incident.drill", "incident.report",
                 "incident.console", "incident.cli"):
        assert name in layers
    assert layers.index("incident.console") < layers.index("incident.report") \
        < layers.index("incident.notify") < layers.index("incident.engine") \
        < layers.index("incident.playbook") < layers.index("incident.store")
    banned = contracts["importlinter:contract:core-knows-no-screen"]["forbidden_modules"]
    assert set(banned.split()) == {"textual", "textual_serve", "rich"}


def test_the_code_keeps_its_contracts():
    code, out = _lint_imports(REPO)
    assert code == 0, out
    assert "2 kept, 0 broken" in out


def test_the_contracts_catch_a_store_that_reaches_up_and_a_core_that_draws(tmp_path):
    """A copy of the package with two violations injected: both contracts must break."""
    import shutil

    shutil.copytree(PKG, tmp_path / "incident",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    up = tmp_path / "incident" / "store" / "reach_up.py"
    up.write_text("from incident.engine import Engine  # the log must not know the engine\n",
                  encoding="utf-8")
    draw = tmp_path / "incident" / "report" / "draws.py"
    draw.write_text("def f():\n    import rich.console  # a report module printing in colour\n",
                    encoding="utf-8")
    code, out = _lint_imports(tmp_path)
    assert code == 1, out
    assert "0 kept, 2 broken" in out
    assert "incident.store.reach_up -> incident.engine" in out
    assert "incident.report.draws -> rich" in out
