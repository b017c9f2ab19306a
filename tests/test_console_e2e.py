"""End to end: the real `incident console` in tmux, and `incident serve` over loopback.

The tmux test types what an officer would: start a fire, complete a step, send a
notice, acknowledge a page, resolve. Everything runs against a temporary SQLite
file and temporary XDG dirs; the tmux session is killed in `finally`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENT_")}
    env.update({
        "INCIDENT_DATABASE_URL": f"sqlite:///{tmp_path / 'incident.db'}",
        "INCIDENT_USER": "chen.jie",
        "INCIDENT_LANG": "en",
        # a weekday morning: chen.jie's day shift holds duty_officer, so pages reach him
        "INCIDENT_CLOCK": "fixed:2026-12-01T10:00:00+08:00",
        "INCIDENT_PLAYBOOKS_DIR": str(REPO / "playbooks"),
        "INCIDENT_CONTACTS_DIR": str(REPO / "contacts"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
    })
    return env


def _incident_command() -> list[str]:
    script = Path(sys.executable).parent / "incident"
    return [str(script)] if script.exists() else [sys.executable, "-m", "incident.console"]


class Tmux:
    """One tmux server per test, its socket in the test's folder: on a shared server, a
    session made while another test killed the server's last session could vanish with
    that server."""

    def __init__(self, name: str, socket: Path):
        self.name = name
        self.base = ["tmux", "-S", str(socket)]

    @classmethod
    def start(cls, tmp_path: Path, prefix: str, env: dict[str, str], width: int,
              height: int) -> Tmux:
        """`incident console` in a new session of a new server, with `env`."""
        tmux = cls(f"{prefix}-{uuid.uuid4().hex[:8]}", tmp_path / "tmux.sock")
        envs = [a for k, v in env.items() if k.startswith(("INCIDENT_", "XDG_"))
                for a in ("-e", f"{k}={v}")]
        subprocess.run([*tmux.base, "new-session", "-d", "-s", tmux.name, "-x", str(width),
                        "-y", str(height), *envs,
                        " ".join([*_incident_command(), "console"])],
                       check=True, env=env, timeout=10)
        return tmux

    def quit(self) -> None:
        """ctrl+q, and a moment for the console to close its database."""
        self.keys("C-q")
        time.sleep(1.0)

    def stop(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, timeout=10)

    def run(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], check=True, capture_output=True,
                              text=True, timeout=10).stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.run("send-keys", "-t", self.name, *(["-l"] if literal else []), *keys)
        time.sleep(0.15)

    def type(self, text: str) -> None:
        self.keys(text, literal=True)

    def paced(self, keys: list[str], delay: float) -> None:
        """One key per send-keys, `delay` seconds apart, as a person or a scanner types;
        names like Enter are keys, anything else is typed literally."""
        for key in keys:
            t0 = time.monotonic()
            literal = key not in ("Enter", "Escape", "Tab", "Up", "Down", "BSpace")
            self.run("send-keys", "-t", self.name, *(["-l"] if literal else []), key)
            time.sleep(max(0.0, delay - (time.monotonic() - t0)))

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name)

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        end = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < end:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"'{text}' did not appear within {timeout}s; screen:\n{screen}")


def test_officer_runs_a_fire_in_the_real_console_under_tmux(tmp_path):
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install tmux)")
    env = _env(tmp_path)
    tmux = Tmux.start(tmp_path, "incident-e2e", env, 110, 32)
    try:
        tmux.wait_for("playbooks ·", timeout=30)  # home, core loaded
        tmux.keys("n")
        tmux.wait_for("Playbook")
        tmux.type("fire")
        tmux.wait_for("Fire  火灾")
        tmux.keys("Enter")
        tmux.wait_for("Where?")  # the playbook is taken; the same line takes the place
        tmux.type("B3-1201")
        tmux.wait_for("unit 1201")
        tmux.keys("Enter")
        tmux.keys("Enter")
        # the toast says "Started INC-…" before the screen is drawn: wait for the steps
        screen = tmux.wait_for("Confirm the alarm", timeout=30)
        assert "INC-" in screen and "Loading incident" not in screen
        # it opens on the most urgent step (due in a minute); the alarm is next under Due now
        _wait_card(tmux, "Send the site fire team")
        tmux.keys("Down")
        _wait_card(tmux, "Confirm the alarm")
        # complete a step: a real fire
        tmux.keys("1")
        # a real fire proposes level 2, asked once (the dialog may cover the step list)
        tmux.wait_for("Raise to level 2")
        tmux.keys("Enter")
        tmux.wait_for("✔ Confirm the alarm")
        tmux.wait_for("S2 Level 2")
        # the next step of the track is highlighted: call 119, done
        end = time.monotonic() + 10
        while "Call 119" not in _card_title(tmux.screen()) and time.monotonic() < end:
            time.sleep(0.1)
        assert "Call 119" in _card_title(tmux.screen())
        tmux.keys("d")
        tmux.wait_for("✔ Call 119")
        # send a notice: jump to the fire-floor warning and preview it
        stuck = 0
        for _ in range(60):
            title = _card_title(tmux.screen())
            if "SMS the fire floor" in title:
                break
            tmux.keys("Down")
            end = time.monotonic() + 2
            while time.monotonic() < end and _card_title(tmux.screen()) == title:
                time.sleep(0.1)
            stuck = stuck + 1 if _card_title(tmux.screen()) == title else 0
            if stuck >= 2:  # a value field took the keys: Esc hands them back to the list
                tmux.keys("Escape")
                stuck = 0
        assert "SMS the fire floor" in _card_title(tmux.screen()), tmux.screen()
        tmux.keys("Enter")
        tmux.wait_for("recipients", timeout=20)
        tmux.keys("C-s")
        tmux.wait_for("Messages: delivered", timeout=30)  # the card counts what reached people
        # acknowledge the page on the escalation panel
        tmux.keys("]")
        tmux.keys("]")
        tmux.wait_for("NOT ACKNOWLEDGED")
        tmux.keys("a")
        tmux.wait_for("acked by", timeout=20)
        # resolve (steps are still open: force, with a summary)
        tmux.keys("r")
        tmux.wait_for("Closing summary")
        time.sleep(0.3)
        tmux.type("small kitchen fire, out on arrival")
        tmux.wait_for("out on arrival")
        tmux.keys("Tab")
        tmux.keys("Space")
        time.sleep(0.3)
        tmux.keys("C-s")
        tmux.wait_for("RESOLVED", timeout=20)
        tmux.quit()
    finally:
        tmux.stop()

    # the event log says the same
    rt = _runtime(env)
    try:
        rows = rt.store.incidents()
        assert len(rows) == 1
        st = rt.engine.state(rows[0].id)
        assert st.status == "resolved"
        assert st.summary == "small kitchen fire, out on arrival"
        assert st.steps["confirm_alarm"].option == "real_fire"
        assert st.steps["call_119"].status == "done"
        assert "notify_fire_floors" in st.notifications
        # "a" acknowledges the officer's own pages; others' pages stay theirs to answer
        mine = [p for p in st.pages if "chen.jie" in (p.get("to") or [])]
        assert mine and all(p["acked_by"] == "chen.jie" for p in mine)
        assert all(p["acked_at"] is None for p in st.pages if p not in mine)
    finally:
        rt.close()


def _wait_card(tmux: Tmux, title: str, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while title not in _card_title(tmux.screen()):
        if time.monotonic() > end:
            raise AssertionError(f"card is not '{title}':\n{tmux.screen()}")
        time.sleep(0.1)


README_START = ["n", *"fire", "Enter", *"B3-1201", "Enter", "Enter"]


def _open_console(tmp_path: Path, width: int = 80, height: int = 24) -> tuple[Tmux, dict]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install tmux)")
    env = _env(tmp_path)
    return Tmux.start(tmp_path, "incident-e2e", env, width, height), env


def _runtime(env: dict) -> Any:
    from incident.clock import SystemClock
    from incident.config import Settings
    from incident.runtime import Runtime

    return Runtime(Settings(database_url=env["INCIDENT_DATABASE_URL"],
                            playbooks_dir=REPO / "playbooks", contacts_dir=REPO / "contacts",
                            # the console's chain key (its data dir, not this process's)
                            chain_key_file=Path(env["XDG_DATA_HOME"]) / "incident" / "chain.key"),
                   SystemClock())


@pytest.mark.parametrize("delay", [0.03, 0.5], ids=["30ms", "500ms"])
def test_readme_start_keys_at_any_typing_speed_then_a_second_start_offers_to_join(
        tmp_path, delay):
    """`n fire ⏎ B3-1201 ⏎ ⏎` at 30 ms and at 0.5 s a key starts the right fire at 80x24;
    the same keys for another unit of B3 offer to join the open fire (Enter joins)."""
    tmux, env = _open_console(tmp_path)
    try:
        tmux.wait_for("playbooks ·", timeout=30)
        tmux.paced(README_START, delay)
        tmux.wait_for("Confirm the alarm", timeout=30)
        _wait_card(tmux, "Send the site fire team")  # the most urgent step, at once
        screen = tmux.wait_for("u Next due")  # the fire's actions fit the footer at 80 cols
        assert "No playbook matches" not in screen
        assert all(k in screen for k in ("d Done", "w Note", "r Resolve", "? Help")), screen
        # a second fire in the same building: join the open one (the default)
        tmux.keys("Escape")
        tmux.wait_for("Active incidents")
        tmux.paced(["n", *"fire", "Enter", *"B3-1205", "Enter", "Enter"], delay)
        tmux.wait_for("Already open in this building", timeout=20)
        assert "Chen Jie" in tmux.screen()  # who owns the open one
        tmux.keys("Enter")
        tmux.wait_for("Confirm the alarm", timeout=20)
        tmux.quit()
    finally:
        tmux.stop()
    rt = _runtime(env)
    try:
        rows = rt.store.incidents()
        assert [(r.playbook_id, r.location) for r in rows] == [("fire", "B3-1201")]
    finally:
        rt.close()


def test_quick_start_typed_the_moment_the_console_launches(tmp_path):
    """`f B3-1201 ⏎ ⏎` typed at 30 ms from the instant `incident console` is launched —
    before Textual has drawn, while the home lists are read by the forked reader and the
    engine loads — starts the fire: nothing typed during start-up is lost or misread."""
    env = _env(tmp_path)
    subprocess.run([*_incident_command(), "start", "pipe_burst", "--at", "B1-302"], env=env,
                   check=True, capture_output=True, timeout=60)
    tmux = Tmux.start(tmp_path, "incident-launch", env, 100, 30)
    try:
        tmux.paced(["f", *"B3-1201", "Enter", "Enter"], 0.03)
        _wait_card(tmux, "Send the site fire team")
        tmux.quit()
    finally:
        tmux.stop()
    rt = _runtime(env)
    try:
        rows = rt.store.incidents()
        assert sorted((r.playbook_id, r.location) for r in rows) == [
            ("fire", "B3-1201"), ("pipe_burst", "B1-302")]
    finally:
        rt.close()


def test_next_due_key_lands_on_the_overdue_step(tmp_path):
    """An incident started ten minutes ago (by the CLI, on a replayed clock) has overdue
    steps: the console opens on the most overdue one, and `u` comes back to it."""
    env = _env(tmp_path)
    past = (datetime.now(UTC) - timedelta(minutes=10)).isoformat(timespec="seconds")
    out = subprocess.run([*_incident_command(), "start", "fire", "--at", "B3-1201"],
                         env={**env, "INCIDENT_CLOCK": f"fixed:{past}"}, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    tmux, env = _open_console(tmp_path)
    try:
        tmux.wait_for("playbooks ·", timeout=30)
        tmux.wait_for("INC-")
        tmux.keys("Enter")  # open the incident from the home list
        _wait_card(tmux, "Send the site fire team", timeout=20)  # overdue by 9 minutes
        tmux.keys("Down")
        tmux.keys("Down")
        end = time.monotonic() + 5
        while "Send the site fire team" in _card_title(tmux.screen()) and \
                time.monotonic() < end:
            time.sleep(0.1)
        assert "Send the site fire team" not in _card_title(tmux.screen())
        tmux.keys("u")
        _wait_card(tmux, "Send the site fire team")
        tmux.quit()
    finally:
        tmux.stop()


def _card_title(screen: str) -> str:
    """The first line inside the step card (the right-hand box)."""
    for line in screen.split("\n"):
        if "╭" in line:
            continue
        if "│" in line:
            parts = line.split("│")
            if len(parts) >= 3 and parts[-2].strip():
                return parts[-2].strip()
    return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_publishes_the_console_over_loopback(tmp_path):
    """Staff only: a stranger gets the sign-in page; the one-time link printed on start
    signs in the person who started it, and the console page is theirs."""
    import http.cookiejar
    import re

    env = _env(tmp_path)
    port = _free_port()
    proc = subprocess.Popen([*_incident_command(), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        link = ""
        assert proc.stdout is not None
        for _ in range(20):  # the banner comes first, then the link
            line = proc.stdout.readline().decode(errors="replace")
            found = re.search(r"(http://127\.0\.0\.1:\d+/login\?token=\S+)", line)
            if found:
                link = found.group(1)
                break
        assert link, "no one-time link was printed"
        body = ""
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if proc.poll() is not None:
                raise AssertionError("incident serve exited early")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    body = resp.read().decode("utf-8", errors="replace")
                    break
            except OSError:
                time.sleep(0.2)
        assert "Staff sign-in" in body and "ws://" not in body  # not signed in: no console
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        with opener.open(link, timeout=5) as resp:
            page = resp.read().decode("utf-8", errors="replace")
        assert "incident console" in page and f"ws://127.0.0.1:{port}/ws" in page
        assert "chen.jie" in page  # the console runs as the person who signed in
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        if proc.stdout:
            proc.stdout.close()
    assert proc.returncode is not None


def test_readme_console_with_nobody_declared_asks_who_is_at_the_keyboard(tmp_path):
    """README's first command sets no INCIDENT_USER: on the demo's shared control-room
    PC the console asks who is at the keyboard (the officer on shift by default) instead
    of refusing, and then shows who acts."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install tmux)")
    env = _env(tmp_path)
    del env["INCIDENT_USER"]
    tmux = Tmux.start(tmp_path, "incident-who", env, 80, 24)
    try:
        tmux.wait_for("Who is at the keyboard?", timeout=30)
        tmux.paced(["nobody.here", "Enter"], 0.03)
        tmux.wait_for("not a member of staff")  # refused, asked again
        tmux.paced(["chen.jie", "Enter"], 0.03)
        tmux.wait_for("you are chen.jie", timeout=30)
        tmux.keys("C-q")
    finally:
        tmux.stop()
