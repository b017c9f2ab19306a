"""Drill on a fixed clock (the issue's test): the dates come from INCIDENT_CLOCK, pages go
to the scenario's participants and never to whoever the rota has on duty, the timeline
is in order with each inject at its scripted time, and only evaluators rate."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from itertools import pairwise

from click.testing import CliRunner
from test_drill import FIRE

from incident.cli import main
from incident.clock import ManualClock
from incident.config import load_settings
from incident.drill import load_scenario
from incident.engine import events as ev
from incident.escalation.resolve import rostered
from incident.runtime import Runtime

NIGHT = "2026-03-02T15:00:00+00:00"  # 23:00 in Shanghai: the night shift is on the rota


def _cli(db_url: str, *args: str, user: str = "chen.jie", at: str = NIGHT):
    return CliRunner().invoke(main, ["--db", db_url, "--as", user, *args],
                              env={"INCIDENT_CLOCK": f"fixed:{at}"})


def test_drill_on_a_fixed_clock(db_url):
    res = _cli(db_url, "drill", "b3_fire_evacuation", "--auto")
    assert res.exit_code == 0, res.output
    iid = res.output.splitlines()[0]
    assert iid.startswith("INC-260302-")  # the fixed day, not today

    start = datetime.fromisoformat(NIGHT)
    rt = Runtime(load_settings(database_url=db_url), clock=ManualClock(start))
    try:
        sc = load_scenario(FIRE, rt.playbooks, rt.directory, rt.channel_names).scenario
        players = {p.person for p in sc.participants}
        st = rt.engine.state(iid)
        assert st.started_at == start and st.drill

        # pages: the scenario's players only; the rota's night shift is left alone
        on_duty = {p.id for role in ("duty_officer", "cs_specialist", "security_supervisor")
                   for p in rostered(rt.directory, role, start)}
        assert on_duty - players, "the rota must have someone who is not playing"
        pages = rt.store.events(iid, kinds=[ev.PAGE_SENT])
        paged = {who for e in pages for who in e.payload["to"]}
        assert pages and paged <= players
        assert {"chen.jie", "lin.fang", "cao.zhiyong"} <= paged
        rows = [r for r in rt.store.outbox_rows(iid) if r.step_id.startswith("escalation:")]
        assert rows and {r.person_id for r in rows} <= players
        skipped = rt.store.events(iid, kinds=[ev.ESCALATION_SKIPPED])
        assert any("nobody plays security_supervisor in drill scenario 'b3_fire_evacuation'"
                   in e.payload["reason"] for e in skipped)

        # ordering: the log's times never go back; injects arrive in order at T+at
        events = rt.store.events(iid)
        assert [e.seq for e in events] == sorted(e.seq for e in events)
        assert all(a.ts <= b.ts for a, b in pairwise(events))
        injects = rt.store.events(iid, kinds=[ev.DRILL_INJECT])
        assert [(e.payload["inject"]["id"] if isinstance(e.payload.get("inject"), dict)
                 else e.payload.get("id") or e.payload.get("inject"), e.ts - start)
                for e in injects] == [(i.id, i.at) for i in sorted(sc.injects, key=lambda i: i.at)]
        done = {e.payload["step"]: e.ts for e in rt.store.events(iid, kinds=[ev.STEP_DONE])}
        assert done["call_119"] < done["meet_brigade"]
        assert done["meet_brigade"] >= start + timedelta(minutes=12)  # after the engines came
    finally:
        rt.close()

    # ratings: players are refused, evaluators rate and are named
    later = "2026-03-02T16:00:00+00:00"
    for player in ("chen.jie", "cao.zhiyong"):
        res = _cli(db_url, "drill", "rate", iid, "call_119", "P", user=player, at=later)
        assert res.exit_code != 0 and "played in this drill" in res.output
    res = _cli(db_url, "drill", "rate", iid, "call_119", "S", "--comment", "slow pick-up",
               user="han.xue", at=later)
    assert res.exit_code == 0, res.output
    res = _cli(db_url, "drill", "report", iid, "--format", "json", at=later)
    assert res.exit_code == 0, res.output
    aar = json.loads(res.output[res.output.index("{"):])
    assert aar["started_at"] == NIGHT
    assert {p["person"] for p in aar["participants"]} == players
    assert aar["evaluators"] == ["han.xue", "tang.wei"]
    rated = {o["id"]: o["override"] for o in aar["objectives"] if o["override"]}
    assert list(rated) == ["call_119"] and rated["call_119"]["by"] == "han.xue"
    assert rated["call_119"]["ts"].startswith("2026-03-02T16:00")
    md = _cli(db_url, "drill", "report", iid, at=later).output
    assert "Han Xue" in next(line for line in md.splitlines() if "slow pick-up" in line)
