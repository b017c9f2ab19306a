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
