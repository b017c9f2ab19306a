"""Console benchmark: keystrokes and seconds from home to the first step of a fire
(bench_console_start.py), start-up to the first frame and to the home filled, and
key-to-screen latency while a 2,000-recipient send runs in the background. Prints
plain tables of medians and the machine's load before and after.

    .venv/bin/python bench/bench_console.py [--runs 5] [--keys 120]

Start-up is measured in fresh processes (imports included, byte-code compiled as
pip leaves it) from before `import incident.console` to the first frame the app
renders, to the home lists filled (3 open and 8 resolved incidents, read by the lean
path from the compiled cache) and to the engine loaded (when keys typed meanwhile are
replayed). Targets (issue 18): first frame < 0.4 s, home filled < 0.8 s. Latency is measured
in a headless app (120x36): a key is sent through the driver exactly as a
terminal would, and the clock stops at the first frame rendered after the key
changed what is on screen (the highlighted step and its card). The send is the
power-outage "short notice to all owners" step (~2,000 recipients) delivered by
the console's own dispatcher to the local sink. Target: median key latency < 50 ms
during the send.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from benchenv import child_env  # noqa: E402


def _settings(tmp: Path):
    from incident.config import Settings

    return Settings(database_url=f"sqlite:///{tmp / 'incident.db'}", user="chen.jie",
                    playbooks_dir=REPO / "playbooks", contacts_dir=REPO / "contacts")


# ---- start-up ---------------------------------------------------------------------------

OPEN = [("fire", "B3-1201"), ("pipe_burst", "B1-302"), ("elevator_entrapment", "B2")]
CLOSED = 8


def seed(rt) -> None:
    """The untimed first run: an estate mid-evening, 3 incidents open and 8 resolved."""
    for pb, at in OPEN:
        rt.engine.start(pb, at, actor="chen.jie")
    for i in range(CLOSED):
        st = rt.engine.start("water_cut", f"B{1 + i % 5}", actor="chen.jie")
        rt.engine.resolve(st.id, actor="chen.jie", force=True, summary="bench")


def time_first_frame(app, t0: float) -> dict[str, float]:
    """Marks whose "frame" is set, in seconds since `t0`, when `app` renders its first
    frame."""
    marks: dict[str, float] = {}
    original = app._display

    def display(screen, renderable):
        if renderable is not None and "frame" not in marks:
            marks["frame"] = time.perf_counter() - t0
        return original(screen, renderable)

    app._display = display
    return marks


def first_frame_child(folder: str, first: bool, fork: bool) -> None:
    """Run in a fresh process: print seconds to the first frame, to the home lists
    filled, and to ready for every key (engine loaded).

    The database in `folder` is the one an officer's console opens every night: made
    and seeded by the untimed first run, then only opened. As `incident console` does,
    the forked reader of the home lists (incident/console/preload.py) starts before
    the console is imported, unless `fork` is off (one process, as on macOS)."""
    t0 = time.perf_counter()
    from incident.runtime import Runtime

    tmp = Path(folder)
    rt = Runtime(_settings(tmp))
    if first:
        seed(rt)
        rt.close()
        rt = Runtime(_settings(tmp))
    from incident.console import create_app, preload

    early = preload.start(rt) if fork else None
    app = create_app(rt, heartbeat=0, ui_state_path=tmp / "ui.json", keymap={},
                     dispatcher=False, restore=False, preload=early)
    marks = time_first_frame(app, t0)
    shown = type(app).on_home_data  # Textual finds handlers on the class

    def on_home_data(self, msg) -> None:
        shown(self, msg)
        if "home" not in marks:
            marks["home"] = time.perf_counter() - t0
            marks["rows"] = len(msg.active) + len(msg.closed)

    type(app).on_home_data = on_home_data  # type: ignore[method-assign]

    async def run() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            while not app.ready or "home" not in marks:
                await asyncio.sleep(0.005)
            marks["ready"] = time.perf_counter() - t0
            await pilot.pause()

    asyncio.run(run())
    rt.close()
    if marks["rows"] != len(OPEN) + CLOSED:
        raise SystemExit(f"the home listed {marks['rows']} incidents, not {len(OPEN) + CLOSED}")
    print(json.dumps(marks))


def bare_frame_child() -> None:
    """Run in a fresh process: seconds to the first frame of a bare Textual app with the
    home screen's widgets (header, two tables, footer) — the floor ours is compared to."""
    t0 = time.perf_counter()
    from textual.app import App
    from textual.widgets import DataTable, Footer, Header, Label, Static

    class Bare(App):
        def compose(self):
            yield Header()
            yield Static("status")
            yield Label("active")
            yield DataTable()
            yield Static("")
            yield Label("closed")
            yield DataTable()
            yield Footer()

    app = Bare()
    marks = time_first_frame(app, t0)

    async def run() -> None:
        async with app.run_test(size=(100, 30)):
            while "frame" not in marks:
                await asyncio.sleep(0.005)

    asyncio.run(run())
    print(json.dumps(marks))


