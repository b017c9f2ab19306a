"""Drill ratings come from evaluators, not players; the report names who rated each
objective, a problem rating is styled, and an overdue plan item is flagged."""

from __future__ import annotations

import json

import pytest
from test_drill import _load, rt  # noqa: F401  (the fixture)

from incident.drill import add_plan, build_aar, rate, render_aar, run_auto
from incident.drill import events as dev
from incident.errors import Refused


def test_only_evaluators_rate_and_the_report_names_them(rt):  # noqa: F811
    iid = run_auto(rt.engine, _load(rt), rt.clock).incident_id
    # the lead and a participant played; a staff member who is not an evaluator is refused
    for player in ("chen.jie", "cao.zhiyong"):
        with pytest.raises(Refused, match="played in this drill"):
            rate(rt.engine, iid, "call_119", "P", actor=player)
    with pytest.raises(Refused, match="not an evaluator of scenario 'b3_fire_evacuation'"):
        rate(rt.engine, iid, "call_119", "P", actor="song.hui")
    assert not rt.store.events(iid, kinds=[dev.DRILL_RATED])
    rate(rt.engine, iid, "roll_call", "M", actor="tang.wei", comment="list incomplete")
    add_plan(rt.engine, iid, issue="Old list", action="Reprint the warden cards",
             owner="cao.zhiyong", due="2020-01-31", actor="han.xue")
    add_plan(rt.engine, iid, issue="Radio", action="Buy spare batteries",
             owner="cao.zhiyong", due="2099-01-31", actor="han.xue")
    a = build_aar(rt.store, rt.playbooks, rt.directory, iid, now=rt.clock.now())
    md = render_aar(a, "md")
    row = next(x for x in md.splitlines() if "list incomplete" in x)
    assert row.rstrip(" |").endswith("Tang Wei")
    assert "suggested (not yet rated)" in md  # the objectives nobody rated
    day = rt.clock.now().astimezone(rt.directory.timezone).date().isoformat()
    assert f"| IP1 | — | Old list | Reprint the warden cards | Cao Zhiyong | {day} | " \
           "2020-01-31 | OVERDUE |" in md
    assert "| 2099-01-31 | open |" in md
    html = render_aar(a, "html")
    assert '<td class="rating bad"><b>M</b></td>' in html
    assert ".rating.warn{" in html and ".rating.bad{" in html
    assert '<td class="overdue">OVERDUE</td>' in html
    plan = json.loads(render_aar(a, "json"))["plan"]
    assert [p["overdue"] for p in plan] == [True, False]


def test_auto_drill_runs_on_the_configured_clock(db_url):
    from click.testing import CliRunner

    from incident.cli import main

    res = CliRunner().invoke(main, ["--db", db_url, "--as", "tang.wei", "drill",
                                    "elevator_rescue", "--auto"],
                             env={"INCIDENT_CLOCK": "fixed:2026-03-02T02:00:00+00:00"})
    assert res.exit_code == 0, res.output
    iid = res.output.splitlines()[0]
    assert iid.startswith("INC-260302-")  # the fixed day, not today
    js = CliRunner().invoke(main, ["--db", db_url, "report", iid, "--format", "json"],
                            env={"INCIDENT_CLOCK": "fixed:2026-03-02T05:00:00+00:00"})
    assert json.loads(js.output)["summary"]["started_at"] == "2026-03-02T02:00:00+00:00"


def test_a_recorded_value_keeps_its_commas_inside_brackets(rt):  # noqa: F811
    from incident.engine.service import split_list

    assert split_list("B3-1505 Wang Jianguo (82, walker) — found on 15F") == \
        ["B3-1505 Wang Jianguo (82, walker) — found on 15F"]
    assert split_list("1201，1202、1203; 1204（老人, 独居）") == \
        ["1201", "1202", "1203", "1204（老人, 独居）"]
    iid = run_auto(rt.engine, _load(rt), rt.clock).incident_id
    st = rt.engine.state(iid)
    assert st.values["missing"] == ["B3-1505 Wang Jianguo (82, walker) — found by the guard "
                                    "on 15F"]


