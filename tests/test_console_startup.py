"""Start-up: the home lists show before the engine has loaded (read by a forked reader
or by the lean read path), keys typed meanwhile are held and land where they were
meant, and the forked reader only ever reads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from functools import cached_property
from pathlib import Path

import pytest
from test_console import REPO, T0, build, make_runtime, run, settle
from test_console_fast import keys_of, type_at_30ms

from incident.clock import ManualClock
from incident.config import Settings
from incident.console import preload
from incident.console.model import read_home
from incident.console.state_file import UIState
from incident.runtime import Runtime

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="the forked reader is Linux only")


class GatedRuntime(Runtime):
    """A runtime whose engine takes as long as the test says: the console's start-up
    on a slow machine, held still."""

    gate: threading.Event

    @cached_property
    def engine(self):  # type: ignore[override]
        assert self.gate.wait(30), "the test never opened the gate"
        return Runtime.engine.func(self)  # type: ignore[attr-defined]


QUICK_FIRE = ["f", *keys_of("B3-1201")]  # the fire's quick key, the unit


async def incident_shown(pilot):
    """The state on the incident screen, once one shows it."""
    app = pilot.app
    for _ in range(200):
        await settle(pilot)
        if app.incident_screens() and app.screen.state is not None:
            return app.screen.state
    raise AssertionError(f"no incident screen: {app.screen}")


def seed_open_incident(db: Path) -> str:
    rt = make_runtime(db)
    try:
        return rt.engine.start("pipe_burst", "B1-302", actor="chen.jie").id
    finally:
        rt.close()


def test_home_shows_before_the_engine_and_keys_typed_meanwhile_start_the_fire(tmp_path):
    db = tmp_path / "incident.db"
    leak = seed_open_incident(db)
    rt = make_runtime(db)
    rt.__class__ = GatedRuntime
    rt.gate = threading.Event()
    # the console last showed the leak: keys typed on the home screen while it loads
    # win over reopening it
    UIState(tmp_path / "ui.json", rt.settings.db_url).update(incident=leak)

    async def go():
        app = build(rt, tmp_path, dispatcher=False)
        async with app.run_test(size=(100, 30)) as pilot:
            active = app.screen.query_one("#active")
            for _ in range(400):
                await pilot.pause(0.01)
                if active.row_count:
                    break
            # the open incident is listed while the engine is still loading
            assert not app.ready and active.row_count == 1
            assert str(active.get_row_at(0)[0]) == leak
            # the officer types the quick start as they do, 30 ms a key
            await type_at_30ms(pilot, [*QUICK_FIRE, "enter", "enter"])
            assert app.screen.id == "home" and not app.ready  # held, not lost, not acted on
            assert [r.id for r in rt.store.incidents(status="open")] == [leak]
            rt.gate.set()
            st = await incident_shown(pilot)
            assert (st.playbook.id, st.location) == ("fire", "B3-1201")
            assert app.screen.current_step == "send_fire_team"
            assert [s.incident_id for s in app.incident_screens()] == [st.id]

    try:
        run(go())
    finally:
        rt.gate.set()
        rt.close()


# The forked reader runs in a process of its own, as under `incident console`: this
# test process has other threads (a fork from it would be refused, rightly).
FORK = """
import json, os, sys
from datetime import datetime
from pathlib import Path
from incident.clock import ManualClock
from incident.config import Settings
from incident.console import preload
from incident.runtime import Runtime

url, repo, close_first = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "close"
rt = Runtime(Settings(database_url=url, user="chen.jie",
                      playbooks_dir=repo / "playbooks", contacts_dir=repo / "contacts"),
             ManualClock(datetime.fromisoformat(sys.argv[4])))
early = preload.start(rt)
out = {"forked": early is not None}
if early is not None:
    if close_first:
        early.close()
    got = early.take()
    try:
        os.waitpid(early.pid, os.WNOHANG)
        out["reaped"] = False
    except ChildProcessError:
        out["reaped"] = True
    out["parent_store_open"] = rt.loaded("store")
    if got is not None:
        active, closed, _at = got
        out["active"] = [[s.id, s.location_label, s.overdue, s.open_steps] for s in active]
        out["closed"] = [s.id for s in closed]
