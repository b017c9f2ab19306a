"""Notification throughput: 2,000 owners over SMS and e-mail (4,000 messages).

Loopback servers (SMSEagle JSON-RPC over HTTP, SMTP via aiosmtpd) run in their own
process and answer every message after 200 ms. Compared:

1. our dispatcher: outbox rows queued by the engine (one notify step per channel),
   sent with one single-URL Apprise call per message from per-channel pools —
   with a backlog this big the dispatcher hands the sends to one send process per
   core (incident/notify/procs.py) — every attempt recorded in the database;
2. plain Apprise: the same messages, one URL per recipient (as Apprise's docs advise
   for bulk), one ``notify()`` per language, in a fresh process (none of our send
   code loaded) whose Apprise service pool is as large as our two channels' pools
   together (2 x --concurrency);
3. the servers' own capacity: a raw client loop (http.client / smtplib) in a
   thread pool, nothing recorded.

4. crash runs (``--crash N``): a dispatcher process sending the same burst at
   concurrency 128 per channel is killed with SIGKILL mid-burst; a second one
   takes over once the leases run out. Counted at the servers: messages lost
   (none allowed) and duplicates per kill (the sends already on the wire).
5. PostgreSQL (``--pg [URL]``, or when INCIDENT_TEST_DATABASE_URL is set): the burst
   queued in a private schema and sent by two dispatcher processes at once, as two
   ``incident service`` hosts would; counted at the servers (nothing lost or twice).

Figures depend on the machine's load: run it on a quiet machine; the load average
before and after is printed with the table.

    .venv/bin/python bench/bench_notify.py [--owners 2000] [--runs 3] [--plain N] [--crash 3]
                                           [--pg [URL]]
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

LATENCY = 0.2
TOKEN = "eagle-secret-token"

SERVER = f"""
import json, sys, time
sys.path.insert(0, {str(ROOT / 'tests')!r})
from servers import SmsEagleServer, SmtpServer
sms = SmsEagleServer(token={TOKEN!r}).start()
smtp = SmtpServer().start()
for s in (sms, smtp):
    s.faults.set_latency({LATENCY})
print(json.dumps({{"sms": sms.port, "smtp": smtp.port}}), flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "count":
        out = {{"sms": len(sms.messages()), "sms_unique": len(sms.count_by_to()),
               "smtp": len(smtp.messages()), "smtp_unique": len(smtp.count_by_to()),
               "sms_connections": sms.connections, "smtp_sessions": smtp.sessions}}
        print(json.dumps(out), flush=True)
    elif cmd == "reset":
        sms.reset(); smtp.reset()
        for s in (sms, smtp):
            s.faults.set_latency({LATENCY})
        print("{{}}", flush=True)
    elif cmd == "quit":
        break
sms.stop(); smtp.stop()
"""


class Servers:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.ports = json.loads(self.proc.stdout.readline())

    def ask(self, cmd: str) -> dict:
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def cpu_s(self) -> float:
        """CPU seconds the servers' process has used so far (Linux /proc)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def build(tmp: Path, owners: int, ports: dict, concurrency: int, timeout: str = "10s",
          db: str | None = None):
    from fixtures_notify import PLAYBOOK, make_estate

    from incident.clock import SystemClock
    from incident.directory import load_directory
    from incident.engine import Engine
    from incident.notify import Planner, load_channels
    from incident.playbook import PlaybookLibrary, load_playbook
    from incident.store import open_store

    contacts = make_estate(tmp / "contacts", owners)
    chfile = contacts / "channels.yaml"
    chfile.write_text(f"""\
defaults: {{concurrency: {concurrency}, rate: 0, timeout: {timeout}, retries: 3, backoff: 5s}}
channels:
  sms:
    url: "smseagle://${{SMSEAGLE_TOKEN}}@127.0.0.1:{ports['sms']}/{{phone}}"
  email:
    url: "mailto://127.0.0.1:{ports['smtp']}/{{email}}?from=noreply%40estate.test&mode=insecure"
  chat:
    url: "sink://chat/{{chat}}"
""", encoding="utf-8")
    env = {"SMSEAGLE_TOKEN": TOKEN}
    channels = load_channels(chfile, env=env)
    directory = load_directory(contacts)
    pbfile = tmp / "burst.yaml"
    pbfile.write_text(PLAYBOOK, encoding="utf-8")
    pb = load_playbook(pbfile, directory, channels.names())
    store = open_store(db or f"sqlite:///{tmp / 'bench.db'}")
    engine = Engine(store, PlaybookLibrary({pb.id: pb}, {pb.id: pbfile}), directory,
                    SystemClock(), planner=Planner(directory, channels))
    return engine, channels, directory


