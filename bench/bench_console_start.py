"""From the home screen to the first step of a fire: keystrokes and seconds.

    .venv/bin/python bench/bench_console_start.py [--runs 5]

A headless console (80x24) on a fresh SQLite file per run; the keys are posted all
at once (the fastest typist there is: a paste or a scanner), and the clock stops when
the incident screen shows the started fire's most urgent step. Prints a table of
medians. Goal (issue 14): a fire at a known unit in at most 4 keys besides the unit,
under 2 s after the last key.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

UNIT = "B3-1201"


def _keys(text: str) -> list[str]:
    return ["minus" if c == "-" else "space" if c == " " else c for c in text]


PATHS = {
    "README: n fire ⏎ B3-1201 ⏎ ⏎": ["n", *_keys("fire"), "enter", *_keys(UNIT), "enter",
                                     "enter"],
    "one line: n fire B3-1201 ⏎ ⏎": ["n", *_keys("fire " + UNIT), "enter", "enter"],
    "quick key: f B3-1201 ⏎ ⏎": ["f", *_keys(UNIT), "enter", "enter"],
}


async def one(keys: list[str]) -> float:
    from test_console import build, make_runtime
    from textual import events

    tmp = Path(tempfile.mkdtemp(prefix="bench-start-"))
    rt = make_runtime(tmp / "incident.db")
    app = build(rt, tmp, dispatcher=False)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            while not app.ready or getattr(app.screen, "_core", None) is None:
                await pilot.pause(0.01)
            await pilot.pause(0.05)
            t0 = time.perf_counter()
            chars = {"enter": "\r", "minus": "-", "space": " "}
            for k in keys:
                key = events.Key(k, chars.get(k, k if len(k) == 1 else None))
                key.set_sender(app)
                app.post_message(key)
            while True:
                scr = app.screen
                if getattr(scr, "state", None) is not None and scr.current_step:
                    break
                if time.perf_counter() - t0 > 20:
                    raise RuntimeError(f"no incident screen: {scr}")
                await pilot.pause(0.005)
            took = time.perf_counter() - t0
            assert scr.state.playbook.id == "fire" and scr.state.location == UNIT
            return took
    finally:
        rt.close()


def measure(runs: int) -> list[tuple[str, int, int, float, float]]:
    """Per path: (name, keys, keys besides the unit, median s, worst s)."""
    rows = []
    for name, keys in PATHS.items():
        times = [asyncio.run(one(keys)) for _ in range(runs)]
        besides = len(keys) - len(UNIT)
        rows.append((name, len(keys), besides, statistics.median(times), max(times)))
    return rows


def print_rows(rows: list[tuple[str, int, int, float, float]]) -> None:
    print("home → the fire's first step on screen (keys posted at once; seconds after the "
          "last key; goal ≤ 4 keys besides the unit, < 2 s)")
    print(f"{'path':<32} {'keys':>5} {'besides unit':>13} {'median s':>9} {'worst s':>8}  ok")
    for name, n, b, s, worst in rows:
        ok = "yes" if b <= 4 and s < 2.0 else "NO"
        print(f"{name:<32} {n:>5} {b:>13} {s:>9.3f} {worst:>8.3f}  {ok}")


def load() -> str:
    """The machine's load, printed with the figures (a loaded machine is slower)."""
    import os

    one_min, five, fifteen = os.getloadavg()
    return f"load average {one_min:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(f"before: {load()}")
    print_rows(measure(args.runs))
    print(f"after:  {load()}")


if __name__ == "__main__":
    main()
