"""`incident service` benchmark: how late timers fire with 500 open incidents and
~5,000 pending timers, and how much CPU the service burns while it waits.

    .venv/bin/python bench/bench_service.py [--incidents 500] [--window 40] [--pg]

The incidents are fires started (on a manual clock) so that a batch of their timers
falls due, spread evenly, over the next `--window` seconds of real time; the service
runs as a real process on the system clock. Lateness = the fired event's time minus
the timer's due time, for every timer that fell due after the service was up.
Idle CPU: a second service run whose clock is fixed an hour before anything is due,
measured from /proc over 10 s after start-up. PostgreSQL runs too when --pg is given
or INCIDENT_TEST_DATABASE_URL is set (a private schema, dropped afterwards).
Target: p99 lateness under 1 s; idle CPU near zero.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
INCIDENT = str(Path(sys.executable).parent / "incident")
FIRST_DUE = timedelta(minutes=3)  # a fire has several timers 3 min after its start


def _runtime(url: str, clock):
    from incident.config import Settings
    from incident.runtime import Runtime

    return Runtime(Settings(database_url=url, user="chen.jie", playbooks_dir=REPO / "playbooks",
                            contacts_dir=REPO / "contacts"), clock)


def setup(url: str, n: int, base: datetime, window: float,
          ) -> tuple[int, dict[tuple[str, str], datetime]]:
    """n fires whose 3-minute timers fall due between base and base + window; returns
    the pending timers and those due in the window ((incident, timer) -> due)."""
    from incident.clock import ManualClock

    clock = ManualClock(base)
    rt = _runtime(url, clock)
    for i in range(n):
        clock.set(base + timedelta(seconds=window * i / n) - FIRST_DUE)
        rt.engine.start("fire", "B3-1201", actor="chen.jie")
    clock.set(base - FIRST_DUE)
    pending = 0
    due: dict[tuple[str, str], datetime] = {}
    end = base + timedelta(seconds=window)
    for row in rt.store.incidents(status="open"):
        timers = rt.engine.timers(rt.engine.state(row.id))
        pending += len(timers)
        due.update({(row.id, t.id): t.due_at for t in timers if base <= t.due_at <= end})
    rt.close()
    return pending, due


def service(url: str, clock: str = "system") -> subprocess.Popen:
    """A real `incident service`, returned once its first sweep is done."""
    env = {**os.environ, "INCIDENT_CLOCK": clock, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([INCIDENT, "--db", url, "--playbooks", str(REPO / "playbooks"),
                             "--contacts", str(REPO / "contacts"), "service", "--no-deliver"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while True:
        line = proc.stdout.readline()
        if "watching" in line:
            break
        if not line:
            raise SystemExit(f"the service did not start: {proc.wait()}")
    # keep reading its log: a full pipe would stall the service on its next line
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def lateness(url: str, due: dict[tuple[str, str], datetime], after: datetime,
             stopped: datetime) -> tuple[list[float], int]:
    """Seconds late of each timer due after `after`; one never fired counts as late
    until the service stopped (and is counted apart)."""
    from incident.clock import ManualClock
    from incident.engine import events as ev

    rt = _runtime(url, ManualClock(stopped))
    fired: dict[tuple[str, str], datetime] = {}
    for iid in {i for i, _t in due}:
        for e in rt.store.events(iid, kinds=[ev.TIMER_FIRED]):
            fired.setdefault((iid, e.payload["timer"]), e.ts)
    rt.close()
    out, missing = [], 0
    for key, when in due.items():
        if when < after:
            continue
        if key not in fired:
            missing += 1
        out.append(((fired.get(key) or stopped) - when).total_seconds())
    return out, missing


def run(name: str, url: str, n: int, window: float) -> dict[str, str]:
    t0 = time.perf_counter()
    base = datetime.now(UTC) + timedelta(seconds=15 + n * 0.04)  # after the set-up
    pending, due = setup(url, n, base, window)
    made = time.perf_counter() - t0
    proc = service(url)
    ready = datetime.now(UTC)
    end = base + timedelta(seconds=window)
    while datetime.now(UTC) < end + timedelta(seconds=3):
        time.sleep(0.5)
    stopped = datetime.now(UTC)
    stop(proc)
    late, missing = lateness(url, due, ready, stopped)
    late.sort()
    idle = service(url, f"fixed:{(base - timedelta(hours=1)).isoformat()}")
    c0 = cpu_seconds(idle.pid)
    time.sleep(10)
    cpu = (cpu_seconds(idle.pid) - c0) / 10 * 100
    stop(idle)

    def q(p: float) -> str:
        return f"{late[min(len(late) - 1, int(p * len(late)))] * 1000:.0f} ms" if late else "-"

    return {"db": name, "incidents": str(n), "pending timers": str(pending),
            "set-up": f"{made:.0f} s", "timers due in window": str(len(late)),
            "not fired": str(missing),
            "late median": q(0.5), "late p99": q(0.99),
            "late max": f"{late[-1] * 1000:.0f} ms" if late else "-",
            "idle CPU": f"{cpu:.2f} %"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--incidents", type=int, default=500)
    ap.add_argument("--window", type=float, default=40.0)
    ap.add_argument("--pg", action="store_true", help="also PostgreSQL (127.0.0.1 test db)")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        os.environ.setdefault("XDG_DATA_HOME", str(Path(tmp) / "data"))
        os.environ.setdefault("XDG_CONFIG_HOME", str(Path(tmp) / "config"))
        rows.append(run("SQLite", f"sqlite:///{tmp}/incident.db", args.incidents, args.window))
    pg = os.environ.get("INCIDENT_TEST_DATABASE_URL") or (
        "postgresql+psycopg://root@127.0.0.1:5432/test" if args.pg else None)
    if pg:
        import sqlalchemy as sa

        schema = "bench_" + uuid.uuid4().hex[:10]
        eng = sa.create_engine(pg, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in pg else "?"
        try:
            rows.append(run("PostgreSQL", f"{pg}{sep}options={quote(f'-csearch_path={schema}')}",
                            args.incidents, args.window))
        finally:
            with eng.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            eng.dispose()
    cols = list(rows[0])
    width = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    print("  ".join(c.ljust(width[c]) for c in cols))
    for r in rows:
        print("  ".join(r[c].ljust(width[c]) for c in cols))


if __name__ == "__main__":
    main()
