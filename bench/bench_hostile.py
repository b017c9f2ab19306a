"""Cost of the hostile-input and -output defences.

    .venv/bin/python bench/bench_hostile.py [--runs N]

Prints a plain table (what, runs, median): the CLI's terminal guard over a clean
and a dirty 1 MB report, CSV neutralising of 10,000 report rows, refusing a 9-level
YAML alias bomb, and loading the shipped playbooks with and without rendering
every template at load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from incident.directory import load_directory  # noqa: E402
from incident.errors import ValidationFailed  # noqa: E402
from incident.playbook import load_library  # noqa: E402
from incident.safetext import csv_row, guard_text  # noqa: E402
from incident.yamlsrc import parse_text  # noqa: E402

LINE = ("| 123 | 03:04:05 | T+4m05s | chen.jie | Duty officer | Note | 火灾 12F | Evacuation | "
        "smoke seen by a resident on the stairs |\n")
CLEAN = LINE * (1_000_000 // len(LINE))
DIRTY = CLEAN + "\x1b]0;pwned\x07\x1b[2J"
ROWS = [[i, "2026-01-05 03:04:05", "T+4m05s", "chen.jie", "=HYPERLINK(1)", "-5m00s", "note"]
        for i in range(10_000)]
BOMB = "\n".join(['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
                 + [f"{c}: &{c} [" + ",".join(f"*{p}" for _ in range(9)) + "]"
                    for p, c in zip("abcdefgh", "bcdefghi", strict=True)]) + "\n"


def timed(fn: Callable[[], object], runs: int) -> float:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def _bomb() -> None:
    try:
        parse_text(BOMB, "bomb.yaml")
    except ValidationFailed:
        return
    raise AssertionError("the alias bomb was not refused")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    runs = ap.parse_args().runs
    directory = load_directory(REPO / "contacts")
    import incident.playbook.loader as loader

    rows = [
        ("terminal guard, clean 1 MB report", timed(lambda: guard_text(CLEAN), runs)),
        ("terminal guard, 1 MB with escapes", timed(lambda: guard_text(DIRTY), runs)),
        ("CSV neutralise 10,000 rows", timed(lambda: [csv_row(r) for r in ROWS], runs)),
        ("refuse 9-level alias bomb", timed(_bomb, runs)),
        ("load shipped playbooks", timed(lambda: load_library(REPO / "playbooks",
                                                              directory), runs)),
    ]
    check = loader.check_template
    loader.check_template = lambda _source, _contexts: None
    rows.append(("  … without template render check",
                 timed(lambda: load_library(REPO / "playbooks", directory), runs)))
    loader.check_template = check
    print(f"{'what':<40} {'runs':>5} {'median':>10}")
    for what, median in rows:
        print(f"{what:<40} {runs:>5} {median * 1000:>8.1f}ms")


if __name__ == "__main__":
    main()