def run_ours(engine, channels, directory, servers: Servers) -> dict:
    from incident.notify import Dispatcher

    servers.ask("reset")
    iid = engine.start("burst", "B3-1201", actor="night.officer").id
    t0 = time.perf_counter()
    engine.act(iid, "tell_all_sms", actor="night.officer")
    engine.act(iid, "tell_all_email", actor="night.officer")
    queued = time.perf_counter() - t0
    rows = len(engine.store.outbox_rows(iid))
    t1 = time.perf_counter()
    cpu0 = (time.process_time(), _children_cpu(), servers.cpu_s())
    with Dispatcher(engine.store, channels, engine.clock, directory=directory,
                    engine=engine) as d:
        stats = d.run_until_idle()
    sent_s = time.perf_counter() - t1
    cpu = {"dispatcher": time.process_time() - cpu0[0], "send processes": _children_cpu() - cpu0[1],
           "servers": servers.cpu_s() - cpu0[2]}
    counts = engine.store.outbox_counts(iid)
    recorded = sum(v.get("sent", 0) for v in counts.values())
    attempts = sum(len(engine.store.attempts(r.id)) for r in engine.store.outbox_rows(iid)[:50])
    got = servers.ask("count")
    return {"queue_s": queued, "send_s": sent_s, "rows": rows, "recorded_sent": recorded,
            "stats": stats, "server": got, "attempts_sample": attempts, "cpu": cpu}


CRASH_LEASE_S = 12.0  # > 3 x timeout (2 s) + 1: a send may start a while after its claim

CRASH_CHILD = """
import sys
from datetime import timedelta
from incident.clock import SystemClock
from incident.directory import load_directory
from incident.notify import Dispatcher, load_channels
from incident.store import open_store
db, chfile, contacts, token, lease = sys.argv[1:6]
store = open_store(db)
d = Dispatcher(store, load_channels(chfile, env={"SMSEAGLE_TOKEN": token}), SystemClock(),
               directory=load_directory(contacts), lease=timedelta(seconds=float(lease)))
print("ready", flush=True)
d.run_until_idle()
"""