def measure_startup(runs: int) -> dict[str, list[float]]:
    """Medians' inputs: frame, home (forked reader), ready, home_1p (one process) and
    bare (a bare Textual app's first frame), run in alternation so all see the same
    machine load."""
    home = Path(tempfile.mkdtemp(prefix="bench-console-"))
    env = child_env(home)

    def child(*args: str) -> dict[str, float]:
        proc = subprocess.run([sys.executable, __file__, *args], env=env,
                              capture_output=True, text=True, timeout=120, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    ours = ("--child-first-frame", str(home))
    child(*ours, "--seed")
    out: dict[str, list[float]] = {"frame": [], "home": [], "ready": [], "home_1p": [],
                                   "bare": []}
    for _ in range(runs):
        marks = child(*ours)
        for k in ("frame", "home", "ready"):
            out[k].append(marks[k])
        out["home_1p"].append(child(*ours, "--no-fork")["home"])
        out["bare"].append(child("--child-bare-frame")["frame"])
    return out


# ---- key latency -------------------------------------------------------------------------

async def key_latencies(app, keys: int) -> list[float]:
    from textual import events

    from incident.console.widgets.incident import StepList

    frames: list[float] = []
    original = app._display

    def display(screen, renderable):
        if renderable is not None:
            frames.append(time.perf_counter())
        return original(screen, renderable)

    app._display = display
    steps = app.screen.query_one("#steps", StepList)
    steps.focus()
    out: list[float] = []
    direction = "down"
    for i in range(keys):
        before = steps.highlighted
        t0 = time.perf_counter()
        key = events.Key(direction, None)
        key.set_sender(app)
        app._driver.send_message(key)
        changed_at = None
        deadline = t0 + 5
        while time.perf_counter() < deadline:
            await asyncio.sleep(0.0005)
            if changed_at is None and steps.highlighted != before:
                changed_at = time.perf_counter()
            if changed_at is not None and frames and frames[-1] >= changed_at:
                out.append(frames[-1] - t0)
                break
        if steps.highlighted in (None, 0, len(steps.options) - 1) or i % 15 == 14:
            direction = "up" if direction == "down" else "down"
        await asyncio.sleep(0.05)  # an officer's pace, not a key-repeat storm
    app._display = original
    return out


def measure_latency(keys: int) -> dict[str, object]:
    from incident.console import create_app
    from incident.runtime import Runtime

    tmp = Path(tempfile.mkdtemp(prefix="bench-console-"))
    os.environ["XDG_DATA_HOME"] = str(tmp / "xdg")
    rt = Runtime(_settings(tmp))
    result: dict[str, object] = {}

    async def run() -> None:
        app = create_app(rt, heartbeat=1.0, ui_state_path=tmp / "ui.json", keymap={},
                         dispatcher=True)
        async with app.run_test(size=(120, 36)) as pilot:
            while not app.ready:
                await asyncio.sleep(0.01)
            st = await asyncio.to_thread(rt.engine.start, "power_outage", "B5",
                                         actor="chen.jie")
            app.open_incident(st.id)
            for _ in range(100):
                await pilot.pause(0.05)
                if app.incident_screens() and app.screen.state is not None:
                    break
            result["idle"] = await key_latencies(app, max(20, keys // 4))
            await asyncio.to_thread(rt.engine.act, st.id, "outage_scope", actor="chen.jie",
                                    option="estate")
            t_send = time.perf_counter()
            done = await asyncio.to_thread(rt.engine.act, st.id, "short_notice_estate",
                                           actor="chen.jie")
            result["queue_s"] = time.perf_counter() - t_send
            result["queued"] = done.notifications["short_notice_estate"]["messages"]
            await pilot.pause(0.5)
            result["send"] = await key_latencies(app, keys)
            counts = await asyncio.to_thread(rt.store.outbox_counts, st.id)
            sent = sum(v.get("sent", 0) for (step, _ch), v in counts.items()
                       if step == "short_notice_estate")
            result["sent_during"] = sent
            result["dispatcher"] = app.dispatcher is not None

    asyncio.run(run())
    rt.close()
    return result


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms" if values else "     n/a"


def _worst(values: list[float]) -> str:
    return f"{max(values):7.3f} s"


def _p90(values: list[float]) -> str:
    if len(values) < 2:
        return "     n/a"
    return f"{statistics.quantiles(values, n=10)[-1] * 1000:7.1f} ms"


def main() -> None:
    if "--child-bare-frame" in sys.argv:
        bare_frame_child()
        return
    if "--child-first-frame" in sys.argv:
        first_frame_child(sys.argv[sys.argv.index("--child-first-frame") + 1],
                          "--seed" in sys.argv, "--no-fork" not in sys.argv)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="start-up runs (fresh processes)")
    ap.add_argument("--keys", type=int, default=120, help="keys measured during the send")
    ap.add_argument("--no-start", action="store_true",
                    help="skip home → first step of a fire (bench_console_start.py)")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "bench"))
    from bench_console_start import load, measure, print_rows

    print(f"before: {load()}")
    if not args.no_start:
        print_rows(measure(args.runs))
        print()
    start = measure_startup(args.runs)
    frames, home, ready, home_1p, bare = (start["frame"], start["home"], start["ready"],
                                          start["home_1p"], start["bare"])
    lat = measure_latency(args.keys)
    idle, send = lat["idle"], lat["send"]  # type: ignore[assignment]
    rows = [
        ("start-up: first frame", f"{statistics.median(frames):7.3f} s", _worst(frames),
         len(frames), "< 0.4 s", statistics.median(frames) < 0.4),
        ("  bare Textual app, same widgets (the floor)", f"{statistics.median(bare):7.3f} s",
         _worst(bare), len(bare), "", None),
        (f"  ratio ours / bare: {statistics.median(frames) / statistics.median(bare):.2f}×",
         "", "", len(bare), "", None),
        (f"start-up: home filled ({len(OPEN)} open, {CLOSED} closed)",
         f"{statistics.median(home):7.3f} s", _worst(home), len(home), "< 0.8 s",
         statistics.median(home) < 0.8),
        ("  … in one process (no fork: macOS, Windows)", f"{statistics.median(home_1p):7.3f} s",
         _worst(home_1p), len(home_1p), "", None),
        ("start-up: engine loaded (held keys replayed)", f"{statistics.median(ready):7.3f} s",
         _worst(ready), len(ready), "", None),
        ("key → screen, idle", _ms(idle), _p90(idle), len(idle), "", None),
        (f"key → screen, {lat['queued']}-recipient send", _ms(send), _p90(send), len(send),
         "< 50 ms", bool(send) and statistics.median(send) < 0.050),
    ]
    print(f"{'measure':<44} {'median':>10} {'p90/worst':>10} {'n':>4}  target   ok")
    print("-" * 82)
    for name, med, p90, n, target, ok in rows:
        mark = "" if ok is None else ("yes" if ok else "NO")
        print(f"{name:<44} {med:>10} {p90:>10} {n:>4}  {target:<8} {mark}")
    print("-" * 82)
    print(f"queueing the send (engine.act, outbox rows written): {lat['queue_s']:.2f} s; "
          f"messages sent by the background dispatcher while keys were measured: "
          f"{lat['sent_during']}/{lat['queued']} (dispatcher running: {lat['dispatcher']})")
    print(f"after:  {load()}")


if __name__ == "__main__":
    main()
