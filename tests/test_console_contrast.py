"""WCAG AA contrast of every visual state, in both themes (the default and F3's high
contrast), measured on the frames Textual actually draws (incident/console/contrast.py).

One night's work is set up through the engine (a live fire with done, skipped, due-soon
and overdue steps, messages delivered, waiting and failed; a drill; a resolved
incident), then the console is walked through each state and every run of text on
screen must reach 4.5:1 against its own background.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from test_console import T0, build, make_runtime, run, settle

from incident.clock import ManualClock
from incident.console.contrast import AA_TEXT, Run, contrast, findings, screen_text_colours

THEMES = ("incident-dark", "incident-high-contrast")
drawn: list[str] = []  # the text of every state scanned (of the current theme)


# ---- the contrast function itself --------------------------------------------------------

def test_contrast_ratio_matches_wcag_reference_values():
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast((255, 255, 255), (255, 255, 255)) == pytest.approx(1.0)
    assert contrast((118, 118, 118), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)
    assert contrast((255, 0, 0), (0, 0, 255)) == pytest.approx(2.15, abs=0.01)  # red on blue


def test_a_deliberately_poor_pair_is_caught():
    good = Run("Overdue 2", (255, 255, 255), (0, 0, 0), False)
    red_on_blue = Run("!! 03:00", (255, 0, 0), (0, 0, 255), True)
    grey_on_grey = Run("waiting", (119, 119, 119), (68, 68, 68), False)
    bad = findings([good, red_on_blue, grey_on_grey])
    assert bad == [red_on_blue, grey_on_grey]
    assert all(r.ratio < AA_TEXT for r in bad)
    assert "#ff0000 on #0000ff = 2.15:1" in red_on_blue.describe()


# ---- every state on screen, both themes ---------------------------------------------------

def night(tmp_path):
    """A live fire 4 minutes in: done, skipped, due soon, overdue; messages delivered,
    waiting and failed; a drill; a resolved incident."""
    clock = ManualClock(T0 - timedelta(minutes=30))
    rt = make_runtime(tmp_path / "incident.db", clock=clock)
    eng = rt.engine
    leak = eng.start("pipe_burst", "B2-301", actor="chen.jie").id
    clock.advance("10m")
    eng.resolve(leak, actor="chen.jie", summary="valve closed", force=True)
    clock.set(T0)
    fire = eng.start("fire", "B3-1201", actor="chen.jie").id
    clock.advance("30s")
    eng.act(fire, "confirm_alarm", actor="chen.jie", option="real_fire")
    eng.act(fire, "call_119", actor="chen.jie")
    eng.act(fire, "linkage_auto", actor="chen.jie", action="skip", reason="already automatic")
    drill = eng.start("elevator_entrapment", "B5", actor="chen.jie", drill=True).id
    clock.advance("30s")
    eng.act(fire, "notify_fire_floors", actor="chen.jie")  # queues the owners' SMS
    eng.act(fire, "notify_vulnerable", actor="chen.jie")
    clock.advance("90s")
    eng.tick()
    # messages: one notify step all sent; one with a failure, one waiting, the rest sent;
    # pages wait (as for a dispatcher that has not got to them)
    store = rt.store
    now = clock.now()
    rows = store.claim_outbox("contrast", now, 1000, timedelta(minutes=5), incident_id=fire)
    seen: dict[str, int] = {}
    for row in rows:
        n = seen[row.step_id] = seen.get(row.step_id, 0) + 1
        status = "sent" if row.step_id == "notify_fire_floors" else \
            {1: "failed_permanent", 2: "failed_temporary"}.get(n, "sent") \
            if row.step_id == "notify_vulnerable" else "failed_temporary"
        store.finish_attempt(row.id, worker="contrast", status=status, started_at=now,
                             elapsed_ms=5.0, error=None if status == "sent" else "rejected",
                             now=now, next_attempt_at=now + timedelta(hours=1)
                             if status == "failed_temporary" else None)
    clock.advance("30s")
    return rt, fire, drill, leak


async def scan(pilot, state: str, failures: list[str], seen: set[str],
               shows: str = "") -> None:
    await settle(pilot)
    await pilot.pause()
    app = pilot.app
    from textual.screen import ModalScreen

    region = None
    if isinstance(app.screen, ModalScreen):  # its own text; the screen behind is dimmed
        own = [c for c in app.screen.children if not (c.id or "").startswith("textual-")]
        region = own[0].region if own else None
    runs = screen_text_colours(app, region)
    assert runs, f"nothing drawn in state {state}"
    text = "".join(r.text for r in runs)
    assert shows in text, f"{state}: {shows!r} is not on screen"
    drawn.append(text)
    seen.add(state)
    for r in findings(runs):
        failures.append(f"[{app.theme}] {state}: {r.describe()}")


async def walk(pilot, fire: str, drill: str, leak: str, failures: list[str],
               seen: set[str]) -> None:
    from incident.console.widgets.incident import StepList

    app: Any = pilot.app
    await scan(pilot, "home (header, footer, selected row)", failures, seen)
    for severity in ("information", "warning", "error"):
        app.notify(f"toast {severity}", title="Title", severity=severity, timeout=60)
    await scan(pilot, "toasts", failures, seen, "toast error")
    drawn.clear()
    app.clear_notifications()

    await pilot.press("n")
    await settle(pilot)
    await pilot.press(*"fire", "space", "B", "3", "minus", *"1201", "enter")
    await scan(pilot, "start screen with a proposal and a join offer", failures, seen)
    await pilot.press("escape")
    await settle(pilot)

    app.open_incident(fire)
    await scan(pilot, "incident: selected overdue step, focused list, timers", failures, seen)
    steps = app.screen.query_one("#steps", StepList)
    for i in range(steps.option_count):  # every row selected in turn: done, skipped, due…
        if not steps.get_option_at_index(i).disabled:
            steps.highlighted = i
            await scan(pilot, f"incident: row {i} selected", failures, seen)
    for sid in ("notify_fire_floors", "notify_vulnerable", "notify_building"):
        steps.go_to(sid)  # cards of steps whose messages were sent, failed, or wait
        await scan(pilot, f"incident: card of {sid}", failures, seen)
    for panel in ("messages", "escalation", "timeline"):
        await pilot.press("right_square_bracket")
        await scan(pilot, f"incident: {panel} panel", failures, seen)
    await pilot.press("r")
    await scan(pilot, "resolve dialog", failures, seen)
    await pilot.press("tab")
    await scan(pilot, "resolve dialog, checkbox focused", failures, seen)
    await pilot.press("escape")
    await pilot.press("question_mark")
    await scan(pilot, "help overlay", failures, seen)
    await pilot.press("escape")
    app.open_incident(drill)
    await scan(pilot, "drill incident (drill marker)", failures, seen)
    app.open_incident(leak)
    await scan(pilot, "resolved incident", failures, seen)
    everything = "\n".join(drawn)
    # the states were really drawn: done, skipped, due soon, overdue, each delivery state
    for words in ("Done by", "Skipped by", "!! ", "LIVE", "DRILL", "RESOLVED", "failed",
                  "waiting", "Timeline", "Resolve", "Overdue"):
        assert words in everything, f"no state showed {words!r}"


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_every_state_meets_wcag_aa_in_both_themes(tmp_path, size):
    rt, fire, drill, leak = night(tmp_path)
    failures: list[str] = []
    seen: set[str] = set()

    async def go():
        for theme in THEMES:
            app = build(rt, tmp_path, dispatcher=False, restore=False)
            async with app.run_test(size=size, notifications=True) as pilot:
                await settle(pilot)
                app.theme = theme
                await walk(pilot, fire, drill, leak, failures, seen)

    try:
        run(go())
    finally:
        rt.close()
    assert len(seen) > 20
    import os

    if os.environ.get("H14_DUMP"):
        Path(os.environ["H14_DUMP"]).write_text("\n".join(failures), encoding="utf-8")
    assert not failures, f"{len(failures)} text runs below {AA_TEXT}:1:\n" + \
        "\n".join(failures)