def run_crash(tmp: Path, owners: int, servers: Servers, concurrency: int) -> dict:
    """Kill -9 a dispatcher mid-burst; a second one finishes after the leases run out."""
    from incident.notify import Dispatcher
    from incident.store import open_store

    servers.ask("reset")
    engine, channels, directory = build(tmp, owners, servers.ports, concurrency,
                                        timeout="2s")
    iid = engine.start("burst", "B3-1201", actor="night.officer").id
    engine.act(iid, "tell_all_sms", actor="night.officer")
    engine.act(iid, "tell_all_email", actor="night.officer")
    total = len(engine.store.outbox_rows(iid))
    db = str(engine.store.engine.url)
    contacts = tmp / "contacts"
    child = subprocess.Popen([sys.executable, "-c", CRASH_CHILD, db,
                              str(contacts / "channels.yaml"), str(contacts), TOKEN,
                              str(CRASH_LEASE_S)],
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    # kill once about a third of the burst has reached the servers
    while True:
        got = servers.ask("count")
        if got["sms"] + got["smtp"] >= total // 3 or child.poll() is not None:
            break
        time.sleep(0.02)
    store = open_store(db)
    child.kill()
    child.wait()
    counts = store.outbox_counts(iid)
    recorded = sum(v.get("sent", 0) for v in counts.values())
    in_flight = sum(v.get("sending", 0) for v in counts.values())
    time.sleep(1.0)  # whatever the killed sends still had on the wire arrives now
    at_kill = servers.ask("count")
    time.sleep(CRASH_LEASE_S)
    with Dispatcher(store, channels, engine.clock, directory=directory) as d:
        d.run_until_idle(wait_retries=True, timeout=120)
    got = servers.ask("count")
    delivered = got["sms_unique"] + got["smtp_unique"]
    store.close()
    engine.store.close()
    return {"total": total, "recorded_at_kill": recorded, "claimed_at_kill": in_flight,
            "servers_at_kill": at_kill["sms"] + at_kill["smtp"],
            "lost": total - delivered, "duplicates": got["sms"] + got["smtp"] - delivered}


def _children_cpu() -> float:
    """CPU seconds of finished child processes (the send processes, once closed)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


PLAIN_CHILD = """
import json, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
job = json.load(open(sys.argv[1], encoding="utf-8"))
import apprise
import apprise.apprise as core
# Apprise's shared service pool, sized like ours (its default is min(32, cores + 4)).
core._shared_executor = ThreadPoolExecutor(max_workers=job["pool"])
ok = 0
lock = threading.Lock()
def send(lang, urls):
    global ok
    a = apprise.Apprise()
    for url in urls:  # one URL per recipient, as Apprise's docs advise for bulk
        a.add(url)
    res = a.notify(body=f"{lang}: water off until 18:00.", title="Water off")
    with lock:
        ok += len(urls) if res else 0
t0 = time.perf_counter()
threads = [threading.Thread(target=send, args=(lang, urls)) for lang, urls in job["urls"].items()]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"s": time.perf_counter() - t0, "ok_calls": ok}), flush=True)
"""


def run_plain(directory, channels, n: int, pool: int, servers: Servers, tmp: Path) -> dict:
    """The same messages through plain Apprise, in a fresh process (none of our send
    code or SMTP changes loaded) with a service pool as large as our two channels'."""
    servers.ask("reset")
    owners = [r for r in directory.resolve("owners") if "sms" in r.addresses]
    by_lang: dict[str, list[str]] = {}
    for r in owners[:n // 2]:
        by_lang.setdefault(r.lang, []).append(channels.url_for("sms", r.addresses["sms"]))
        by_lang[r.lang].append(channels.url_for("email", r.addresses["email"]))
    job = tmp / "plain.json"
    job.write_text(json.dumps({"pool": pool, "urls": by_lang}), encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", PLAIN_CHILD, str(job)], capture_output=True,
                         text=True, check=True).stdout
    res = json.loads(out.strip().splitlines()[-1])
    time.sleep(0.5)  # let the servers finish counting the last answers
    got = servers.ask("count")
    return {"messages": sum(len(u) for u in by_lang.values()), "s": res["s"],
            "ok": got["sms"] + got["smtp"], "server": got}


PG_CHILD = """
import sys, time
from incident.clock import SystemClock
from incident.directory import load_directory
from incident.notify import Dispatcher, load_channels
from incident.store import open_store
db, chfile, contacts, token = sys.argv[1:5]
store = open_store(db)
with Dispatcher(store, load_channels(chfile, env={"SMSEAGLE_TOKEN": token}), SystemClock(),
                directory=load_directory(contacts)) as d:
    print("ready", flush=True)
    sys.stdin.readline()  # both processes start together
    t0 = time.perf_counter()
    d.run_until_idle()
    print(f"{time.perf_counter() - t0:.3f}", flush=True)
store.close()
"""


def _pg_schema_url(base: str) -> tuple[str, str]:
    import uuid
    from urllib.parse import quote

    import sqlalchemy as sa

    schema = "bench_" + uuid.uuid4().hex[:10]
    eng = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with eng.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    eng.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}", schema


def _pg_drop(base: str, schema: str) -> None:
    import sqlalchemy as sa

    eng = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with eng.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    eng.dispose()


