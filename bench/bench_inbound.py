"""Inbound replies at evacuation scale: 2,000 owners answering a roll-call question within
a minute, POSTed over loopback HTTP to a real inbound listener (its own process, next to
the service's sweep); are they all recorded, and how soon does the state the roll-call
board folds (REPLY_RECEIVED on the incident, read by another process the way a console
catches up) show each one? Prints a table of medians (and p95 / max).

    .venv/bin/python bench/bench_inbound.py [--owners 2000] [--seconds 60]
                                            [--db postgresql+psycopg://…] [--workers 16]

Set-up (not timed): a fire incident, and one question per owner queued on the `sms`
channel and marked sent, as the roll-call step (issue 19, helper h19b) queues them. Until
that step kind is merged the question rows carry the step id `bench_roll_call`, which
the bench's listener treats as a roll call; routing, the dedupe claim, the rate limit
and Engine.record_reply are the product's own. The owners answer "1", "2" or "3"
(safe / need help / not at home) in the generic JSON form, evenly spread over the
window, from a pool of HTTP clients; an observer in this process polls the log every
0.1 s (catch-up fold, as the console does) and notes when each reply is visible.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SECRET = "bench-inbound-secret-0001"
STEP = "bench_roll_call"


def settings(db: str, contacts: Path):
    from incident.config import load_settings

    return load_settings(database_url=db, playbooks_dir=REPO / "playbooks",
                         contacts_dir=contacts, user="chen.jie")


# ---- the listener process ------------------------------------------------------------------

def serve(db: str, contacts: Path) -> None:
    """Service sweep in the main thread, inbound listener in its threads (as
    `incident service --inbound` runs them), bench-only roll-call step id."""
    from incident.inbound.config import load_inbound
    from incident.inbound.router import Inbox
    from incident.inbound.server import InboundServer
    from incident.runtime import Runtime
    from incident.service import Service

    class BenchInbox(Inbox):
        def _purpose(self, row):
            return "roll_call" if row["step_id"] == STEP else super()._purpose(row)

    rt = Runtime(settings(db, contacts))
    inbox = BenchInbox(rt, load_inbound(contacts))
    server = InboundServer(inbox, "127.0.0.1", 0)
    server.start()
    print(f"PORT {server.port}", flush=True)
    svc = Service(rt, deliver=False)
    threading.Thread(target=lambda: (sys.stdin.read(), svc.stop()), daemon=True).start()
    svc.run()
    server.stop()
    print("COUNTS " + json.dumps(dict(inbox.counts)), flush=True)


# ---- set-up ----------------------------------------------------------------------------------

def prepare(db: str, contacts: Path, n: int) -> tuple[str, list[tuple[str, str]]]:

    from incident.clock import SystemClock
    from incident.runtime import Runtime
    from incident.store import NewEvent, NewOutbox
    from incident.store.schema import outbox

    rt = Runtime(settings(db, contacts), clock=SystemClock())
    try:
        st = rt.engine.start("fire", "B3-1201", actor="chen.jie")
        owners = [p for p in rt.directory.owners if p.phone][:n]
        if len(owners) < n:
            raise SystemExit(f"only {len(owners)} owners with a phone in the roster")
        rows = [NewOutbox(idempotency_key=f"{st.id}:{STEP}:{p.id}:sms", step_id=STEP,
                          person_id=p.id, channel="sms", address=p.phone, lang=p.lang,
                          subject="", body="回复 1 安全，2 需要帮助，3 不在家", drill=False)
                for p in owners]
        rt.engine.append_events(st.id, lambda s, now: (
            [NewEvent("note.added", "chen.jie", {"text": "bench: roll call sent"}, now)], rows))
        with rt.store._tx() as conn:
            conn.execute(outbox.update().where(outbox.c.step_id == STEP).values(
                state="sent", sent_at=datetime.now(UTC)))
        return st.id, [(p.id, p.phone) for p in owners]
    finally:
        rt.close()


# ---- the run ---------------------------------------------------------------------------------

def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--owners", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--db", help="database URL (default: a SQLite file in a temp folder)")
    ap.add_argument("--serve", nargs=2, metavar=("DB", "CONTACTS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve[0], Path(args.serve[1]))
        return

    tmp = Path(tempfile.mkdtemp(prefix="bench-inbound-"))
    os.environ.update(XDG_DATA_HOME=str(tmp / "data"), XDG_CONFIG_HOME=str(tmp / "cfg"),
                      INBOUND_SMS_SECRET=SECRET, INCIDENT_USER="chen.jie")
    contacts = tmp / "contacts"
    shutil.copytree(REPO / "contacts", contacts)
    (contacts / "inbound.yaml").write_text(
        "rate: 6/min\nchannels:\n  sms:\n    format: generic\n"
        "    secret: ${INBOUND_SMS_SECRET}\n", encoding="utf-8")
    db = args.db or f"sqlite:///{tmp / 'incident.db'}"
    drop = None
    if db.startswith("postgresql"):  # a private schema, dropped at the end
        db, drop = private_schema(db)
    try:
        run(args, db, contacts)
    finally:
        if drop is not None:
            drop()
        shutil.rmtree(tmp, ignore_errors=True)


def private_schema(base: str):
    import uuid
    from urllib.parse import quote

    import sqlalchemy as sa

    schema = "bench_inbound_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}", drop


def run(args, db: str, contacts: Path) -> None:
    iid, owners = prepare(db, contacts, args.owners)

    proc = subprocess.Popen([sys.executable, __file__, "--serve", db, str(contacts)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    port = int(proc.stdout.readline().split()[1])
    url = f"http://127.0.0.1:{port}/inbound/sms"

    from incident.clock import SystemClock
    from incident.runtime import Runtime

    sent_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    answered: dict[str, float] = {}
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    done = threading.Event()

    def observe() -> None:
        rt = Runtime(settings(db, contacts), clock=SystemClock())
        try:
            while True:
                st = rt.engine.state(iid)
                now = time.perf_counter()
                for r in st.replies[len(seen_at):]:
                    seen_at.setdefault(str(r.get("provider_id")), now)
                if done.is_set() and len(seen_at) >= len(answered):
                    return
                time.sleep(0.1)
        finally:
            rt.close()

    def post(i: int, phone: str, t_due: float) -> None:
        delay = t_due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        pid = f"bench-{i}"
        body = json.dumps({"from": phone, "text": "123"[i % 3], "id": pid}).encode()
        req = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "X-Incident-Secret": SECRET})
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                code = resp.status
                resp.read()
        except urllib.error.HTTPError as exc:
            code = exc.code
        t1 = time.perf_counter()
        with lock:
            statuses[code] = statuses.get(code, 0) + 1
            if code == 200:
                sent_at[pid] = t0
                answered[pid] = t1

    watcher = threading.Thread(target=observe, daemon=True)
    watcher.start()
    start = time.perf_counter() + 0.5
    gap = args.seconds / len(owners)
    with ThreadPoolExecutor(args.workers) as pool:
        for i, (_pid, phone) in enumerate(owners):
            pool.submit(post, i, phone, start + i * gap)
    last_post = time.perf_counter()
    done.set()
    watcher.join(timeout=120)
    proc.stdin.close()
    tail = proc.stdout.read()
    proc.wait(timeout=60)

    from incident.runtime import Runtime as R

    rt = R(settings(db, contacts), clock=SystemClock())
    try:
        events = [e for e in rt.store.events(iid) if e.kind == "reply.received"]
    finally:
        rt.close()
    http = [answered[p] - sent_at[p] for p in answered]
    visible = [seen_at[p] - sent_at[p] for p in seen_at if p in sent_at]
    counts = next((line[7:] for line in tail.splitlines() if line.startswith("COUNTS ")), "{}")
    engine_name = db.split(":", 1)[0]
    print(f"\nbench_inbound: {len(owners)} owners over {args.seconds:g} s "
          f"({len(owners) / args.seconds:.1f}/s offered), {args.workers} clients, {engine_name}")
    print(f"posting took {last_post - start:.1f} s; HTTP statuses {statuses}; "
          f"listener counts {counts}")
    print(f"REPLY_RECEIVED events on the incident: {len(events)} of {len(owners)}"
          + ("  (all recorded)" if len(events) == len(owners) else "  (MISSING SOME)"))
    print()
    print("| measure | median | p95 | max |")
    print("|---|---|---|---|")
    for name, xs in (("POST → 200 (recorded)", http),
                     ("POST → visible in the board's fold (0.1 s poll)", visible)):
        print(f"| {name} | {statistics.median(xs) * 1000:.0f} ms | {pct(xs, .95) * 1000:.0f} ms "
              f"| {max(xs) * 1000:.0f} ms |")
    within = sum(1 for x in visible if x <= 2.0)
    print(f"\nvisible within 2 s: {within} of {len(visible)}")


if __name__ == "__main__":
    main()
