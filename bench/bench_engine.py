"""Benchmark: append 10,000 events through the engine, then fold them.

    .venv/bin/python bench/bench_engine.py [--events 10000] [--runs 5] [--db URL]

Targets (issue 3): at least 2,000 appended events/s on SQLite, one per
transaction, each validated by the engine; a fold of 10,000 events under 200 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from engine_helpers import mini_engine  # noqa: E402

from incident.clock import ManualClock  # noqa: E402
from incident.engine import fold  # noqa: E402


def run(url: str, n: int) -> tuple[float, float, float]:
    clock = ManualClock()
    engine = mini_engine(url, clock)
    iid = engine.start("mini", "B3", actor="wang").id
    engine.act(iid, "confirm", actor="wang", option="real")
    start = time.perf_counter()
    for i in range(n - 2):
        clock.advance(0.01)
        engine.note(iid, f"sweep report {i}: floor {i % 26 + 1} clear", actor="wang")
    append_s = time.perf_counter() - start
    start = time.perf_counter()
    events = engine.store.events(iid)
    read_s = time.perf_counter() - start
    pb = engine.playbooks.get("mini")
    folds = []
    for _ in range(3):
        start = time.perf_counter()
        st = fold(iid, pb, events)
        folds.append(time.perf_counter() - start)
    assert st.last_seq == n and len(st.notes) == n - 2
    engine.store.close()
    return n / append_s, read_s * 1000, statistics.median(folds) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    rates, reads, folds = [], [], []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            url = args.db or f"sqlite:///{tmp}/bench-{i}.db"
            rate, read_ms, fold_ms = run(url, args.events)
            rates.append(rate)
            reads.append(read_ms)
            folds.append(fold_ms)
    rate, read_ms, fold_ms = (statistics.median(x) for x in (rates, reads, folds))
    backend = (args.db or "sqlite").split(":")[0]
    rows = [
        (f"engine appends ({backend}, 1 event/txn)", f"{rate:,.0f} events/s", ">= 2,000/s",
         rate >= 2000),
        (f"read {args.events:,} events", f"{read_ms:.0f} ms", "", None),
        (f"fold {args.events:,} events", f"{fold_ms:.0f} ms", "< 200 ms", fold_ms < 200),
    ]
    print(f"{'what':<36} {'median':>16}  {'target':>10}  ok?   (runs: {args.runs})")
    print("-" * 76)
    for what, value, target, ok in rows:
        mark = "" if ok is None else ("yes" if ok else "NO")
        print(f"{what:<36} {value:>16}  {target:>10}  {mark}")
    return 0 if all(ok is not False for *_, ok in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
