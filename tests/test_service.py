"""`incident service` and its rules: reads never write, timers fire with nobody watching
(once, across processes), drills are sealed off from live incidents, and one damaged
incident never stops the others. Real SQLite/PostgreSQL, real subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from incident.cli import main
from incident.clock import ManualClock
from incident.config import load_settings
from incident.engine import events as ev
from incident.errors import Refused
from incident.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent
PLAYBOOKS = str(REPO / "playbooks")
CONTACTS = str(REPO / "contacts")
T0 = datetime.fromisoformat("2026-03-09T14:00:00+08:00")


def fixed(t: datetime) -> str:
    return f"fixed:{t.isoformat()}"


def cli(db_url: str, when: datetime, *args: str):
    env = {"INCIDENT_CLOCK": fixed(when), "INCIDENT_USER": "chen.jie"}
    return CliRunner().invoke(main, ["--db", db_url, "--playbooks", PLAYBOOKS,
                                     "--contacts", CONTACTS, *args], env=env,
                              catch_exceptions=False)


def runtime(db_url: str, clock) -> Runtime:
    return Runtime(load_settings(database_url=db_url, playbooks_dir=REPO / "playbooks",
                                 contacts_dir=REPO / "contacts", user="chen.jie"), clock=clock)


def count(db_url: str, iid: str) -> int:
    rt = runtime(db_url, ManualClock(T0))
    try:
        return len(rt.store.events(iid))
    finally:
        rt.close()


# ---- reads never write -----------------------------------------------------------------

READS = [("list",), ("list", "--all"), ("status", "{id}"), ("status", "{id}", "--format", "json"),
         ("log", "{id}"), ("report", "{id}"), ("report", "{id}", "--format", "json"),
         ("brief", "{id}"), ("deliveries", "{id}"), ("escalation", "pages", "{id}"),
         ("notify", "preview", "{id}", "notify_fire_floors"), ("verify", "{id}")]


def test_no_read_command_appends_an_event_forty_minutes_into_a_fire(db_url):
    started = cli(db_url, T0, "start", "fire", "--at", "B3-1201")
    assert started.exit_code == 0, started.output
    iid = started.output.strip().splitlines()[-1]
    before = count(db_url, iid)
    later = T0 + timedelta(minutes=40)
    for args in READS:
        res = cli(db_url, later, *[a.format(id=iid) for a in args])
        assert res.exit_code == 0, (args, res.output)
        assert count(db_url, iid) == before, f"`incident {' '.join(args)}` wrote to the log"
    # what is due is shown as due, not fired
    status = cli(db_url, later, "status", iid)
    assert "(due, not yet fired)" in status.output
    pages = cli(db_url, later, "escalation", "pages", iid)
    assert "  due " in pages.output
    # and the writer does fire them
    ticked = cli(db_url, later, "tick")
    assert ticked.exit_code == 0 and f"{iid}: escalation_due" in ticked.output
    assert count(db_url, iid) > before


# ---- the service as a real process -----------------------------------------------------

class _Proc:
    """A real `incident service` whose output is read as it comes (a full pipe would
    stall it on its next log line)."""

    def __init__(self, db_url: str, when: datetime, *extra: str):
        env = {**os.environ, "INCIDENT_CLOCK": fixed(when), "INCIDENT_USER": "chen.jie",
               "PYTHONUNBUFFERED": "1"}
        self.p = subprocess.Popen(
            [str(Path(sys.executable).parent / "incident"), "--db", db_url,
             "--playbooks", PLAYBOOKS, "--contacts", CONTACTS, "service", *extra],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.up = threading.Event()  # "…; SIGTERM stops": started, before its first sweep
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.p.stdout:
            self.lines.append(line)
            if "SIGTERM stops" in line:
                self.up.set()
            if "watching" in line:
                self.ready.set()
        self.ready.set()
        self.up.set()

    @property
    def pid(self) -> int:
        return self.p.pid

    def kill(self) -> None:
        self.p.kill()
        self.p.wait(timeout=10)


def _service(db_url: str, when: datetime, *extra: str) -> _Proc:
    return _Proc(db_url, when, *extra)


def _wait_ready(proc: _Proc, timeout: float = 20.0) -> None:
    """Until its first sweep is done ("watching N open incidents")."""
    assert proc.ready.wait(timeout), "service did not start"
    if proc.p.poll() is not None:
        raise AssertionError(f"service exited {proc.p.returncode}: {''.join(proc.lines)}")


def _stop(proc: _Proc) -> tuple[int, str]:
    proc.p.send_signal(signal.SIGTERM)
    try:
        proc.p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.p.kill()
        proc.p.wait()
    proc.reader.join(10)
    return proc.p.returncode, "".join(proc.lines)


def _until(cond, seconds: float, step: float = 0.05) -> bool:
    """Poll `cond` until it holds or `seconds` pass; its last answer."""
    end = time.monotonic() + seconds
    while not cond() and time.monotonic() < end:
        time.sleep(step)
    return bool(cond())


def _paged(rt: Runtime, iid: str, node: str) -> bool:
    return any(p.get("node") == node for p in rt.engine.state(iid).pages)


def _paged_people(rt: Runtime, iid: str, node: str) -> set[str]:
    return {who for p in rt.engine.state(iid).pages if p.get("node") == node
            for who in p.get("to") or []}


@pytest.mark.slow
def test_the_service_pages_the_next_level_with_no_console(db_url):
    from incident.store import liveness

    iid = cli(db_url, T0, "start", "fire", "--at", "B3-1201").output.strip().splitlines()[-1]
    rt = runtime(db_url, ManualClock(T0 + timedelta(minutes=6)))
    # the control room's ladder: the security supervisor after the duty officer's 5 min
    assert not _paged(rt, iid, "security_supervisor")
    proc = _service(db_url, T0 + timedelta(minutes=6))  # past the duty officer's 5 min
    try:
        assert proc.up.wait(20), "service did not start"
        assert _until(lambda: _paged(rt, iid, "security_supervisor"), 2.0), \
            "not paged within 2 s of the service starting"
        # and the page is delivered (to the demo's local sink)
        paged = _paged_people(rt, iid, "security_supervisor")
        assert paged
        assert _until(lambda: any(r.person_id in paged and r.state == "sent"
                                  for r in rt.store.outbox_rows(iid)), 10)
        assert liveness.services(rt.store), "the service records a heartbeat"
        from incident.service import service_seen

        assert service_seen(rt.store)
    finally:
        code, out = _stop(proc)
    assert code == 0, out
    assert "escalation_due escalate:P1:duty_officer>security_supervisor" in out
    assert not liveness.services(rt.store)  # a clean stop removes its heartbeat
    fired = [e.payload["timer"] for e in rt.store.events(iid, kinds=[ev.TIMER_FIRED])]
    assert len(fired) == len(set(fired))
    rt.close()


@pytest.mark.slow
def test_a_killed_service_loses_nothing(db_url):
    """SIGKILL: no clean-up runs; its claims die with its session and the next service
    fires everything that fell due meanwhile (late, and saying so)."""
    iid = cli(db_url, T0, "start", "fire", "--at", "B3-1201").output.strip().splitlines()[-1]
    first = _service(db_url, T0 + timedelta(seconds=30), "--no-deliver")
    _wait_ready(first)
    first.kill()
    second = _service(db_url, T0 + timedelta(minutes=40), "--no-deliver")
    try:
        _wait_ready(second)
        rt = runtime(db_url, ManualClock(T0 + timedelta(minutes=40)))
        assert _until(lambda: not rt.engine.due_now(rt.engine.state(iid)), 5.0)
        assert _paged(rt, iid, "cs_supervisor")
        late = [e.payload for e in rt.store.events(iid, kinds=[ev.TIMER_FIRED])]
        assert late and all(p["late"] for p in late)
        rt.close()
    finally:
        code, out = _stop(second)
    assert code == 0, out


@pytest.mark.slow
def test_the_service_wakes_when_another_process_appends(db_url):
    """A wait that starts after the service went to sleep still fires on time: the
    append wakes it (SQLite poll / PostgreSQL NOTIFY) and it sleeps to the new due."""
    now = T0 + timedelta(hours=2)
    proc = _service(db_url, now, "--no-deliver")
    try:
        _wait_ready(proc)
        # started "5 min ago" by the clock of the other process: its wait is due now
        iid = cli(db_url, now - timedelta(minutes=6), "start", "fire", "--at", "B3-1201"
                  ).output.strip().splitlines()[-1]
        rt = runtime(db_url, ManualClock(now))
        assert _until(lambda: _paged(rt, iid, "security_supervisor"), 5.0)
        rt.close()
    finally:
        code, out = _stop(proc)
    assert code == 0, out


@pytest.mark.slow
def test_two_services_on_one_postgresql_fire_each_timer_once(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("several services share a PostgreSQL database")
    rt = runtime(db_url, ManualClock(T0))
    ids = [rt.engine.start("fire", "B3-1201", actor="chen.jie").id for _ in range(200)]
    later = T0 + timedelta(minutes=40)
    rt.clock = ManualClock(later)
    rt.close()
    procs = [_service(db_url, later, "--no-deliver") for _ in range(2)]
    try:
        for p in procs:
            _wait_ready(p)
        check = runtime(db_url, ManualClock(later))
        _until(lambda: not any(check.engine.due_now(check.engine.state(i)) for i in ids),
               25, step=0.2)
        time.sleep(1.0)  # anything still in flight lands now
    finally:
        results = [_stop(p) for p in procs]
    for code, out in results:
        assert code == 0, out
    assert all("timer(s) fired" in out for _c, out in results)
    per_service = [int(out.rsplit("sweep(s), ", 1)[1].split(" ")[0]) for _c, out in results]
    total = 0
    for iid in ids:
        st = check.engine.state(iid)
        assert not check.engine.due_now(st), f"{iid} still has due timers"
        fired = Counter(e.payload["timer"]
                        for e in check.store.events(iid, kinds=[ev.TIMER_FIRED]))
        assert fired and max(fired.values()) == 1, f"{iid}: {fired.most_common(2)}"
        pages = [p["id"] for p in st.pages]
        assert len(pages) == len(set(pages))
        total += sum(fired.values())
    print("fired per service:", per_service)
    assert sum(per_service) == total  # every firing was one service's, none was repeated
    check.close()


# ---- drills are sealed -----------------------------------------------------------------

def _live_log(db_url: str, iid: str) -> list[tuple[int, str, dict]]:
    rt = runtime(db_url, ManualClock(T0))
    try:
        return [(e.seq, e.kind, e.payload) for e in rt.store.events(iid)]
    finally:
        rt.close()


def test_a_drill_at_speed_never_touches_an_open_live_incident(db_url):
    from incident.drill import load_scenario, start_drill

    live_clock = ManualClock(T0)
    live = runtime(db_url, live_clock)
    fire = live.engine.start("fire", "B3-1201", actor="chen.jie").id
    before = _live_log(db_url, fire)

    drill_clock = ManualClock(T0)
    drill = runtime(db_url, drill_clock)
    loaded = load_scenario(REPO / "playbooks" / "drills" / "b3_fire_evacuation.yaml",
                           drill.playbooks, drill.directory, drill.channel_names)
    run = start_drill(drill.engine, loaded, speed=120).id
    for _ in range(8):  # the drill console's heartbeat, with drill time racing ahead
        drill_clock.advance("5m")
        drill.engine.tick()
    assert drill.store.events(run, kinds=[ev.TIMER_FIRED]), "the drill's own timers fire"
    with pytest.raises(Refused, match="drill runtime"):
        drill.engine.note(fire, "from the drill console", actor="chen.jie")
    with pytest.raises(Refused, match="drill runtime"):
        drill.engine.tick(fire)
    with pytest.raises(Refused, match="starts only drills"):
        drill.engine.start("fire", "B3-1201", actor="chen.jie")
    assert _live_log(db_url, fire) == before

    # and a live sweep leaves the scaled drill to its own clock
    live_clock.advance("40m")
    swept = live.engine.sweep()
    assert run not in {iid for iid, _p in swept.fired}
    assert {iid for iid, _p in swept.fired} == {fire}
    drill.close()
    live.close()


@pytest.mark.slow
def test_an_auto_drill_beside_a_live_fire_writes_only_its_own_log(sqlite_url):
    live = runtime(sqlite_url, ManualClock(datetime.now().astimezone() - timedelta(minutes=40)))
    fire = live.engine.start("fire", "B3-1201", actor="chen.jie").id
    live.close()
    before = _live_log(sqlite_url, fire)
    res = CliRunner().invoke(main, ["--db", sqlite_url, "--playbooks", PLAYBOOKS,
                                    "--contacts", CONTACTS, "drill", "run",
                                    "b3_fire_evacuation", "--auto"],
                             env={"INCIDENT_USER": "chen.jie"}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert _live_log(sqlite_url, fire) == before


# ---- a damaged incident is named and skipped ----------------------------------------------

@pytest.mark.parametrize("damage", ["missing_last_event", "edited_payload"])
def test_a_damaged_incident_is_skipped_and_the_others_still_fire(db_url, damage):
    rt = runtime(db_url, ManualClock(T0))
    bad = rt.engine.start("fire", "B3-1201", actor="chen.jie").id
    rt.engine.note(bad, "first note", actor="chen.jie")
    good = rt.engine.start("fire", "B3-1201", actor="chen.jie").id
    with rt.store.engine.begin() as conn:
        last = conn.execute(sa.text("SELECT max(seq) FROM events WHERE incident_id = :i"),
                            {"i": bad}).scalar()
        if damage == "missing_last_event":
            conn.execute(sa.text("DELETE FROM events WHERE incident_id = :i AND seq = :s"),
                         {"i": bad, "s": last})
        else:
            conn.execute(sa.text("UPDATE events SET actor = 'mallory' "
                                 "WHERE incident_id = :i AND seq = 1"), {"i": bad})
    rt.close()
    later = T0 + timedelta(minutes=40)
    res = CliRunner().invoke(main, ["--db", db_url, "--playbooks", PLAYBOOKS,
                                    "--contacts", CONTACTS, "tick"],
                             env={"INCIDENT_CLOCK": fixed(later)}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert f"{good}: escalation_due" in res.output
    assert f"{bad}:" in res.output and "skipped, damaged" in res.output
    assert "chain broken" in res.output
    assert f"{bad}: escalation_due" not in res.output
    # the service --once says the same and exits 0
    once = cli(db_url, later, "service", "--once", "--no-deliver")
    assert once.exit_code == 0, once.output
    assert f"{bad}: skipped, damaged" in once.output
    # a Chinese operator reads why, in Chinese, from `tick` and from the service
    zh_tick = cli(db_url, later, "--lang", "zh", "tick")
    assert f"{bad}" in zh_tick.output and "哈希链在第" in zh_tick.output, zh_tick.output
    assert "chain broken" not in zh_tick.output
    zh_once = cli(db_url, later, "--lang", "zh", "service", "--once", "--no-deliver")
    assert f"{bad}：已跳过，日志受损：哈希链在第" in zh_once.output, zh_once.output


# ---- the console says when no service is running ------------------------------------------

def test_the_console_header_warns_when_no_service_has_beaten(tmp_path):
    import asyncio
    import os as _os
    import socket

    from incident.clock import SystemClock
    from incident.console import create_app
    from incident.store import liveness

    rt = runtime(f"sqlite:///{tmp_path / 'c.db'}", ManualClock(T0))
    app = create_app(rt, heartbeat=0, ui_state_path=tmp_path / "ui.json", keymap={})

    async def settle(pilot) -> None:
        for _ in range(8):
            await app.workers.wait_for_complete()
            await pilot.pause()

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            app.poke()
            await settle(pilot)
            assert app.sub_title.startswith("No incident service running: escalation only "
                                            "while this console is open")
            app.lang = "zh"
            await settle(pilot)
            assert app.sub_title.startswith("没有运行事件服务")
            now = SystemClock().now()
            liveness.beat(rt.store, "host:1", socket.gethostname(), _os.getpid(), now, now)
            app._service_checked = None  # the next beat looks again (it does every 10 s)
            app.poke()
            await settle(pilot)
            assert "没有运行事件服务" not in app.sub_title
            assert "No incident service" not in app.sub_title

    asyncio.run(go())
    rt.close()
