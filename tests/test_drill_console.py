"""`incident drill SCENARIO` opens the console on the drill; injects reach its timeline."""

from __future__ import annotations

import asyncio
from pathlib import Path

from incident.cli_drill import console_app
from incident.clock import ManualClock
from incident.config import load_settings
from incident.drill import install, load_scenario, start_drill
from incident.engine import events as ev
from incident.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent


def test_console_opens_on_the_drill_and_shows_injects(sqlite_url, tmp_path):
    clock = ManualClock()
    rt = Runtime(load_settings(database_url=sqlite_url, user="chen.jie"), clock=clock)
    install(rt.engine)
    loaded = load_scenario(REPO / "playbooks" / "drills" / "b3_fire_evacuation.yaml",
                           rt.playbooks, rt.directory, rt.channel_names)
    iid = start_drill(rt.engine, loaded, speed=10).id
    app = console_app(rt, iid, heartbeat=0, ui_state_path=tmp_path / "ui.json", keymap={})

    async def go() -> None:
        from incident.console.screens.incident import IncidentScreen

        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(8):
                await app.workers.wait_for_complete()
                await pilot.pause()
            assert isinstance(app.screen, IncidentScreen) and app.screen.incident_id == iid
            assert "DRILL" in str(app.screen.query_one("#inc-header").content)
            clock.advance("4m")
            app.poke()  # what the heartbeat does: tick, then reload
            for _ in range(8):
                await app.workers.wait_for_complete()
                await pilot.pause()
            injects = rt.store.events(iid, kinds=[ev.DRILL_INJECT])
            assert [e.payload["inject"] for e in injects] == ["smoke_13f"]
            assert app.dispatcher is None  # the drill command runs the sandbox dispatcher

    try:
        asyncio.run(go())
    finally:
        rt.close()


def test_each_inject_opens_with_its_detail_and_expected_response(sqlite_url, tmp_path):
    from textual.widgets import Static

    from incident.console.screens.dialogs import InjectModal

    clock = ManualClock()
    rt = Runtime(load_settings(database_url=sqlite_url, user="chen.jie"), clock=clock)
    install(rt.engine)
    loaded = load_scenario(REPO / "playbooks" / "drills" / "b3_fire_evacuation.yaml",
                           rt.playbooks, rt.directory, rt.channel_names)
    iid = start_drill(rt.engine, loaded, speed=10).id
    app = console_app(rt, iid, heartbeat=0, ui_state_path=tmp_path / "ui.json", keymap={})

    def text(screen, wid: str) -> str:
        return str(screen.query_one(wid, Static).content)

    async def settle(pilot) -> None:
        for _ in range(8):
            await app.workers.wait_for_complete()
            await pilot.pause()

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            assert not isinstance(app.screen, InjectModal)  # nothing has arrived yet
            clock.advance("4m")
            app.poke()
            await settle(pilot)
            modal = app.screen
            assert isinstance(modal, InjectModal)
            assert text(modal, "#inject-title") == "DRILL INJECT · T+4m"
            assert text(modal, "#inject-headline") == "Smoke reported on floor 13"
            assert "smoke is coming from under the door of 1302" in text(modal,
                                                                         "#inject-detail")
            assert text(modal, "#inject-expect").startswith("Fire details recorded; 14F")
            await pilot.press("enter")
            await pilot.pause()
            assert not isinstance(app.screen, InjectModal)

            # two at once (T+7m and T+9m), in Chinese: one over the other, latest on top
            app.lang = "zh"
            clock.advance("5m")
            app.poke()
            await settle(pilot)
            top = app.screen
            assert isinstance(top, InjectModal)
            assert text(top, "#inject-title") == "演练注入 · T+9m"
            assert text(top, "#inject-headline") == "短信网关故障"
            assert text(top, "#inject-fault") == "渠道故障：sms不可用，持续10m（演练沙箱）"
            assert "预期处置" in [str(w.content) for w in top.query(".dialog-description")]
            await pilot.press("escape")
            await pilot.pause()
            below = app.screen
            assert isinstance(below, InjectModal)
            assert text(below, "#inject-headline") == "住户报告父亲失联"
            assert "82岁" in text(below, "#inject-detail")
            await pilot.press("enter")
            await pilot.pause()
            assert not isinstance(app.screen, InjectModal)

    try:
        asyncio.run(go())
    finally:
        rt.close()
