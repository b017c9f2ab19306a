"""Notification throughput: 2,000 owners over SMS and e-mail (4,000 messages).

Loopback servers (SMSEagle JSON-RPC over HTTP, SMTP via aiosmtpd) run in their own
process and answer every message after 200 ms. Compared:

1. our dispatcher: outbox rows queued by the engine (one notify step per channel),
   sent with one single-URL Apprise call per message from per-channel pools —
   with a backlog this big the dispatcher hands the sends to one send process per
   core (incident/notify/procs.py) — every attempt recorded in the database;
2. a plain ``Apprise().add(all_urls).notify()`` of the same messages, as most users
   would write it — run on a subset and extrapolated (clearly labelled);
3. the servers' own capacity: a raw client loop (http.client / smtplib) in a
   thread pool, nothing recorded.

4. crash runs (``--crash N``): a dispatcher process sending the same burst at
   concurrency 128 per channel is killed with SIGKILL mid-burst; a second one
   takes over once the leases run out. Counted at the servers: messages lost
   (none allowed) and duplicates per kill (the sends already on the wire).

    .venv/bin/python bench/bench_notify.py [--owners 2000] [--runs 3] [--plain 200] [--crash 3]
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
               "smtp": len(smtp.messages()), "smtp_unique": len(smtp.count_by_to())}}
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


def build(tmp: Path, owners: int, ports: dict, concurrency: int, timeout: str = "10s"):
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
    store = open_store(f"sqlite:///{tmp / 'bench.db'}")
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


def run_plain(engine, directory, channels, n: int, servers: Servers) -> dict:
    """The same messages as a plain bulk Apprise call: all URLs added, one notify()."""
    import apprise

    servers.ask("reset")
    owners = [r for r in directory.resolve("owners") if "sms" in r.addresses]
    half = n // 2
    by_lang: dict[str, list[str]] = {}
    for r in owners[:half]:
        by_lang.setdefault(r.lang, []).append(channels.url_for("sms", r.addresses["sms"]))
        by_lang[r.lang].append(channels.url_for("email", r.addresses["email"]))
    t0 = time.perf_counter()
    ok = 0
    for lang, urls in by_lang.items():
        a = apprise.Apprise()
        a.add(urls)
        res = a.notify(body=f"{lang}: water off until 18:00.", title="Water off")
        ok += sum(1 for r in res if r)
    took = time.perf_counter() - t0
    return {"messages": sum(len(u) for u in by_lang.values()), "ok": ok, "s": took,
            "server": servers.ask("count")}


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
    ap.add_argument("--plain", type=int, default=200, help="messages in the plain-Apprise run")
    ap.add_argument("--concurrency", type=int, default=128, help="per channel")
    ap.add_argument("--crash", type=int, default=3, help="kill -9 runs (0: none)")
    args = ap.parse_args()
    total = 2 * args.owners
    load_before = os.getloadavg()
    servers = Servers()
    ok = True
    try:
        with tempfile.TemporaryDirectory() as tmp:
            engine, channels, directory = build(Path(tmp), args.owners, servers.ports,
                                                args.concurrency)
            ours = []
            for i in range(args.runs):
                r = run_ours(engine, channels, directory, servers)
                ours.append(r)
                srv = r["server"]
                lost = total - r["recorded_sent"]
                print(f"  run {i + 1}: queued {r['rows']} rows in {r['queue_s']:.2f}s, sent in "
                      f"{r['send_s']:.2f}s; recorded sent {r['recorded_sent']}; servers got "
                      f"sms {srv['sms']} ({srv['sms_unique']} unique), email {srv['smtp']} "
                      f"({srv['smtp_unique']} unique)", flush=True)
                if lost or srv["sms"] != args.owners or srv["smtp"] != args.owners:
                    ok = False
            plain = run_plain(engine, directory, channels, args.plain, servers)
            raw = run_raw(servers.ports, args.owners, args.concurrency, servers)
            engine.store.close()
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
    endtoend = statistics.median(r["send_s"] + r["queue_s"] for r in ours)
    per_msg_plain = plain["s"] / max(1, plain["messages"])
    plain_full = per_msg_plain * total
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
    label = f"plain Apprise().add(urls).notify(), measured on {plain['messages']}"
    print(f"{label:<58}{plain['s']:>10.2f}{plain['messages'] / plain['s']:>10.1f}")
    print(f"{f'plain Apprise, EXTRAPOLATED to {total:,}':<58}{plain_full:>10.1f}"
          f"{total / plain_full:>10.1f}")
    print(f"{f'raw clients, {args.concurrency} threads (server capacity)':<58}{raw['s']:>10.2f}"
          f"{total / raw['s']:>10.0f}")
    print("-" * 78)
    cpu = {k: statistics.median(r["cpu"][k] for r in ours) for k in ours[0]["cpu"]}
    print("CPU seconds during our send (median): " + ", ".join(f"{k} {v:.1f}" for k, v in
                                                              cpu.items())
          + f"; {sum(cpu.values()) / send:.2f} of {os.cpu_count()} cores busy")
    speedup = plain_full / send
    print(f"speed-up over plain Apprise: {speedup:.1f}x; plain run delivered {plain['ok']}/"
          f"{plain['messages']} (servers got {plain['server']['sms'] + plain['server']['smtp']})")
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
               (">= 5x faster than plain Apprise", speedup >= 5),
               ("nothing lost, nothing twice", ok)]
    for name, good in targets:
        print(f"  [{'ok' if good else 'MISSED'}] {name}")
    return 0 if all(g for _, g in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
