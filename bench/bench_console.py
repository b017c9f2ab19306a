"""Console benchmark: keystrokes and seconds from home to the first step of a fire
(bench_console_start.py), start-up to the first frame and to the home filled, and
key-to-screen latency while a 2,000-recipient send runs in the background. Prints
plain tables of medians and the machine's load before and after.

    .venv/bin/python bench/bench_console.py [--runs 5] [--keys 120]

Start-up is measured in fresh processes (imports included) from before
`import incident.console` to the first frame the app renders. Latency is measured
in a headless app (120x36): a key is sent through the driver exactly as a
terminal would, and the clock stops at the first frame rendered after the key
changed what is on screen (the highlighted step and its card). The send is the
power-outage "short notice to all owners" step (~2,000 recipients) delivered by
the console's own dispatcher to the local sink. Targets: first frame < 1 s,
median key latency < 50 ms during the send.
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


def _settings(tmp: Path):
    from incident.config import Settings

    return Settings(database_url=f"sqlite:///{tmp / 'incident.db'}", user="chen.jie",
                    playbooks_dir=REPO / "playbooks", contacts_dir=REPO / "contacts")


# ---- start-up ---------------------------------------------------------------------------

def first_frame_child(folder: str) -> None:
    """Run in a fresh process: print seconds to the first frame and to data loaded.

    The database in `folder` is the one an officer's console opens every night: made
    (schema created) by the untimed first run, then only opened."""
    t0 = time.perf_counter()
    from incident.console import create_app
    from incident.runtime import Runtime

    tmp = Path(folder)
    rt = Runtime(_settings(tmp))
    app = create_app(rt, heartbeat=0, ui_state_path=tmp / "ui.json", keymap={},
                     dispatcher=False)
    marks: dict[str, float] = {}
    original = app._display

    def display(screen, renderable):
        if renderable is not None and "frame" not in marks:
            marks["frame"] = time.perf_counter() - t0
        return original(screen, renderable)

    app._display = display  # type: ignore[method-assign]

    async def run() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            while not app.ready:
                await asyncio.sleep(0.005)
            marks["ready"] = time.perf_counter() - t0
            await pilot.pause()

    asyncio.run(run())
    rt.close()
    print(json.dumps(marks))


def measure_startup(runs: int) -> tuple[list[float], list[float]]:
    frames, ready = [], []
    env = {**os.environ, "XDG_DATA_HOME": tempfile.mkdtemp(prefix="bench-xdg-")}
    folder = tempfile.mkdtemp(prefix="bench-console-")
    for i in range(runs + 1):  # the first, untimed, creates the database and the caches
        out = subprocess.run([sys.executable, __file__, "--child-first-frame", folder],
                             env=env, capture_output=True, text=True, timeout=120, check=True)
        if i == 0:
            continue
        marks = json.loads(out.stdout.strip().splitlines()[-1])
        frames.append(marks["frame"])
        ready.append(marks["ready"])
    return frames, ready


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


def _p90(values: list[float]) -> str:
    if len(values) < 2:
        return "     n/a"
    return f"{statistics.quantiles(values, n=10)[-1] * 1000:7.1f} ms"


def main() -> None:
    if "--child-first-frame" in sys.argv:
        first_frame_child(sys.argv[sys.argv.index("--child-first-frame") + 1])
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
    frames, ready = measure_startup(args.runs)
    lat = measure_latency(args.keys)
    idle, send = lat["idle"], lat["send"]  # type: ignore[assignment]
    rows = [
        ("start-up: first frame", f"{statistics.median(frames):7.3f} s", "", len(frames),
         "< 1 s", statistics.median(frames) < 1.0),
        ("start-up: home filled (data loaded)", f"{statistics.median(ready):7.3f} s", "",
         len(ready), "", None),
        ("key → screen, idle", _ms(idle), _p90(idle), len(idle), "", None),
        (f"key → screen, {lat['queued']}-recipient send", _ms(send), _p90(send), len(send),
         "< 50 ms", bool(send) and statistics.median(send) < 0.050),
    ]
    print(f"{'measure':<44} {'median':>10} {'p90':>10} {'n':>4}  target   ok")
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
