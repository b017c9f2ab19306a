"""Report speed: one incident with 10,000 events, and a monthly report over 500 incidents.

    .venv/bin/python bench/bench_report.py [--runs N] [--incidents 500] [--events 10000]

Prints a plain table (what, runs, median, target, ok). Data is built in a
temporary SQLite database: walked incidents of the shipped playbooks (the same
walker as the tests), then padded or cloned through the store.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from test_report_walker import make_runtime, walk  # noqa: E402

from incident.engine import events as ev  # noqa: E402
from incident.report import (  # noqa: E402
    build_incident_report,
    build_monthly,
    render,
    render_monthly,
)
from incident.store import NewEvent, NewOutbox  # noqa: E402


def pad_incident(rt, iid: str, total: int) -> None:
    """Grow a walked incident to `total` events: notes, timers, delivery progress, pages."""
    rng = random.Random(7)
    store, clock = rt.store, rt.clock
    staff = list(rt.directory.staff)
    while True:
        have = rt.store.incident(iid).last_seq
        if have >= total:
            return
        batch = []
        for i in range(min(500, total - have)):
            clock.advance(timedelta(seconds=rng.randint(1, 6)))
            now = clock.now()
            k = rng.random()
            if k < 0.6:
                batch.append(NewEvent(ev.NOTE_ADDED, rng.choice(staff),
                                      {"text": f"situation update {have + i}: floor "
                                               f"{rng.randint(1, 26)} checked, smoke clearing"},
                                      now))
            elif k < 0.8:
                batch.append(NewEvent(ev.DELIVERY_PROGRESS, ev.SYSTEM,
                                      {"step": "notify_building", "channels": {
                                          "sms": {"sent": i, "failed": 0, "pending": 3,
                                                  "fell_back": 0}}}, now))
            elif k < 0.9:
                batch.append(NewEvent(ev.TIMER_FIRED, ev.SYSTEM,
                                      {"timer": f"reminder:{i}", "kind": "reminder",
                                       "label": {"en": "Reminder", "zh": "提醒"}}, now))
            else:
                page = f"B{have + i}"
                batch.append(NewEvent(ev.PAGE_SENT, ev.SYSTEM,
                                      {"page": page, "to": [rng.choice(staff)],
                                       "role": "cs_supervisor", "node": "cs_supervisor",
                                       "reason": "reminder"}, now))
        store.append(iid, have, batch)


def clone_month(rt, templates: list[list], n: int) -> None:
    """n incidents in January 2026 cloned from walked templates, times stretched."""
    rng = random.Random(11)
    store = rt.store
    start = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    pbs = {pb.id: pb for pb in rt.playbooks}
    for i in range(n):
        events = templates[i % len(templates)]
        first = events[0]
        t0 = start + timedelta(minutes=rng.randint(0, 30 * 24 * 60 - 600))
        stretch = rng.choice([0.5, 1.0, 1.0, 1.5, 3.0])
        drill = i % 10 == 0
        news = []
        for e in events:
            payload = dict(e.payload)
            if e.kind == ev.INCIDENT_STARTED:
                payload["drill"] = drill
            news.append(NewEvent(e.kind, e.actor, payload, t0 + (e.ts - first.ts) * stretch))
        p = first.payload
        pb = pbs[p["playbook_id"]]
        last = news[-1]
        resolved = last.kind == ev.INCIDENT_RESOLVED
        row, _ = store.create_incident(
            playbook_id=pb.id, playbook_version=str(pb.version), type=pb.type,
            title={"en": pb.title.en, "zh": pb.title.zh}, location=p["location"],
            site=p["location_detail"].get("site") or "lhy", severity=p["severity"],
            drill=drill, owner=p["first_receiver"], created_at=t0, events=news[:1])
        if len(news) > 1:
            store.append(row.id, 1, news[1:], update={"status": "resolved",
                                                      "resolved_at": last.ts} if resolved else {})
        rows = [NewOutbox(idempotency_key=f"{row.id}:bench:{j}", step_id="notify_fire_floors",
                          person_id=f"owner:{j}", channel=("sms", "chat", "email")[j % 3],
                          address=f"+86138000{j:05d}", lang="zh", subject="s", body="b",
                          drill=drill) for j in range(30)]
        store.add_outbox(row.id, 1, rows)


def timed(fn, runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time of `runs` calls (CPU shows a busy machine)."""
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--incidents", type=int, default=500)
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        rt = make_runtime(f"sqlite:///{Path(tmp) / 'one.db'}")
        iid = walk(rt, "fire", resolve=False)
        pad_incident(rt, iid, args.events - 1)
        rt.clock.advance("1m")
        rt.engine.resolve(iid, actor="chen.jie", summary="bench")
        n_events = len(rt.store.events(iid))
        n_rows = len(rt.store.outbox_rows(iid))
        now = rt.clock.now()
        for fmt in ("md", "html", "csv", "json", "ics214"):
            def one(fmt=fmt):
                rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=now)
                render(rep, fmt)
            results.append((f"one incident, {n_events} events, {n_rows} messages → {fmt}",
                            args.runs, timed(one, args.runs), 1.0))
        rt.close()

        rt = make_runtime(f"sqlite:///{Path(tmp) / 'month.db'}")
        templates = []
        for pid in sorted(pb.id for pb in rt.playbooks):
            tid = walk(rt, pid)
            templates.append(rt.store.events(tid))
        tid = rt.engine.start("fire", "B2", actor="chen.jie").id  # an open one, too
        templates.append(rt.store.events(tid))
        clone_month(rt, templates, args.incidents)
        now = datetime(2026, 2, 1, tzinfo=UTC)
        since, until = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
        count = len(rt.store.incidents(since=since, until=until))
        for fmt in ("md", "html", "csv"):
            def month(fmt=fmt):
                m = build_monthly(rt.store, rt.playbooks, rt.directory, since=since,
                                  until=until, now=now)
                render_monthly(m, fmt)
            runs = max(1, min(args.runs, 3))
            results.append((f"monthly, {count} incidents → {fmt}", runs, timed(month, runs),
                            5.0))
        rt.close()
    width = max(len(r[0]) for r in results)
    print(f"{'what':<{width}}  runs  median    (cpu)      target  ok")
    for what, runs, (med, cpu), target in results:
        print(f"{what:<{width}}  {runs:>4}  {med:>6.3f} s  ({cpu:>6.3f} s)  {target:>4.1f} s  "
              f"{'yes' if med < target else 'NO'}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
