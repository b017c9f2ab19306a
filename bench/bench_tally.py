"""Cost of a notify step's per-recipient tally (what every delivery.progress carries).

The dispatcher reports progress at most every 1.5 s per incident while it sends, and
the console reloads it on every change. The per-recipient tally is aggregated in the
database (Store.delivery_summary: two GROUP BY queries); compared with the one GROUP BY
of per-state counts it replaced, and with tallying every row in Python. Medians on
SQLite:

    .venv/bin/python bench/bench_tally.py [--sizes 500,2000,10000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from incident.notify.tally import progress_fields, step_tallies, tally  # noqa: E402
from incident.store import NewEvent, NewOutbox, open_store  # noqa: E402


def _store(folder: Path, n: int):
    store = open_store(f"sqlite:///{folder / f'b{n}.db'}")
    now = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    row, _ = store.create_incident(
        playbook_id="fire", playbook_version="1", type="fire", title={"en": "x", "zh": "x"},
        location="B3", site="s", severity=2, drill=False, owner="o", created_at=now,
        events=[NewEvent("incident.started", "o", {}, now)])
    rows = [NewOutbox(idempotency_key=f"{row.id}:warn:p{i}:sms", step_id="warn",
                      person_id=f"p{i}", channel="sms", address=f"+86139{i:08d}", lang="zh",
                      subject="s", body="b", drill=False, fallback_channels=["email"])
            for i in range(n)]
    store.append(row.id, 1, [NewEvent("notify.queued", "o", {"step": "warn"}, now)],
                 outbox=rows)
    return store, row.id


def _median(fn, runs: int = 15) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="500,2000,10000")
    args = ap.parse_args()
    print(f"{'rows':>7} {'GROUP BY counts ms':>20} {'tally in SQL ms':>16} "
          f"{'tally of all rows ms':>21}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.sizes.split(",")):
            store, iid = _store(Path(tmp), n)
            old = _median(lambda s=store, i=iid: s.outbox_counts(i))
            sql = _median(lambda s=store, i=iid: progress_fields(
                step_tallies(s, i, "warn")["warn"]))
            rows = _median(lambda s=store, i=iid: progress_fields(
                tally("warn", s.outbox_rows(i, "warn"))), runs=5)
            print(f"{n:>7} {old:>20.2f} {sql:>16.2f} {rows:>21.2f}")
            store.close()


if __name__ == "__main__":
    main()