def test_each_inject_shows_the_observed_response_next_to_the_expected(rt):  # noqa: F811
    iid = run_auto(rt.engine, _load(rt), rt.clock).incident_id
    a = build_aar(rt.store, rt.playbooks, rt.directory, iid, now=rt.clock.now())
    data = json.loads(render_aar(a, "json"))["injects"]
    smoke = next(i for i in data if i["id"] == "smoke_13f")
    assert smoke["expected"] and smoke["observed"] is not None
    assert smoke["observed"]["after_s"] >= 0 and smoke["observed"]["who"] != "System"
    md = render_aar(a, "md")
    assert "| Observed response (first action after it) |" in md
    row = next(x for x in md.splitlines() if "Smoke reported on floor 13" in x)
    assert f"| +{smoke['observed']['after_s'] // 60:.0f}m" in row


def test_plan_items_have_status_and_carry_over_into_the_next_run(rt):  # noqa: F811
    from datetime import timedelta

    from incident.drill import set_plan_status

    first = run_auto(rt.engine, _load(rt), rt.clock).incident_id
    add_plan(rt.engine, first, issue="Wardens unsure of the assembly point",
             action="Walk every warden to the North Plaza", owner="cao.zhiyong",
             due="2026-02-28", start="2026-01-10", capability="Mass care services",
             actor="han.xue")
    add_plan(rt.engine, first, issue="Radio batteries flat", action="Buy spares",
             owner="cao.zhiyong", due="2026-02-28", actor="han.xue")
    with pytest.raises(Refused, match="did you mean 'IP2'"):
        set_plan_status(rt.engine, first, "IP3", "done", actor="han.xue")
    set_plan_status(rt.engine, first, "IP2", "done", actor="han.xue")
    with pytest.raises(Refused, match="start 2026-03-01 is after the due date"):
        add_plan(rt.engine, first, issue="x", action="y", owner="cao.zhiyong",
                 due="2026-02-28", start="2026-03-01", actor="han.xue")
    rt.clock.advance(timedelta(days=90))
    second = run_auto(rt.engine, _load(rt), rt.clock).incident_id
    a = build_aar(rt.store, rt.playbooks, rt.directory, second, now=rt.clock.now())
    md = render_aar(a, "md")
    assert (f"| {first}/IP1 (carried over) | Mass care services | Wardens unsure of the "
            "assembly point | Walk every warden to the North Plaza | Cao Zhiyong | "
            "2026-01-10 | 2026-02-28 | OVERDUE |") in md
    assert "Radio batteries flat" not in md  # done: not carried over
    data = json.loads(render_aar(a, "json"))
    assert [(c["drill"], c["item"], c["status"]) for c in data["carried_over"]] == \
        [(first, "IP1", "open")]


def test_aar_groups_by_core_capability_with_observations(rt):  # noqa: F811
    from incident.drill import add_note

    iid = run_auto(rt.engine, _load(rt), rt.clock).incident_id
    add_note(rt.engine, iid, "improvement", "Wardens on 14-16F did not know the assembly point",
             actor="han.xue", capability="Mass Search and Rescue Operations",
             analysis="The warden card names no assembly point",
             recommendation="Print the North Plaza on every warden card")
    a = build_aar(rt.store, rt.playbooks, rt.directory, iid, now=rt.clock.now())
    md = render_aar(a, "md")
    assert "## Core capabilities" in md
    assert "| Mission areas | Response |" in md and "| Point of contact | Han Xue |" in md
    assert "| Exercise scope | Played: the control room" in md
    row = next(x for x in md.splitlines() if x.startswith("| Mass Search and Rescue Operations"))
    by = {s.id: s for s in a.drill.scores}
    assert f"| {by['roll_call'].rating} | 0 | 1 |" in row
    assert "| Public Information and Warning | Evacuation broadcast within 3 minutes; " \
           "Fire-zone owners warned within 6 minutes |" in md
    assert ("Mass Search and Rescue Operations\\] Wardens on 14-16F did not know the "
            "assembly point Analysis: The warden card names no assembly point Recommendation: "
            "Print the North Plaza on every warden card") in md


def test_an_objective_step_left_to_the_default_delay_is_flagged(rt):  # noqa: F811
    from test_drill import FIRE

    text = FIRE.read_text(encoding="utf-8")
    start = text.index("    missing_list: {after: 6m")
    text = text[:start] + text[text.index("\n", start) + 1:]
    loaded = _load(rt, text=text)
    msgs = [str(w) for w in loaded.warnings]
    assert any("objective 'roll_call' measures step 'missing_list', which the script does "
               "not time" in m and "add responses.steps.missing_list" in m for m in msgs), msgs
