"""Event-store benchmark: prints a plain-text table of medians.

    .venv/bin/python bench/bench_store.py                 # SQLite (file, WAL)
    .venv/bin/python bench/bench_store.py --db postgresql://postgres@127.0.0.1:5432/test
    INCIDENT_TEST_DATABASE_URL=... .venv/bin/python bench/bench_store.py

Each run uses a fresh database (a new SQLite file, or a private PostgreSQL schema
that is dropped afterwards). Targets apply to SQLite; server figures are informative.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from incident.store import NewEvent, NewOutbox, Store, open_store
from incident.store.keys import keyring_from_secret

T0 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)

# name -> (unit, SQLite target rate per second)
TARGETS = {
    "append 1/tx": ("events", 2_000),
    "append 100/tx": ("events", 10_000),
    "read all": ("events", 50_000),
    "verify chain": ("events", 20_000),
    "claim+finish outbox": ("rows", 1_000),
}


@contextmanager
def fresh_db(kind: str, server_url: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    import sqlalchemy as sa

    base = server_url
    for plain in ("postgres://", "postgresql://"):
        if base.startswith(plain):
            base = "postgresql+psycopg://" + base[len(plain):]
    schema = "bench_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def new_incident(store: Store) -> str:
    row, _ = store.create_incident(
        playbook_id="fire", playbook_version="1", type="fire",
        title={"en": "Fire alarm", "zh": "火警"}, location="B3-1201", site="S1", severity=1,
        drill=True, owner="bench", created_at=T0,
        events=[NewEvent("incident.started", "bench", {"at": "B3-1201"}, T0)])
    return row.id


def event(i: int) -> NewEvent:
    return NewEvent("note.added", "bench", {"i": i, "text": "12楼走廊有烟，已通知保安"},
                    T0 + timedelta(microseconds=i))


def timed(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_once(url: str, n_events: int, n_outbox: int, keyed: bool = False,
             ) -> dict[str, tuple[float, int]]:
    out: dict[str, tuple[float, int]] = {}
    store = open_store(url)
    if keyed:  # HMAC-SHA256 chain, as every Runtime uses it
        store.use_integrity(keyring_from_secret("bench-secret-0123456789abcdef"))
    try:
        iid = new_incident(store)

        def one_per_tx() -> None:
            seq = 1
            for i in range(n_events):
                store.append(iid, seq, [event(i)])
                seq += 1

        out["append 1/tx"] = (timed(one_per_tx), n_events)

        iid2 = new_incident(store)

        def batches() -> None:
            seq = 1
            for start in range(0, n_events, 100):
                batch = [event(i) for i in range(start, min(start + 100, n_events))]
                store.append(iid2, seq, batch)
                seq += len(batch)

        out["append 100/tx"] = (timed(batches), n_events)

        got: list = []
        out["read all"] = (timed(lambda: got.extend(store.events(iid))), n_events)
        assert len(got) == n_events + 1, len(got)

        reports: list = []
        out["verify chain"] = (timed(lambda: reports.append(store.verify(iid))), n_events)
        assert reports[0].ok, reports[0]

        iid3 = new_incident(store)
        rows = [NewOutbox(f"{iid3}:{i}", "notify", f"p{i}", "sms", "+8613800000000", "zh",
                          "火警", "请从楼梯疏散", True) for i in range(n_outbox)]
        store.append(iid3, 1, [NewEvent("notify.queued", "bench", {"n": n_outbox}, T0)],
                     outbox=rows)

        def drain() -> None:
            done = 0
            while True:
                claimed = store.claim_outbox("bench-worker", T0, 50, LEASE)
                if not claimed:
                    break
                done += store.finish_attempts([
                    {"outbox_id": r.id, "worker": "bench-worker", "status": "sent",
                     "started_at": T0, "elapsed_ms": 1.0, "error": None, "now": T0}
                    for r in claimed])
            assert done == n_outbox, done

        out["claim+finish outbox"] = (timed(drain), n_outbox)
        assert store.pending_outbox_count() == 0
    finally:
        store.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", help="also run on this server database (PostgreSQL URL)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--outbox", type=int, default=4_000)
    ap.add_argument("--sqlite-only", action="store_true")
    ap.add_argument("--plain", action="store_true",
                    help="unkeyed SHA-256 chain (legacy) instead of the keyed HMAC chain")
    args = ap.parse_args(argv)
    server = args.db or os.environ.get("INCIDENT_TEST_DATABASE_URL", "")
    backends = ["sqlite"] + (["postgresql"] if server and not args.sqlite_only else [])

    lines = []
    header = (f"{'backend':<11} {'benchmark':<20} {'runs':>4} {'median s':>9} "
              f"{'rate/s':>10} {'unit':<7} {'target/s':>9} {'ok':<3}")
    failed = False
    for kind in backends:
        results: dict[str, list[tuple[float, int]]] = {k: [] for k in TARGETS}
        for _ in range(args.runs):
            with fresh_db(kind, server) as url:
                for name, value in run_once(url, args.events, args.outbox,
                                             keyed=not args.plain).items():
                    results[name].append(value)
        for name, (unit, target) in TARGETS.items():
            med = statistics.median(t for t, _ in results[name])
            count = results[name][0][1]
            rate = count / med if med > 0 else float("inf")
            if kind == "sqlite":
                ok = "yes" if rate >= target else "NO"
                failed |= ok == "NO"
                tgt = f"{target:>9,}"
            else:
                ok, tgt = "-", f"{'-':>9}"
            lines.append(f"{kind:<11} {name:<20} {args.runs:>4} {med:>9.3f} {rate:>10,.0f} "
                         f"{unit:<7} {tgt} {ok:<3}")
    print(header)
    print("-" * len(header))
    print("\n".join(lines))
    print("\nSQLite: file database, WAL journal, synchronous=NORMAL (durable across process "
          "crashes; a power cut may lose only the last commits).")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