print(json.dumps(out))
"""


def fork_read(url: str, close_first: bool = False) -> dict:
    proc = subprocess.run([sys.executable, "-c", FORK, url, str(REPO),
                           "close" if close_first else "take", T0.isoformat()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # the child says nothing on the terminal the console is about to draw on
    assert proc.stderr == "" and len(proc.stdout.splitlines()) == 1, proc
    return json.loads(proc.stdout)


@pytest.fixture
def cache_home() -> Path:
    """The compiled cache's folder: in the test's own data folder (conftest), on."""
    from incident import compiled

    assert compiled.enabled()
    return compiled.cache_dir()


def reader(url: str) -> Runtime:
    """A runtime as a command has it: nothing loaded until used."""
    return Runtime(Settings(database_url=url, user="chen.jie",
                            playbooks_dir=REPO / "playbooks", contacts_dir=REPO / "contacts"),
                   ManualClock(T0))


def warm_cache(url: str, incident_id: str) -> None:
    """A read builds the compiled cache, as any command does."""
    rt = reader(url)
    try:
        rt.read_state(incident_id)
    finally:
        rt.close()


@linux_only
def test_the_forked_reader_answers_what_the_console_would_read(db_url, cache_home):
    rt = reader(db_url)
    try:
        leak = rt.engine.start("pipe_burst", "B1-302", actor="chen.jie").id
        done = rt.engine.start("water_cut", "B2", actor="chen.jie")
        rt.engine.resolve(done.id, actor="chen.jie", force=True, summary="mains repaired")
        want_active, want_closed, _at = read_home(rt)
    finally:
        rt.close()
    warm_cache(db_url, leak)
    got = fork_read(db_url)
    assert got["forked"] and got["reaped"]
    assert not got["parent_store_open"]  # the child's store, not the parent's
    assert got["active"] == [[s.id, s.location_label, s.overdue, s.open_steps]
                             for s in want_active]
    assert [row[0] for row in got["active"]] == [leak]
    assert got["closed"] == [s.id for s in want_closed] == [done.id]


@linux_only
def test_the_forked_reader_writes_nothing_where_reading_could_write(tmp_path, cache_home):
    # no database yet: no file is made (the console's own open makes and migrates it)
    db = tmp_path / "new" / "incident.db"
    got = fork_read(f"sqlite:///{db}")
    assert got["forked"] and got["reaped"] and "active" not in got
    assert not db.parent.exists()
    # no compiled cache yet: none is written by the child (a miss is the parent's)
    db = tmp_path / "incident.db"
    seed_open_incident(db)
    shutil.rmtree(cache_home, ignore_errors=True)
    before = db.stat().st_mtime_ns, db.stat().st_size
    got = fork_read(f"sqlite:///{db}")
    assert got["forked"] and "active" not in got
    assert not cache_home.exists()
    assert (db.stat().st_mtime_ns, db.stat().st_size) == before


@linux_only
def test_a_console_that_quits_at_once_leaves_no_reader_behind(tmp_path, cache_home):
    db = tmp_path / "incident.db"
    warm_cache(f"sqlite:///{db}", seed_open_incident(db))
    got = fork_read(f"sqlite:///{db}", close_first=True)
    assert got["forked"] and got["reaped"] and "active" not in got


def test_no_fork_while_another_thread_runs(tmp_path):
    """A fork copies only the calling thread: with another one running (a lock it holds
    would stay held in the child) the console reads the lists itself."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        rt = make_runtime(tmp_path / "incident.db")
        assert preload.start(rt) is None
        rt.close()
    finally:
        stop.set()
        other.join()


TERMINAL = """
import json, termios
from incident.console.terminal import EarlyKeys

def flags():
    a = termios.tcgetattr(0)
    return {"echo": bool(a[3] & termios.ECHO), "icanon": bool(a[3] & termios.ICANON),
            "icrnl": bool(a[0] & termios.ICRNL), "isig": bool(a[3] & termios.ISIG)}

seen = {"shell": flags()}
with EarlyKeys() as keys:
    seen["starting"] = flags()
    with keys.cooked():
        seen["asking who"] = flags()
    seen["after asking"] = flags()
seen["after"] = flags()
print(json.dumps(seen))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX terminal")
def test_keys_typed_while_the_console_starts_are_not_echoed_and_enter_stays_enter():
    """On a real pseudo-terminal: from the moment `incident console` runs, no echo on
    the shell, no line editing and Enter as CR (as the console reads keys); the shell's
    own mode for the who-is-at-the-keyboard question and again after the console."""
    import pty

    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-c", TERMINAL], stdin=follower,
                              capture_output=True, text=True, timeout=60)
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    cooked = {"echo": True, "icanon": True, "icrnl": True, "isig": True}
    assert seen["shell"] == cooked
    assert seen["starting"] == seen["after asking"] == {
        "echo": False, "icanon": False, "icrnl": False, "isig": True}  # ctrl+c still works
    assert seen["asking who"] == seen["after"] == cooked


def test_a_line_feed_is_enter(tmp_path):
    """Enter typed before the terminal left its cooked mode comes as LF (ctrl+j)."""
    rt = make_runtime(tmp_path / "incident.db")

    async def go():
        app = build(rt, tmp_path, dispatcher=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await type_at_30ms(pilot, [*QUICK_FIRE, "ctrl+j", "ctrl+j"])
            st = await incident_shown(pilot)
            assert (st.playbook.id, st.location) == ("fire", "B3-1201")

    try:
        run(go())
    finally:
        rt.close()
