"""What the duty officer sees, kept as SVG snapshots: the home, start and incident
screens at 80x24 and 160x45, in English and Chinese (12 snapshots in tests/snapshots/).

Deterministic by construction: the runtime's clock is a ManualClock (every countdown,
elapsed time and timestamp comes from it), the store is a fresh SQLite file in a temp
folder (incident ids INC-260105-0001… follow), no dispatcher or heartbeat thread runs,
input cursors do not blink, and the frame is taken only once two frames in a row agree.

Regenerate after a deliberate change:  INCIDENT_SNAPSHOT_UPDATE=1 .venv/bin/pytest
tests/test_console_snapshots.py -q   (see tests/snapshot_compare.py)
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from snapshot_compare import compare, update_requested
from test_console import T0, build, make_runtime, run, settle

from incident.clock import ManualClock

SIZES = {"80x24": (80, 24), "160x45": (160, 45)}
LANGS = ("en", "zh")


def prepared_runtime(tmp_path, lang: str):
    """Three incidents of a night at Lakeside Garden, four minutes after the fire alarm:
    a fire (steps due, one overdue), a lift entrapment, a pipe burst already resolved."""
    clock = ManualClock(T0 - timedelta(minutes=30))
    rt = make_runtime(tmp_path / "incident.db", clock=clock, lang=lang)
    eng = rt.engine
    leak = eng.start("pipe_burst", "B2-301", actor="chen.jie").id
    clock.advance("12m")
    eng.resolve(leak, actor="chen.jie", summary="valve closed, mopped up", force=True)
    clock.set(T0)
    fire = eng.start("fire", "B3-1201", actor="chen.jie").id
    clock.advance("1m")
    eng.start("elevator_entrapment", "B5", actor="chen.jie")
    clock.advance("3m")
    eng.tick()
    return rt, fire


async def steady(pilot, tries: int = 10) -> None:
    """Settle until two frames in a row are the same (no animation, no late worker)."""
    from textual.widgets import Input

    app = pilot.app
    last = None
    for _ in range(tries):
        await settle(pilot)
        for field in app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        frame = app.export_screenshot()
        if frame == last:
            return
        last = frame


async def show_home(pilot, fire: str) -> None:
    await steady(pilot)


async def show_start(pilot, fire: str) -> None:
    """The start line with a full proposal: an open fire in B3 is offered for joining."""
    await pilot.press("n")
    await settle(pilot)
    await pilot.press(*"fire", "space", "B", "3", "minus", *"1201", "enter")
    await steady(pilot)


async def show_incident(pilot, fire: str) -> None:
    pilot.app.open_incident(fire)
    await steady(pilot)


SCREENS = {"home": show_home, "start": show_start, "incident": show_incident}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", SCREENS)
def test_console_snapshot(screen, size, lang, tmp_path, request):
    rt, fire = prepared_runtime(tmp_path, lang)

    async def go():
        app = build(rt, tmp_path, dispatcher=False, restore=False)
        async with app.run_test(size=SIZES[size]) as pilot:
            await settle(pilot)
            assert app.ready
            await SCREENS[screen](pilot, fire)
            compare(app, f"{screen}-{size}-{lang}", f"{screen} screen at {size} in {lang}",
                    update_requested(request.config))

    try:
        run(go())
    finally:
        rt.close()
