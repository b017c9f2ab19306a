"""SVG snapshots of the console, compared as files kept in tests/snapshots/.

Why our own compare and not pytest-textual-snapshot: its 1.1 pins syrupy 4.8, which
needs pytest < 9 (we run pytest 9), and it runs the app itself, where our screens need
a prepared store and a settled Pilot first. `app.export_screenshot()` is the same SVG.

Each snapshot is stored twice: the SVG (colours and all) and a plain-text copy of the
screen, which makes a review diff readable and lets a mismatch say which line differs.

Regenerate every snapshot (after a deliberate change of console text or layout):

    INCIDENT_SNAPSHOT_UPDATE=1 .venv/bin/pytest tests/test_console_snapshots.py -q

(or `--snapshot-update`). A mismatch writes what the console shows now next to the
snapshot in tests/snapshots/_failed/ (ignored by git) and names screen, size, language,
the first differing line and both files.
"""

from __future__ import annotations

import difflib
import io
import os
from pathlib import Path
from typing import Any

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
FAILED = SNAPSHOTS / "_failed"
UPDATE_ENV = "INCIDENT_SNAPSHOT_UPDATE"
UPDATE_COMMAND = f"{UPDATE_ENV}=1 .venv/bin/pytest tests/test_console_snapshots.py -q"


def update_requested(config: Any = None) -> bool:
    if os.environ.get(UPDATE_ENV, "") not in ("", "0"):
        return True
    return bool(config is not None and config.getoption("--snapshot-update", False))


def screen_text(app: Any) -> str:
    """The screen as plain text, one line per terminal row (trailing spaces dropped)."""
    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False,
                      safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    text = console.export_text(styles=False)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def compare(app: Any, name: str, what: str, update: bool) -> None:
    """Assert the running app's screen equals snapshot `name` (what: words for the
    failure message, e.g. 'home screen at 80x24 in zh')."""
    svg = app.export_screenshot(title=name)
    text = screen_text(app)
    svg_path, txt_path = SNAPSHOTS / f"{name}.svg", SNAPSHOTS / f"{name}.txt"
    if update or not svg_path.exists():
        SNAPSHOTS.mkdir(parents=True, exist_ok=True)
        svg_path.write_text(svg, encoding="utf-8")
        txt_path.write_text(text, encoding="utf-8")
        if not update:
            raise AssertionError(f"no snapshot of the {what} yet: wrote {svg_path} — look "
                                 f"at it, commit it, and run again")
        return
    want_svg = svg_path.read_text(encoding="utf-8")
    want_txt = txt_path.read_text(encoding="utf-8") if txt_path.exists() else ""
    if svg == want_svg:
        return
    FAILED.mkdir(parents=True, exist_ok=True)
    (FAILED / ".gitignore").write_text("*\n", encoding="utf-8")
    got_svg, got_txt = FAILED / f"{name}.actual.svg", FAILED / f"{name}.actual.txt"
    got_svg.write_text(svg, encoding="utf-8")
    got_txt.write_text(text, encoding="utf-8")
    diff = list(difflib.unified_diff(want_txt.splitlines(), text.splitlines(),
                                     f"snapshot {txt_path.name}", "console now", lineterm="",
                                     n=0))
    diff_path = FAILED / f"{name}.diff"
    diff_path.write_text("\n".join(diff) + "\n", encoding="utf-8")
    if want_txt and want_txt != text:
        rows_want, rows_got = want_txt.splitlines(), text.splitlines()
        row = next((i for i, (a, b) in enumerate(zip(rows_want, rows_got, strict=False))
                    if a != b), min(len(rows_want), len(rows_got)))
        where = (f"text differs from row {row + 1}:\n  snapshot: "
                 f"{rows_want[row] if row < len(rows_want) else '(none)'!r}\n  now:      "
                 f"{rows_got[row] if row < len(rows_got) else '(none)'!r}")
    else:
        where = "same text, different colours or styles"
    raise AssertionError(
        f"the {what} differs from its snapshot ({where})\n"
        f"  snapshot: {svg_path}\n  now:      {got_svg}\n  text diff: {diff_path}\n"
        f"  if the change is meant, regenerate: {UPDATE_COMMAND}")