def run_pg(base: str, tmp: Path, owners: int, servers: Servers, concurrency: int,
           processes: int = 2) -> dict:
    """The burst queued in PostgreSQL and sent by `processes` dispatcher processes at
    once (as `incident service` on several hosts would): fenced claims share the rows."""
    servers.ask("reset")
    url, schema = _pg_schema_url(base)
    try:
        engine = build(tmp, owners, servers.ports, concurrency, db=url)[0]
        iid = engine.start("burst", "B3-1201", actor="night.officer").id
        t0 = time.perf_counter()
        engine.act(iid, "tell_all_sms", actor="night.officer")
        engine.act(iid, "tell_all_email", actor="night.officer")
        queued = time.perf_counter() - t0
        total = len(engine.store.outbox_rows(iid))
        contacts = tmp / "contacts"
        kids = [subprocess.Popen([sys.executable, "-c", PG_CHILD, url,
                                  str(contacts / "channels.yaml"), str(contacts), TOKEN],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
                for _ in range(processes)]
        for k in kids:
            assert k.stdout is not None and k.stdout.readline().strip() == "ready"
        t1 = time.perf_counter()
        for k in kids:
            assert k.stdin is not None
            k.stdin.write("go\n")
            k.stdin.flush()
        own = [float(k.stdout.readline() or "nan") for k in kids]  # type: ignore[union-attr]
        send_s = time.perf_counter() - t1
        for k in kids:
            k.wait(60)
        counts = engine.store.outbox_counts(iid)
        recorded = sum(v.get("sent", 0) for v in counts.values())
        got = servers.ask("count")
        engine.store.close()
    finally:
        _pg_drop(base, schema)
    delivered = got["sms_unique"] + got["smtp_unique"]
    return {"total": total, "queue_s": queued, "send_s": send_s, "own_s": own,
            "recorded_sent": recorded, "lost": total - delivered,
            "duplicates": got["sms"] + got["smtp"] - delivered}


def run_raw(ports: dict, owners: int, workers: int, servers: Servers) -> dict:
    """Server capacity: bare http.client / smtplib from a thread pool."""
    servers.ask("reset")

    def sms(i: int) -> bool:
        c = HTTPConnection("127.0.0.1", ports["sms"], timeout=10)
        body = json.dumps({"method": "sms.send_sms", "params": {
            "access_token": TOKEN, "to": f"+86139{i:08d}", "message": "water off"}})
        c.request("POST", "/jsonrpc/sms", body, {"Content-Type": "application/json"})
        ok = c.getresponse().status == 200
        c.close()
        return ok

    def mail(i: int) -> bool:
        with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=10) as s:
            s.sendmail("noreply@estate.test", [f"owner{i:04d}@example.com"],
                       "Subject: Water off\r\n\r\nwater off\r\n")
        return True

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        futs = [ex.submit(sms, i) for i in range(owners)] + \
               [ex.submit(mail, i) for i in range(owners)]
        ok = sum(1 for f in futs if f.result())
    return {"ok": ok, "s": time.perf_counter() - t0, "server": servers.ask("count")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--owners", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--plain", type=int, default=0,
                    help="messages in the plain-Apprise run (default: the whole burst)")
    ap.add_argument("--concurrency", type=int, default=128, help="per channel")
    ap.add_argument("--crash", type=int, default=3, help="kill -9 runs (0: none)")
    ap.add_argument("--pg", metavar="URL", nargs="?", const="env",
                    default=os.environ.get("INCIDENT_TEST_DATABASE_URL") and "env",
                    help="also run on PostgreSQL with two dispatcher processes (default URL: "
                         "INCIDENT_TEST_DATABASE_URL)")
    args = ap.parse_args()
    total = 2 * args.owners
    pg_url = os.environ.get("INCIDENT_TEST_DATABASE_URL", "") if args.pg == "env" else args.pg
    load_before = os.getloadavg()
    servers = Servers()
    ok = True
    try:
        with tempfile.TemporaryDirectory() as tmp:
            engine, channels, directory = build(Path(tmp), args.owners, servers.ports,
                                                args.concurrency)
            ours = []
            raws = []
            # alternate raw clients and our dispatcher so that both see the same load
            for i in range(args.runs):
                raw = run_raw(servers.ports, args.owners, args.concurrency, servers)
                raws.append(raw)
                r = run_ours(engine, channels, directory, servers)
                ours.append(r)
                srv = r["server"]
                lost = total - r["recorded_sent"]
                print(f"  run {i + 1}: queued {r['rows']} rows in {r['queue_s']:.2f}s, sent in "
                      f"{r['send_s']:.2f}s; recorded sent {r['recorded_sent']}; servers got "
                      f"sms {srv['sms']} ({srv['sms_unique']} unique), email {srv['smtp']} "
                      f"({srv['smtp_unique']} unique) over {srv['sms_connections']} HTTP "
                      f"connections and {srv['smtp_sessions']} SMTP sessions; raw clients "
                      f"{raw['s']:.2f}s; ratio {r['send_s'] / raw['s']:.2f}; load "
                      f"{os.getloadavg()[0]:.2f}", flush=True)
                if lost or srv["sms"] != args.owners or srv["smtp"] != args.owners:
                    ok = False
            plain = run_plain(directory, channels, args.plain or total, 2 * args.concurrency,
                              servers, Path(tmp))
            engine.store.close()
            pg = None
            if pg_url:
                pg = run_pg(pg_url, Path(tmp) / "pg", args.owners, servers, args.concurrency)
                print(f"  PostgreSQL, 2 dispatcher processes: {pg['total']} rows sent in "
                      f"{pg['send_s']:.2f}s (each process {pg['own_s']}); lost {pg['lost']}, "
                      f"duplicates {pg['duplicates']}", flush=True)
                if pg["lost"] or pg["duplicates"]:
                    ok = False
            crashes = []
            for i in range(args.crash):
                c = run_crash(Path(tmp) / f"crash{i}", args.owners, servers, args.concurrency)
                crashes.append(c)
                print(f"  kill -9 {i + 1}: {c['recorded_at_kill']} of {c['total']} recorded "
                      f"sent, {c['claimed_at_kill']} claimed in flight, servers had "
                      f"{c['servers_at_kill']}; after recovery lost {c['lost']}, "
                      f"duplicates {c['duplicates']}", flush=True)
                if c["lost"]:
                    ok = False
    finally:
        servers.close()

    send = statistics.median(r["send_s"] for r in ours)
    raw = {"s": statistics.median(r["s"] for r in raws)}
    ratios = [o["send_s"] / r["s"] for o, r in zip(ours, raws, strict=True)]
    endtoend = statistics.median(r["send_s"] + r["queue_s"] for r in ours)
    print()
    print(f"{total:,} messages ({args.owners:,} owners x SMS + e-mail), servers answer after "
          f"{LATENCY * 1000:.0f} ms; median of {args.runs} run(s)")
    load_after = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores; load average (1/5/15 min) before "
          f"{'/'.join(f'{x:.2f}' for x in load_before)}, after "
          f"{'/'.join(f'{x:.2f}' for x in load_after)} (servers share these cores)")
    print(f"{'method':<58}{'time (s)':>10}{'msg/s':>10}")
    print("-" * 78)
    print(f"{'our dispatcher (send + record every attempt)':<58}{send:>10.2f}"
          f"{total / send:>10.0f}")
    print(f"{'our dispatcher incl. planning/queueing the rows':<58}{endtoend:>10.2f}"
          f"{total / endtoend:>10.0f}")
    plain_label = (f"plain Apprise, own process, pool {2 * args.concurrency}"
                   + ("" if plain["messages"] == total else f", {plain['messages']} msgs"))
    print(f"{plain_label:<58}{plain['s']:>10.2f}{plain['messages'] / plain['s']:>10.0f}")
    raw_label = f"raw clients, {args.concurrency} threads (server capacity), median"
    print(f"{raw_label:<58}{raw['s']:>10.2f}{total / raw['s']:>10.0f}")
    if pg is not None:
        print(f"{'PostgreSQL, 2 dispatcher processes (send + record)':<58}{pg['send_s']:>10.2f}"
              f"{total / pg['send_s']:>10.0f}")
    print("-" * 78)
    cpu = {k: statistics.median(r["cpu"][k] for r in ours) for k in ours[0]["cpu"]}
    print("CPU seconds during our send (median): " + ", ".join(f"{k} {v:.1f}" for k, v in
                                                              cpu.items())
          + f"; {sum(cpu.values()) / send:.2f} of {os.cpu_count()} cores busy")
    print(f"ratio ours / raw clients (each run against the raw run just before it): "
          f"{' '.join(f'{x:.2f}' for x in ratios)}; median {statistics.median(ratios):.2f} "
          "(target <= 1.3)")
    print(f"ratio ours / plain Apprise (per message): "
          f"{(send / total) / (plain['s'] / plain['messages']):.2f}; plain run: servers got "
          f"{plain['ok']} of {plain['messages']}")
    if pg is not None:
        print(f"ratio PostgreSQL 2 processes / raw clients: {pg['send_s'] / raw['s']:.2f}")
    lost = [total - r["recorded_sent"] for r in ours]
    print(f"nothing lost: recorded sent per run {[r['recorded_sent'] for r in ours]} of {total}; "
          f"lost {lost}")
    if crashes:
        dups = [c["duplicates"] for c in crashes]
        print(f"kill -9 at concurrency {args.concurrency} per channel (sms + e-mail): "
              f"duplicates per kill {dups} (median {statistics.median(dups):g}, max "
              f"{max(dups)}; bound: the sends in flight, {2 * args.concurrency}); lost "
              f"{[c['lost'] for c in crashes]}")
    targets = [("all sent and recorded within 15 s", send <= 15 and ok),
               ("within 1.3x the raw clients' time", statistics.median(ratios) <= 1.3),
               ("nothing lost, nothing twice", ok)]
    for name, good in targets:
        print(f"  [{'ok' if good else 'MISSED'}] {name}")
    return 0 if all(g for _, g in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
